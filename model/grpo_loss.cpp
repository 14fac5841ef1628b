// GRPO loss math; see grpo_loss.hpp.
#include "model/grpo_loss.hpp"


#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <stdexcept>

namespace toolgrpo::model {

at::Tensor kl_penalty(const at::Tensor& logp, const at::Tensor& ref_logp, KlEstimator kind) {
  const at::Tensor d = logp - ref_logp;
  switch (kind) {
    case KlEstimator::K1: return d;
    case KlEstimator::K2: return 0.5 * d * d;
    case KlEstimator::K3: {
      const at::Tensor r = -d;  // log(ref / p)
      return (at::exp(r) - r - 1).clamp(-10, 10);
    }
  }
  return d;
}

namespace {
LossNorm resolve(const LossNorm& norm, const at::Tensor& mask) {
  LossNorm n = norm;
  if (n.tokens <= 0) n.tokens = std::max(1.0, mask.sum().item<double>());
  if (n.sequences <= 0) n.sequences = static_cast<double>(std::max<int64_t>(1, mask.size(0)));
  if (n.max_len <= 0) n.max_len = static_cast<double>(std::max<int64_t>(1, mask.size(1)));
  return n;
}
}  // namespace

at::Tensor aggregate(const at::Tensor& x, const at::Tensor& mask, LossAgg agg, const LossNorm& norm) {
  const at::Tensor m = mask.to(x.scalar_type());
  const LossNorm n = resolve(norm, mask);
  switch (agg) {
    case LossAgg::TokenMean: return (x * m).sum() / n.tokens;
    case LossAgg::SeqMeanTokenMean: return ((x * m).sum(-1) / m.sum(-1).clamp_min(1)).sum() / n.sequences;
    case LossAgg::SeqMeanTokenSumNorm: return (x * m).sum() / (n.sequences * n.max_len);
  }
  return x.sum();
}

PolicyLoss grpo_policy_loss(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& advantages,
                            const at::Tensor& mask, const PolicyLossConfig& cfg, const at::Tensor& ref_logp,
                            const at::Tensor& entropy, const LossNorm& norm_in) {
  if (cfg.dual_clip_c != 0 && cfg.dual_clip_c <= 1) throw std::invalid_argument("dual_clip_c must be > 1 (or 0 = off)");
  const at::Tensor adv = advantages.dim() == 1 ? advantages.unsqueeze(-1).expand_as(logp) : advantages;
  const at::Tensor ratio = at::exp(logp - old_logp);
  const at::Tensor pg1 = -adv * ratio;
  const at::Tensor pg2 = -adv * ratio.clamp(1 - cfg.clip_low, 1 + cfg.clip_high);
  at::Tensor pg = at::maximum(pg1, pg2);
  if (cfg.dual_clip_c > 0) pg = at::where(adv < 0, at::minimum(pg, -adv * cfg.dual_clip_c), pg);
  PolicyLoss out;
  const LossNorm norm = resolve(norm_in, mask);
  const at::Tensor pg_loss = aggregate(pg, mask, cfg.agg, norm);
  out.loss = pg_loss;
  out.pg_loss = pg_loss.item<double>();
  const at::Tensor m = mask.to(at::kFloat);
  const double tokens = norm.tokens;
  out.clip_fraction = ((pg2 > pg1).to(at::kFloat) * m).sum().item<double>() / tokens;
  out.approx_kl = ((old_logp - logp).detach() * m).sum().item<double>() / tokens;
  if (cfg.kl_coef != 0) {
    if (!ref_logp.defined()) throw std::invalid_argument("kl_coef is set but no reference log-probs were given");
    const at::Tensor kl = aggregate(kl_penalty(logp, ref_logp, cfg.kl), mask, cfg.agg, norm);
    out.loss = out.loss + cfg.kl_coef * kl;
    out.kl = kl.item<double>();
  }
  if (cfg.entropy_coef != 0) {
    if (!entropy.defined()) throw std::invalid_argument("entropy_coef is set but no entropy was given");
    const at::Tensor ent = aggregate(entropy, mask, cfg.agg, norm);
    out.loss = out.loss - cfg.entropy_coef * ent;
    out.entropy = ent.item<double>();
  }
  return out;
}

}  // namespace toolgrpo::model
