// AdamW, schedules and gradient clipping; see optimizer.hpp.
#include "model/optimizer.hpp"


#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <stdexcept>

namespace toolgrpo::model {

AdamW::AdamW(std::vector<at::Tensor> params, AdamWConfig cfg) : params_(std::move(params)), cfg_(cfg) {
  for (const auto& p : params_) {
    m_.push_back(at::zeros_like(p, at::TensorOptions().dtype(at::kFloat)));
    v_.push_back(at::zeros_like(p, at::TensorOptions().dtype(at::kFloat)));
  }
}

void adamw_apply(const at::Tensor& p, const at::Tensor& g_in, const at::Tensor& m, const at::Tensor& v,
                 double lr, const AdamWConfig& cfg, double bc1, double bc2) {
  const at::Tensor g = g_in.to(at::kFloat);
  at::Tensor master = p.to(at::kFloat);
  master.mul_(1 - lr * cfg.weight_decay);
  m.mul_(cfg.beta1).add_(g, 1 - cfg.beta1);
  v.mul_(cfg.beta2).addcmul_(g, g, 1 - cfg.beta2);
  const at::Tensor denom = (v / bc2).sqrt_().add_(cfg.eps);
  master.addcdiv_(m, denom, -lr / bc1);
  if (master.data_ptr() != p.data_ptr()) p.copy_(master);
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++step_;
  const double bc1 = 1 - std::pow(cfg_.beta1, static_cast<double>(step_));
  const double bc2 = 1 - std::pow(cfg_.beta2, static_cast<double>(step_));
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (params_[i].grad().defined())
      adamw_apply(params_[i], params_[i].grad(), m_[i], v_[i], lr, cfg_, bc1, bc2);
}

void AdamW::zero_grad() {
  for (auto& p : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

double lr_at(LrSchedule schedule, double base_lr, int64_t step, int64_t warmup_steps, int64_t total) {
  const double warm = warmup_steps > 0 && step < warmup_steps ? static_cast<double>(step + 1) / static_cast<double>(warmup_steps) : 1.0;
  switch (schedule) {
    case LrSchedule::Constant: return base_lr;
    case LrSchedule::Warmup: return base_lr * warm;
    case LrSchedule::Cosine: {
      if (step < warmup_steps) return base_lr * warm;
      const double span = static_cast<double>(std::max<int64_t>(1, total - warmup_steps));
      const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
      return base_lr * 0.5 * (1 + std::cos(M_PI * progress));
    }
  }
  throw std::invalid_argument("lr_at: not a schedule");
}

double sum_of_squares(const at::Tensor& t) {
  at::NoGradGuard no_grad;
  constexpr int64_t kChunk = int64_t{1} << 20;  // 8 MB of doubles at a time, however large the tensor
  const at::Tensor flat = t.reshape({-1});
  double sq = 0;
  for (int64_t i = 0; i < flat.numel(); i += kChunk)
    sq += flat.narrow(0, i, std::min(kChunk, flat.numel() - i)).to(at::kDouble).pow(2).sum().item<double>();
  return sq;
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  double sq = 0;
  for (const auto& p : params)
    if (p.grad().defined()) sq += sum_of_squares(p.grad());
  const double norm = std::sqrt(sq);
  const double scale = clip_coefficient(norm, max_norm);
  if (scale != 1.0)
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(scale);
  return norm;
}

double clip_coefficient(double norm, double max_norm) {
  return max_norm > 0 && norm > max_norm ? max_norm / (norm + 1e-6) : 1.0;
}

}  // namespace toolgrpo::model
