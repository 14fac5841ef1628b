// Every row of every reference fixture file scores exactly like the reference (each component within 1e-9),
// through the scalar scorer and through the Kokkos batch scorer.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "fixture_rows.hpp"
#include "reward/batch.hpp"
#include "reward/extract.hpp"
#include "reward/score.hpp"

namespace toolgrpo::reward {
namespace {

using testing::FixtureFile;

constexpr double kTol = 1e-9;

// The config the row's `env` field describes (the reference's environment variables, value "1" only).
RewardConfig config_from_env(const Value& env) {
  RewardConfig c;
  for (uint32_t k = 0; k < env.size; ++k) {
    const Member& m = env.u.members[k];
    if (!m.value.is_string() || m.value.string() != "1") continue;
    const std::string_view key = m.key;
    if (key == "WITHLENGTH") c.with_length = true;
    else if (key == "SCHEDULELENGTH") c.schedule_length = true;
    else if (key == "CORRECTMAX1") c.correct_max1 = true;
    else if (key == "MAX1STEP30MAX3") c.max1_step30_max3 = true;
    else if (key == "SCHEDULEREWARD") c.schedule_reward = true;
    else if (key == "REFINEDREWARD") c.refined = true;
    else if (key == "INTERMEDIATEREWARD") c.intermediate = true;
    else if (key == "COARSEREWARD") c.coarse = true;
    else ADD_FAILURE() << "unknown env key " << key;
  }
  return c;
}

void expect_scores(const testing::FixtureRow& row, const RewardScores& s, const std::string& where) {
  ASSERT_TRUE(s.ok) << where;
  EXPECT_NEAR(s.format, row.num("format"), kTol) << where;
  EXPECT_NEAR(s.correctness, row.num("correctness"), kTol) << where;
  EXPECT_NEAR(s.length, row.num("length"), kTol) << where;
  EXPECT_NEAR(s.total, row.num("total"), kTol) << where;
}

class VariantFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(VariantFixture, EveryRowMatchesReference) {
  const FixtureFile file(GetParam());
  ASSERT_GE(file.rows().size(), 200u);
  std::map<std::string, std::size_t> gt_index;
  std::vector<GroundTruth> gts;
  BatchInput batch;
  std::vector<RewardScores> scalar;
  RewardConfig cfg;
  ScoreScratch scratch;
  for (const auto& row : file.rows()) {
    const std::string where = file.path() + ":" + std::to_string(row.line) + " kind=" + row.str("kind");
    // The variant name alone must give the configuration the reference's environment had.
    cfg = reward_config_from_name(row.str("variant"));
    ASSERT_TRUE(cfg == config_from_env(*row.json->find("env"))) << where;
    const std::string gt_text = row.str("ground_truth");
    auto it = gt_index.find(gt_text);
    if (it == gt_index.end()) {
      it = gt_index.emplace(gt_text, gts.size()).first;
      gts.emplace_back(gt_text);
    }
    const auto step = static_cast<int64_t>(row.num("step"));
    const RewardScores s = score_output(row.json->find("output")->string(), gts[it->second], cfg, step, scratch);
    expect_scores(row, s, where);
    scalar.push_back(s);
    batch.outputs.push_back(row.json->find("output")->string());
    batch.gt_index.push_back(static_cast<int32_t>(it->second));
    batch.steps.push_back(step);
  }
  // Kokkos batch == scalar, bit for bit.
  const std::vector<RewardScores> batched = score_batch(batch, gts, cfg);
  ASSERT_EQ(batched.size(), scalar.size());
  for (std::size_t i = 0; i < scalar.size(); ++i) {
    EXPECT_EQ(batched[i].format, scalar[i].format) << i;
    EXPECT_EQ(batched[i].correctness, scalar[i].correctness) << i;
    EXPECT_EQ(batched[i].length, scalar[i].length) << i;
    EXPECT_EQ(batched[i].total, scalar[i].total) << i;
  }
  std::printf("[fixtures] %s: %zu rows matched\n", GetParam(), scalar.size());
}

INSTANTIATE_TEST_SUITE_P(AllVariants, VariantFixture,
                         ::testing::Values("default.jsonl", "withlength.jsonl", "schedulelength.jsonl",
                                           "correctmax1.jsonl", "max1step30max3.jsonl", "schedulereward.jsonl",
                                           "refinedreward.jsonl", "intermediatereward.jsonl",
                                           "coarsereward.jsonl"));

TEST(ExtractionFixture, EveryRowMatchesReference) {
  const FixtureFile file("extraction.jsonl");
  ASSERT_GE(file.rows().size(), 100u);
  std::size_t matched = 0, errors = 0;
  for (const auto& row : file.rows()) {
    const std::string where = file.path() + ":" + std::to_string(row.line) + " kind=" + row.str("kind");
    const std::string name = row.str("experiment_name");
    if (row.has("error")) {
      EXPECT_THROW(chat_template_from_experiment(name), std::invalid_argument) << where;
      ++errors;
      continue;
    }
    const std::string_view predict =
        extract_prediction(row.json->find("solution_str")->string(), chat_template_from_experiment(name));
    EXPECT_EQ(predict, row.json->find("predict_str")->string()) << where;
    const GroundTruth gt(row.str("ground_truth"));
    const RewardScores s = score_output(predict, gt, reward_config_from_name(row.str("variant")),
                                        static_cast<int64_t>(row.num("step")));
    expect_scores(row, s, where);
    ++matched;
  }
  EXPECT_GT(errors, 0u);
  std::printf("[fixtures] extraction.jsonl: %zu rows matched, %zu reference errors reproduced\n", matched, errors);
}

}  // namespace
}  // namespace toolgrpo::reward
