// AdamW, schedules and clipping on numbers worked out by hand (torch.optim.AdamW's update rule).
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model/optimizer.hpp"
#include "tests/fp32_bounds.hpp"

namespace toolgrpo::model {
namespace {

using testing::fp32_gamma;

// One AdamW step on a scalar is about a dozen fp32 operations (decay, two moment updates, two bias corrections,
// a square root, a division, the update) on values of size <= 1: each rounds once, so the result lies within
// gamma(12) of the double-precision value worked out by hand (about 7e-7); two steps chain 24.
constexpr double kOneStep = fp32_gamma(12), kTwoSteps = fp32_gamma(24);

TEST(AdamW, TwoStepsByHand) {
  at::Tensor p = at::full({1}, 1.0, at::kFloat).set_requires_grad(true);
  AdamW opt({p}, AdamWConfig{0.9, 0.999, 1e-8, 0.01});
  (p * 0.5).sum().backward();  // grad 0.5
  opt.step(0.1);
  // decay: 1 - 0.1*0.01 = 0.999; m = 0.05, v = 0.00025; m^ = 0.5, v^ = 0.25; 0.999 - 0.1 * 0.5 / 0.5 = 0.899
  EXPECT_NEAR(p.item<double>(), 0.899, kOneStep);
  opt.zero_grad();
  (p * -1.0).sum().backward();  // grad -1
  opt.step(0.1);
  // decay: 0.899 * 0.999; m = 0.045 - 0.1 = -0.055, m^ = -0.055/0.19; v = 0.00024975 + 0.001 = 0.00124975,
  // v^ = v / (1 - 0.999^2)
  const double m_hat = -0.055 / (1 - 0.81), v_hat = 0.00124975 / (1 - 0.999 * 0.999);
  EXPECT_NEAR(p.item<double>(), 0.899 * 0.999 - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8), kTwoSteps);
  EXPECT_EQ(opt.steps(), 2);
}

TEST(Schedules, ConstantWarmupCosine) {
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Constant, 1e-6, 5, 10, 100), 1e-6);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Warmup, 1.0, 0, 4, 100), 0.25);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Warmup, 1.0, 3, 4, 100), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Warmup, 1.0, 50, 4, 100), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Cosine, 1.0, 1, 2, 12), 1.0);
  EXPECT_NEAR(lr_at(LrSchedule::Cosine, 1.0, 7, 2, 12), 0.5, 1e-12);  // halfway through the decay
  EXPECT_NEAR(lr_at(LrSchedule::Cosine, 1.0, 12, 2, 12), 0.0, 1e-12);
}

// The schedule names: one table, each value round-trips through its name, anything else is refused with the list.
TEST(Schedules, Names) {
  for (const LrSchedule s : {LrSchedule::Constant, LrSchedule::Warmup, LrSchedule::Cosine})
    EXPECT_EQ(lr_schedule_from_name(lr_schedule_name(s)), s);
  EXPECT_EQ(lr_schedule_names(), (std::vector<std::string>{"constant", "warmup", "cosine"}));
  try {
    lr_schedule_from_name("linear");
    ADD_FAILURE() << "linear was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'linear'; expected one of: constant warmup cosine"), std::string::npos) << e.what();
  }
}

TEST(ClipGradNorm, ScalesToMaxNorm) {
  at::Tensor a = at::zeros({2}, at::kFloat).set_requires_grad(true), b = at::zeros({1}, at::kFloat).set_requires_grad(true);
  (a * at::tensor(std::vector<float>{3, 0})).sum().backward();
  (b * 4.0).sum().backward();  // global norm 5
  // The norm: a sum of 3 squares (gamma(3) relative, each square one more rounding), a square root (halves the
  // relative error, adds u): within gamma(5) of 5 in relative terms. The scaled gradients add the division by
  // the norm (plus its 1e-6 guard, 2e-7 relative) and one multiplication; the clipped norm is their norm again.
  EXPECT_NEAR(clip_grad_norm({a, b}, 1.0), 5.0, 5.0 * fp32_gamma(5));
  const double scaled = fp32_gamma(8) + 1e-6 / 5;
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, scaled);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, scaled);
  EXPECT_NEAR(clip_grad_norm({a, b}, 0), 1.0, scaled + fp32_gamma(5));  // 0: report only
}

}  // namespace
}  // namespace toolgrpo::model
