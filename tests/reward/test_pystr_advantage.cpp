// Python str functions, variant names and GRPO group advantages, all checked by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "reward/advantage.hpp"
#include "reward/config.hpp"
#include "reward/pystr.hpp"

namespace toolgrpo::reward {
namespace {

TEST(PyStr, Strip) {
  EXPECT_EQ(py_strip(" \t\n a b \r\x0b\x0c"), "a b");
  EXPECT_EQ(py_strip("\xC2\x85x\xE2\x80\xA8"), "x");   // U+0085, U+2028
  EXPECT_EQ(py_strip("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");  // U+200B is not whitespace
  EXPECT_EQ(py_strip("\xC2\xA0\xC2\xA0"), "");
  EXPECT_EQ(py_strip("\xA0x\xC2"), "\xA0x\xC2");  // invalid bytes are not whitespace
}

TEST(PyStr, SplitCount) {
  EXPECT_EQ(py_split_count(""), 0u);
  EXPECT_EQ(py_split_count("  "), 0u);
  EXPECT_EQ(py_split_count(" a  b\tc\n"), 3u);
  EXPECT_EQ(py_split_count("a\xE3\x80\x80" "b"), 2u);  // U+3000
  EXPECT_EQ(py_split_count("\xE2\x80\x8B"), 1u);       // U+200B is a word
}

TEST(PyStr, Len) {
  EXPECT_EQ(py_len("abc"), 3u);
  EXPECT_EQ(py_len("\xC3\xA9\xF0\x9F\x98\x80\xED\xA0\x80"), 3u);
}

TEST(PyStr, FloatRepr) {
  EXPECT_EQ(py_float_repr(1.0), "1.0");
  EXPECT_EQ(py_float_repr(0.1), "0.1");
  EXPECT_EQ(py_float_repr(-0.20000000000000018), "-0.20000000000000018");
  EXPECT_EQ(py_float_repr(1e16), "1e+16");
  EXPECT_EQ(py_float_repr(1e-5), "1e-05");
  EXPECT_EQ(py_float_repr(123456.5), "123456.5");
}

TEST(Variants, Names) {
  EXPECT_TRUE(reward_config_from_name("default") == RewardConfig{});
  const RewardConfig s = reward_config_from_name("SCHEDULELENGTH");
  EXPECT_TRUE(s.with_length && s.schedule_length);
  EXPECT_TRUE(reward_config_from_name("two_stage").max1_step30_max3);
  EXPECT_TRUE(reward_config_from_name("fine_grained").refined);
  const RewardConfig c = reward_config_from_name("withlength+coarse");
  EXPECT_TRUE(c.with_length && c.coarse && !c.refined);
  EXPECT_EQ(reward_config_name(c), "withlength+coarsereward");
  EXPECT_EQ(reward_config_name(s), "schedulelength");
  try {
    reward_config_from_name("withlenght");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("withlenght"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("intermediatereward"), std::string::npos);
  }
}

TEST(Advantages, HandComputedGroup) {
  // Group {1, 2, 3, 4}: mean 2.5, unbiased sigma sqrt(5/3), population sigma sqrt(5/4).
  const std::vector<double> r{1, 2, 3, 4};
  const auto u = group_advantages(r, 4, AdvantageStd::Unbiased);
  const double su = std::sqrt(5.0 / 3.0) + 1e-6;
  EXPECT_DOUBLE_EQ(u[0], -1.5 / su);
  EXPECT_DOUBLE_EQ(u[3], 1.5 / su);
  const auto p = group_advantages(r, 4, AdvantageStd::Population);
  EXPECT_DOUBLE_EQ(p[1], -0.5 / (std::sqrt(1.25) + 1e-6));
  const auto n = group_advantages(r, 4, AdvantageStd::None);
  EXPECT_EQ(n, (std::vector<double>{-1.5, -0.5, 0.5, 1.5}));
}

TEST(Advantages, AllEqualRewardsGiveZero) {
  for (auto mode : {AdvantageStd::Unbiased, AdvantageStd::Population, AdvantageStd::None})
    for (double a : group_advantages({3, 3, 3, -1, -1, -1}, 3, mode)) EXPECT_EQ(a, 0.0);
}

TEST(Advantages, GroupsAreIndependentAndOfOne) {
  const auto a = group_advantages({0, 4, 10, 10}, 2, AdvantageStd::Unbiased);
  const double s = std::sqrt(8.0) + 1e-6;  // {0, 4}: mean 2, unbiased variance 8
  EXPECT_DOUBLE_EQ(a[0], -2.0 / s);
  EXPECT_EQ(a[2], 0.0);
  // A group of one: the reference uses mean 0 and std 1 with the unbiased estimator.
  EXPECT_DOUBLE_EQ(group_advantages({2.0}, 1, AdvantageStd::Unbiased)[0], 2.0 / (1.0 + 1e-6));
  EXPECT_EQ(group_advantages({2.0}, 1, AdvantageStd::Population)[0], 0.0);
  EXPECT_THROW(group_advantages({1, 2, 3}, 2, AdvantageStd::None), std::invalid_argument);
  EXPECT_EQ(advantage_std_from_name("population"), AdvantageStd::Population);
  EXPECT_THROW(advantage_std_from_name("biased"), std::invalid_argument);
}

TEST(Advantages, ComponentsNormalisedOnTheirOwnThenSummed) {
  // One group of 4. format {0, 1, 1, 1}: mean 0.75, unbiased variance 0.25 -> sigma 0.5;
  // correctness {-3, 3, 1, -1}: mean 0, unbiased variance 20/3; length {0.5, 0.5, 0.5, 0.5}: constant -> 0.
  const std::vector<double> format{0, 1, 1, 1}, correctness{-3, 3, 1, -1}, length{0.5, 0.5, 0.5, 0.5};
  const double sf = 0.5 + 1e-6, sc = std::sqrt(20.0 / 3.0) + 1e-6;
  const std::vector<double> expected{-0.75 / sf + -3 / sc, 0.25 / sf + 3 / sc, 0.25 / sf + 1 / sc,
                                     0.25 / sf + -1 / sc};
  const auto a = component_advantages({format, correctness, length}, 4, AdvantageStd::Unbiased);
  ASSERT_EQ(a.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(a[i], expected[i], 1e-12) << i;
  // Unlike the summed reward's advantages: the format step of sample 0 weighs as much as the correctness spread.
  std::vector<double> total(4);
  for (std::size_t i = 0; i < 4; ++i) total[i] = format[i] + correctness[i] + length[i];
  const auto summed = group_advantages(total, 4, AdvantageStd::Unbiased);
  EXPECT_GT(std::abs(a[0] - summed[0]), 0.5);
  // Population and no scaling, and two groups kept apart.
  const auto p = component_advantages({{0, 2, 5, 5}, {1, 1, 0, 4}}, 2, AdvantageStd::None);
  EXPECT_EQ(p, (std::vector<double>{-1 + 0, 1 + 0, 0 - 2, 0 + 2}));
  const auto q = component_advantages({{0, 2}, {1, 1}}, 2, AdvantageStd::Population);
  EXPECT_NEAR(q[0], -1 / (1 + 1e-6), 1e-12);
  EXPECT_THROW(component_advantages({{0, 2}, {1}}, 2, AdvantageStd::None), std::invalid_argument);
  EXPECT_THROW(component_advantages({}, 2, AdvantageStd::None), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::reward
