// The batch scorer on several threads: the Kokkos host space really has the threads asked for
// (OMP_NUM_THREADS; CTest runs this binary at 1, 2 and 4), and scoring every reference fixture row 100 times,
// in a different order each round, gives the scalar scorer's result bit for bit every time.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixture_rows.hpp"
#include "reward/batch.hpp"
#include "reward/evaluate.hpp"
#include "reward/score.hpp"

namespace toolgrpo::reward {
namespace {

using testing::FixtureFile;

TEST(BatchThreads, HostSpaceHasTheThreadsAsked) {
  const int threads = Kokkos::DefaultHostExecutionSpace().concurrency();
  std::printf("[threads] %s with %d threads\n", Kokkos::DefaultHostExecutionSpace::name(), threads);
#ifdef TOOLGRPO_EXPECT_KOKKOS_OPENMP
#ifndef KOKKOS_ENABLE_OPENMP
  FAIL() << "built with TOOLGRPO_KOKKOS=openmp against a Kokkos without the OpenMP backend";
#endif
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    EXPECT_EQ(threads, std::atoi(env));
  }
#endif
  EXPECT_GE(threads, 1);
}

// One variant file's rows: prepared ground truths, the batch, and the scalar scorer's results.
struct Variant {
  RewardConfig cfg;
  std::vector<GroundTruth> gts;
  BatchInput batch;
  std::vector<RewardScores> scalar;
};

Variant load_variant(const FixtureFile& file) {
  Variant v;
  std::map<std::string, int32_t> index;
  ScoreScratch scratch;
  for (const auto& row : file.rows()) {
    v.cfg = reward_config_from_name(row.str("variant"));
    const std::string gt = row.str("ground_truth");
    auto it = index.find(gt);
    if (it == index.end()) {
      it = index.emplace(gt, static_cast<int32_t>(v.gts.size())).first;
      v.gts.emplace_back(gt);
    }
    const auto step = static_cast<int64_t>(row.num("step"));
    const std::string_view output = row.json->find("output")->string();
    v.batch.outputs.push_back(output);
    v.batch.gt_index.push_back(it->second);
    v.batch.steps.push_back(step);
    v.scalar.push_back(
        score_output(output, v.gts[static_cast<std::size_t>(it->second)], v.cfg, step, scratch));
  }
  return v;
}

TEST(BatchThreads, HundredRoundsOfEveryFixtureMatchTheScalarScorer) {
  const char* names[] = {"default.jsonl",       "withlength.jsonl",         "schedulelength.jsonl",
                         "correctmax1.jsonl",   "max1step30max3.jsonl",     "schedulereward.jsonl",
                         "refinedreward.jsonl", "intermediatereward.jsonl", "coarsereward.jsonl"};
  std::vector<std::unique_ptr<FixtureFile>> files;  // the rows' text stays where the batches point
  std::vector<Variant> variants;
  for (const char* name : names) {
    files.push_back(std::make_unique<FixtureFile>(name));
    variants.push_back(load_variant(*files.back()));
  }
  std::mt19937 rng(7);
  std::size_t compared = 0, mismatches = 0;
  for (int round = 0; round < 100; ++round) {
    for (const Variant& v : variants) {
      // A different order each round, so each thread meets other outputs after other ground truths.
      std::vector<std::size_t> order(v.scalar.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      BatchInput in;
      for (const std::size_t i : order) {
        in.outputs.push_back(v.batch.outputs[i]);
        in.gt_index.push_back(v.batch.gt_index[i]);
        in.steps.push_back(v.batch.steps[i]);
      }
      const std::vector<RewardScores> got = score_batch(in, v.gts, v.cfg);
      ASSERT_EQ(got.size(), order.size());
      for (std::size_t k = 0; k < order.size(); ++k) {
        const RewardScores& want = v.scalar[order[k]];
        const RewardScores& r = got[k];
        ++compared;
        if (r.format != want.format || r.correctness != want.correctness || r.length != want.length ||
            r.total != want.total || r.ok != want.ok) {
          if (++mismatches <= 5)
            ADD_FAILURE() << "round " << round << ", row " << order[k] << ": batch (" << r.format << ", "
                          << r.correctness << ", " << r.length << ", " << r.total << ") scalar ("
                          << want.format << ", " << want.correctness << ", " << want.length << ", "
                          << want.total << ")";
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
  std::printf("[threads] %zu batch scores compared with the scalar scorer on %d threads\n", compared,
              Kokkos::DefaultHostExecutionSpace().concurrency());
}

// eval's batch: every row of two fixture files, and every 50th output once more against an unusable ground
// truth (a tool call inside the think text), gives evaluate_output's record or its error message, at whatever
// thread count this binary runs with.
TEST(BatchThreads, EvaluateBatchMatchesEvaluateOutput) {
  std::size_t compared = 0, errors = 0;
  for (const char* name : {"default.jsonl", "refinedreward.jsonl"}) {
    const FixtureFile file(name);
    std::vector<std::unique_ptr<GroundTruth>> owned;
    std::vector<std::string_view> outputs;
    std::vector<const GroundTruth*> gts;
    const GroundTruth unusable(
        "<think> then <tool_call> it </think>\n<tool_call>\n{\"name\": \"f\", "
        "\"parameters\": {}}\n</tool_call>");
    ASSERT_FALSE(unusable.error().empty());
    for (const auto& row : file.rows()) {
      owned.push_back(std::make_unique<GroundTruth>(row.str("ground_truth")));
      outputs.push_back(row.json->find("output")->string());
      gts.push_back(owned.back().get());
      if (outputs.size() % 50 == 0) {
        outputs.push_back(outputs.back());
        gts.push_back(&unusable);
      }
    }
    const RewardConfig cfg = reward_config_from_name(file.rows().front().str("variant"));
    for (int round = 0; round < 10; ++round) {
      const EvalBatch batch = evaluate_batch(outputs, gts, cfg, 7);
      ASSERT_EQ(batch.records.size(), outputs.size());
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        EvalRecord want;
        std::string want_error;
        try {
          want = evaluate_output(outputs[i], *gts[i], cfg, 7);
        } catch (const std::invalid_argument& e) {
          want_error = e.what();
        }
        ++compared;
        ASSERT_EQ(batch.errors[i], want_error) << name << " row " << i;
        if (!want_error.empty()) {
          errors += round == 0;
          continue;
        }
        const EvalRecord& got = batch.records[i];
        ASSERT_EQ(got.scores.total, want.scores.total) << name << " row " << i;
        ASSERT_EQ(got.scores.correctness, want.scores.correctness) << name << " row " << i;
        ASSERT_EQ(got.format_ok, want.format_ok) << name << " row " << i;
        ASSERT_EQ(got.parse, want.parse) << name << " row " << i;
        ASSERT_EQ(got.match.exact, want.match.exact) << name << " row " << i;
        ASSERT_EQ(got.match.names, want.match.names) << name << " row " << i;
        ASSERT_EQ(got.match.error, want.match.error) << name << " row " << i;
        ASSERT_EQ(got.expects_call, want.expects_call) << name << " row " << i;
        ASSERT_EQ(got.response_bytes, want.response_bytes) << name << " row " << i;
      }
    }
  }
  std::printf("[threads] %zu evaluations compared (%zu unusable ground truths) on %d threads\n", compared,
              errors, host_threads());
}

}  // namespace
}  // namespace toolgrpo::reward
