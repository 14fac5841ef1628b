// GRPO loss math on numbers computed by hand: clipped loss at chosen ratios and advantages, dual clip, each
// aggregation mode, each KL estimator, the entropy bonus, and gradients flowing only where unclipped.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model/grpo_loss.hpp"

namespace toolgrpo::model {
namespace {

// Every tensor here is double precision and every value a handful of operations on numbers of size <= 10:
// n roundings of unit 2^-53 give at most about 10 n 1.1e-16, far below the 1e-12 the checks allow, and no BLAS
// kernel takes part (elementwise operations and short sums).

at::Tensor t2(std::vector<double> v, int64_t rows) {
  return at::tensor(v, at::kDouble).view({rows, static_cast<int64_t>(v.size()) / rows});
}

TEST(GrpoLoss, ClippedLossAtChosenRatios) {
  // Four tokens of one sequence: ratio 1.5 (A=+1), 0.5 (A=+1), 0.5 (A=-1), 4 (A=-1); clip 0.2.
  const at::Tensor ratio = t2({1.5, 0.5, 0.5, 4.0}, 1);
  const at::Tensor old = at::zeros_like(ratio), logp = at::log(ratio);
  const at::Tensor adv = t2({1, 1, -1, -1}, 1), mask = at::ones_like(ratio);
  PolicyLossConfig cfg;
  // Per token: max(-A r, -A clip(r)): -1.2 (clipped), -0.5, 0.8 (clipped), 4.0.
  PolicyLoss l = grpo_policy_loss(logp, old, adv, mask, cfg);
  EXPECT_NEAR(l.pg_loss, (-1.2 - 0.5 + 0.8 + 4.0) / 4, 1e-12);
  EXPECT_NEAR(l.clip_fraction, 2.0 / 4, 1e-12);
  // Dual clip c = 3 caps the negative-advantage token at ratio 4: min(4, 3) = 3.
  cfg.dual_clip_c = 3;
  l = grpo_policy_loss(logp, old, adv, mask, cfg);
  EXPECT_NEAR(l.pg_loss, (-1.2 - 0.5 + 0.8 + 3.0) / 4, 1e-12);
  // Asymmetric clip (clip_high 0.28): ratio 1.5 is clipped to 1.28, so token 1 gives -1.28.
  cfg.dual_clip_c = 0;
  cfg.clip_high = 0.28;
  l = grpo_policy_loss(logp, old, adv, mask, cfg);
  EXPECT_NEAR(l.pg_loss, (-1.28 - 0.5 + 0.8 + 4.0) / 4, 1e-12);
  EXPECT_THROW(grpo_policy_loss(logp, old, adv, mask, PolicyLossConfig{0.2, 0.2, 0.5}), std::invalid_argument);
}

TEST(GrpoLoss, AggregationModes) {
  // Two sequences, T = 3: per-token values 1,2,3 (3 masked out) and 4,_,_ (only the first counts).
  const at::Tensor x = t2({1, 2, 3, 4, 5, 6}, 2), mask = t2({1, 1, 0, 1, 0, 0}, 2);
  EXPECT_NEAR(aggregate(x, mask, LossAgg::TokenMean).item<double>(), (1 + 2 + 4) / 3.0, 1e-12);
  EXPECT_NEAR(aggregate(x, mask, LossAgg::SeqMeanTokenMean).item<double>(), (1.5 + 4) / 2, 1e-12);
  EXPECT_NEAR(aggregate(x, mask, LossAgg::SeqMeanTokenSumNorm).item<double>(), (3 + 4) / (2 * 3.0), 1e-12);
  EXPECT_EQ(loss_agg_from_name("seq-mean-token-mean"), LossAgg::SeqMeanTokenMean);
  EXPECT_THROW(loss_agg_from_name("sum"), std::invalid_argument);
}

TEST(GrpoLoss, GlobalNormalisersMakePartsSumToTheWhole) {
  // The batch of AggregationModes split into its two rows, each aggregated with the whole batch's counts
  // (3 tokens, 2 sequences, response limit 3): the parts add up to the whole batch's value in every mode.
  const at::Tensor x = t2({1, 2, 3, 4, 5, 6}, 2), mask = t2({1, 1, 0, 1, 0, 0}, 2);
  LossNorm norm;
  norm.tokens = 3;
  norm.sequences = 2;
  norm.max_len = 3;
  for (LossAgg agg : {LossAgg::TokenMean, LossAgg::SeqMeanTokenMean, LossAgg::SeqMeanTokenSumNorm}) {
    const double whole = aggregate(x, mask, agg).item<double>();
    const double parts = aggregate(x.narrow(0, 0, 1), mask.narrow(0, 0, 1), agg, norm).item<double>() +
                         aggregate(x.narrow(0, 1, 1), mask.narrow(0, 1, 1), agg, norm).item<double>();
    EXPECT_NEAR(parts, whole, 1e-12) << static_cast<int>(agg);
  }
  // Per-token statistics use the global token count too: one clipped token of three.
  const at::Tensor ratio = t2({1.5, 1.0, 1.0}, 1);
  const PolicyLoss l = grpo_policy_loss(at::log(ratio), at::zeros_like(ratio), t2({1}, 1), at::ones_like(ratio),
                                        PolicyLossConfig{}, {}, {}, LossNorm{6, 2, 3});
  EXPECT_NEAR(l.clip_fraction, 1.0 / 6, 1e-12);
  EXPECT_NEAR(l.pg_loss, -(1.2 + 1 + 1) / 6, 1e-12);
}

TEST(GrpoLoss, KlEstimators) {
  // logp = log 0.5, ref = log 0.25: d = log 2.
  const at::Tensor lp = at::full({1, 1}, std::log(0.5), at::kDouble), ref = at::full({1, 1}, std::log(0.25), at::kDouble);
  const double d = std::log(2.0);
  EXPECT_NEAR(kl_penalty(lp, ref, KlEstimator::K1).item<double>(), d, 1e-12);
  EXPECT_NEAR(kl_penalty(lp, ref, KlEstimator::K2).item<double>(), 0.5 * d * d, 1e-12);
  EXPECT_NEAR(kl_penalty(lp, ref, KlEstimator::K3).item<double>(), 0.5 + d - 1, 1e-12);  // e^-d = 0.5
  EXPECT_NEAR(kl_penalty(lp, lp, KlEstimator::K3).item<double>(), 0.0, 1e-15);
  EXPECT_EQ(kl_estimator_from_name("k2"), KlEstimator::K2);
}

TEST(GrpoLoss, KlAndEntropyTermsAndGradients) {
  const at::Tensor logp = t2({std::log(0.5), std::log(0.5)}, 1).set_requires_grad(true);
  const at::Tensor old = logp.detach().clone(), ref = t2({std::log(0.25), std::log(0.5)}, 1);
  const at::Tensor adv = at::tensor(std::vector<double>{2.0}, at::kDouble), mask = at::ones({1, 2}, at::kDouble);
  const at::Tensor ent = t2({1.0, 3.0}, 1);
  PolicyLossConfig cfg;
  cfg.kl_coef = 0.1;
  cfg.kl = KlEstimator::K1;
  cfg.entropy_coef = 0.01;
  const PolicyLoss l = grpo_policy_loss(logp, old, adv, mask, cfg, ref, ent);
  // ratio 1: pg = -2 per token; KL k1 = (log 2 + 0) / 2; entropy mean 2.
  EXPECT_NEAR(l.pg_loss, -2.0, 1e-12);
  EXPECT_NEAR(l.kl, std::log(2.0) / 2, 1e-12);
  EXPECT_NEAR(l.entropy, 2.0, 1e-12);
  EXPECT_NEAR(l.loss.item<double>(), -2.0 + 0.1 * std::log(2.0) / 2 - 0.01 * 2.0, 1e-12);
  l.loss.backward();
  // d/dlogp of mean(-A e^(logp-old)) = -A/2 per token at ratio 1; plus 0.1 * 1/2 from k1.
  EXPECT_NEAR(logp.grad()[0][0].item<double>(), -1.0 + 0.05, 1e-12);
  // A clipped token has no policy gradient: ratio 2 with A > 0.
  const at::Tensor lp2 = t2({std::log(2.0)}, 1).set_requires_grad(true);
  grpo_policy_loss(lp2, at::zeros_like(lp2), at::ones({1}, at::kDouble), at::ones_like(lp2), PolicyLossConfig{})
      .loss.backward();
  EXPECT_EQ(lp2.grad().item<double>(), 0.0);
  EXPECT_THROW(grpo_policy_loss(logp, old, adv, mask, cfg), std::invalid_argument);  // KL needs ref
}

}  // namespace
}  // namespace toolgrpo::model
