// GRPO's reward shaping and the step's advantages (reward/advantage.hpp), against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "reward/advantage.hpp"

namespace toolgrpo::reward {
namespace {

RewardShaping penalty(int64_t max_new_tokens, int64_t buffer, double scale) {
  RewardShaping s;
  s.overlong_penalty = true;
  s.max_new_tokens = max_new_tokens;
  s.overlong_buffer = buffer;
  s.overlong_scale = scale;
  return s;
}

TEST(RewardShaping, OverlongPenaltyRampsOverTheBuffer) {
  // Limit 64, no buffer given: a quarter, 16 tokens; the ramp starts after 48 tokens.
  const RewardShaping s = penalty(64, 0, 2.0);
  EXPECT_EQ(overlong_penalty(0, s), 0.0);
  EXPECT_EQ(overlong_penalty(48, s), 0.0);
  EXPECT_EQ(overlong_penalty(52, s), -2.0 * 4 / 16);
  EXPECT_EQ(overlong_penalty(56, s), -1.0);
  EXPECT_EQ(overlong_penalty(64, s), -2.0);
  EXPECT_EQ(overlong_penalty(90, s), -2.0);  // beyond the limit it stays at -scale
  // An explicit buffer of 10 tokens under a limit of 20: the ramp starts after 10.
  EXPECT_EQ(overlong_penalty(10, penalty(20, 10, 1.0)), 0.0);
  EXPECT_EQ(overlong_penalty(15, penalty(20, 10, 1.0)), -0.5);
  // A limit of 3 has no quarter to ramp over: no penalty at all.
  EXPECT_EQ(overlong_penalty(3, penalty(3, 0, 1.0)), 0.0);
}

TEST(RewardShaping, DynamicSamplingKeepsGroupsWithSpread) {
  const std::vector<double> same{1.5, 1.5, 1.5}, spread{1.5, 1.5, -0.5};
  EXPECT_FALSE(group_has_spread(same.data(), same.size()));
  EXPECT_TRUE(group_has_spread(spread.data(), spread.size()));
  EXPECT_TRUE(group_has_spread(spread.data() + 1, 2));
  EXPECT_FALSE(group_has_spread(spread.data(), 1));  // a group of one teaches nothing
  EXPECT_FALSE(group_has_spread(spread.data(), 0));
}

SampleScores four_samples() {
  SampleScores r;
  r.total = {2.0, -1.0, 3.0, 0.5};
  r.format = {1.0, 1.0, 1.0, 0.0};
  r.correctness = {1.0, -2.0, 2.0, 0.5};
  r.length = {0.0, 0.0, 0.0, 0.0};
  r.valid = {1, 0, 1, 1};
  r.response_tokens = {10, 64, 60, 56};
  return r;
}

TEST(RewardShaping, ShapedRewardIsValidTotalPlusPenaltyMinusKl) {
  const SampleScores r = four_samples();
  // Without shaping: the total, 0 where the reward is not valid.
  EXPECT_EQ(shaped_rewards(r, RewardShaping{}, {}), (std::vector<double>{2.0, 0.0, 3.0, 0.5}));
  // Penalty over the last 16 of 64 tokens (0, -1, -0.75, -0.5) and 0.1 times KL {1, 2, 3, 4}.
  RewardShaping s = penalty(64, 0, 1.0);
  s.kl_coef = 0.1;
  const std::vector<double> expected{2.0 - 0.1, 0.0 - 1.0 - 0.2, 3.0 - 0.75 - 0.3, 0.5 - 0.5 - 0.4};
  const std::vector<double> shaped = shaped_rewards(r, s, {1.0, 2.0, 3.0, 4.0});
  ASSERT_EQ(shaped.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(shaped[i], expected[i]) << i;
  // The KL values must match the samples when the KL is in the reward; the parts must match the totals.
  EXPECT_THROW(shaped_rewards(r, s, {1.0, 2.0}), std::invalid_argument);
  SampleScores short_part = r;
  short_part.response_tokens.pop_back();
  EXPECT_THROW(shaped_rewards(short_part, RewardShaping{}, {}), std::invalid_argument);
}

TEST(RewardShaping, GrpoAdvantagesNormaliseTheShapedReward) {
  const SampleScores r = four_samples();
  // Groups of 2 without scaling: {3, -2.5} -> mean 0.25; {1, 1} -> 0.
  const std::vector<double> shaped{3.0, -2.5, 1.0, 1.0};
  EXPECT_EQ(step_advantages(r, shaped, AdvantageMode::Grpo, 2, AdvantageStd::None),
            (std::vector<double>{2.75, -2.75, 0.0, 0.0}));
  EXPECT_EQ(step_advantages(r, shaped, AdvantageMode::Grpo, 2, AdvantageStd::Unbiased),
            group_advantages(shaped, 2, AdvantageStd::Unbiased));
}

TEST(RewardShaping, GdpoNormalisesEachPartAndTheRestOnTheirOwn) {
  SampleScores r;
  r.format = {1.0, 0.0};
  r.correctness = {2.0, -2.0};
  r.length = {0.0, 0.0};
  r.total = {3.0, -2.0};
  r.valid = {1, 1};
  r.response_tokens = {8, 8};
  // Shaped {3, -2.5}: the rest beyond the parts is {0, -0.5}. Without scaling, each part minus its group mean:
  // format {0.5, -0.5}, correctness {2, -2}, length {0, 0}, rest {0.25, -0.25}.
  EXPECT_EQ(step_advantages(r, {3.0, -2.5}, AdvantageMode::Gdpo, 2, AdvantageStd::None),
            (std::vector<double>{2.75, -2.75}));
  // A sample whose reward is not valid has all parts 0: format {1, 0}, correctness {2, 0}; its shaped reward
  // (a penalty of -0.5 alone) is all rest: {0, -0.5}. Advantages {0.5 + 1 + 0.25, -(0.5 + 1 + 0.25)}.
  r.valid = {1, 0};
  EXPECT_EQ(step_advantages(r, {3.0, -0.5}, AdvantageMode::Gdpo, 2, AdvantageStd::None),
            (std::vector<double>{1.75, -1.75}));
  // With unbiased scaling every part of a group of two with spread becomes +-1/sqrt(2) (up to eps).
  const std::vector<double> a = step_advantages(r, {3.0, -0.5}, AdvantageMode::Gdpo, 2, AdvantageStd::Unbiased);
  const double one = 1.0 / std::sqrt(2.0);
  EXPECT_NEAR(a[0], 3 * one, 1e-5);
  EXPECT_NEAR(a[1], -3 * one, 1e-5);
  EXPECT_THROW(step_advantages(r, {3.0}, AdvantageMode::Gdpo, 2, AdvantageStd::None), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::reward
