// AdamW (decoupled weight decay, bias-corrected moments, as torch.optim.AdamW), learning-rate schedules and
// global gradient-norm clipping. The state is plain tensors so checkpoints can store and restore it exactly.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/choices.hpp"

namespace toolgrpo::model {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

// One AdamW update of `p` in place from gradient `g` with moments `m` and `v` (tensors or views of one
// shape), bias corrections bc1 = 1 - beta1^t and bc2 = 1 - beta2^t. Element-wise: a slice of a tensor updated
// alone gets the values the whole tensor's update gives it (the sharded optimizer relies on this).
void adamw_apply(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v,
                 double lr, const AdamWConfig& cfg, double bc1, double bc2);

class AdamW {
 public:
  AdamW(std::vector<at::Tensor> params, AdamWConfig cfg);
  // One update with learning rate `lr` from the parameters' .grad() (parameters without a gradient are skipped).
  void step(double lr);
  void zero_grad();
  int64_t steps() const { return step_; }
  std::vector<at::Tensor>& exp_avg() { return m_; }
  std::vector<at::Tensor>& exp_avg_sq() { return v_; }
  const std::vector<at::Tensor>& exp_avg() const { return m_; }
  const std::vector<at::Tensor>& exp_avg_sq() const { return v_; }
  void set_steps(int64_t s) { step_ = s; }

 private:
  std::vector<at::Tensor> params_, m_, v_;
  AdamWConfig cfg_;
  int64_t step_ = 0;
};

// LrSchedule (constant | warmup | cosine) and its names: model/choices.hpp.
// Learning rate at `step` (0-based) of `total` under `schedule`.
double lr_at(LrSchedule schedule, double base_lr, int64_t step, int64_t warmup_steps, int64_t total);

// The factor clipping applies to gradients of global norm `norm`: 1 when max_norm is 0 (off) or not exceeded.
double clip_coefficient(double norm, double max_norm);

// Scales all gradients so that their global L2 norm is at most max_norm (0 = no clipping); returns the norm
// before clipping.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// The sum of the squares of `t`'s elements, accumulated in double precision a chunk of 2^20 elements at a time
// (a whole-tensor fp64 copy of a 136M-entry embedding gradient would take 2.2 GB at the step's peak).
double sum_of_squares(const at::Tensor& t);

}  // namespace toolgrpo::model
