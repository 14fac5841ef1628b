// GRPO loss math on per-token tensors: the clipped policy-gradient loss (asymmetric clip, optional dual clip),
// KL estimators against a reference policy, entropy bonus, and the loss aggregation modes. Pure functions of
// tensors, so every number can be checked by hand.
#pragma once

#include <ATen/core/Tensor.h>

#include "model/choices.hpp"

#include <string>
#include <vector>

namespace toolgrpo::model {

// LossAgg and KlEstimator, with their names: model/choices.hpp.

struct PolicyLossConfig {
  double clip_low = 0.2;   // ratio floor 1 - clip_low
  double clip_high = 0.2;  // ratio ceiling 1 + clip_high
  double dual_clip_c = 0;  // > 1 bounds the loss of negative-advantage tokens by c * |A|; 0 = off
  LossAgg agg = LossAgg::TokenMean;
  double kl_coef = 0;  // KL-in-loss weight (needs reference log-probs)
  KlEstimator kl = KlEstimator::K3;
  double entropy_coef = 0;  // entropy bonus weight (needs entropy)
};

// Denominators of the aggregation. Left at 0 they come from the tensors at hand; a data-parallel trainer sets
// them to the whole mini-batch's counts, so that summing the losses (and gradients) of its micro-batches and
// ranks gives exactly the loss of the mini-batch computed in one piece.
struct LossNorm {
  double tokens = 0;     // response tokens (token-mean, and the per-token statistics)
  double sequences = 0;  // sequences (seq-mean-token-mean, seq-mean-token-sum-norm)
  double max_len = 0;    // length normaliser of seq-mean-token-sum-norm (the response token limit)
};

struct PolicyLoss {
  at::Tensor loss;          // scalar, differentiable
  double pg_loss = 0;       // aggregated clipped policy-gradient term
  double clip_fraction = 0; // share of response tokens where the clipped branch was taken
  double kl = 0;            // aggregated KL estimate (0 without reference)
  double entropy = 0;       // aggregated entropy (0 without entropy)
  double approx_kl = 0;     // mean (old_logp - logp) over tokens: drift from the rollout policy
};

// Per-token KL estimate of logp against ref_logp (both (B, T)).
at::Tensor kl_penalty(const at::Tensor& logp, const at::Tensor& ref_logp, KlEstimator kind);

// Aggregates per-token values (B, T) over the response mask (B, T) of 0/1.
at::Tensor aggregate(const at::Tensor& per_token, const at::Tensor& mask, LossAgg agg, const LossNorm& norm = {});

// logp, old_logp, mask: (B, T); advantages: (B) or (B, T); ref_logp and entropy: (B, T) or undefined.
PolicyLoss grpo_policy_loss(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& advantages,
                            const at::Tensor& mask, const PolicyLossConfig& cfg, const at::Tensor& ref_logp = {},
                            const at::Tensor& entropy = {}, const LossNorm& norm = {});

}  // namespace toolgrpo::model
