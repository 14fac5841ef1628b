// Evaluation of one model output against its ToolRL ground truth, and the summary over a data set: the reward's
// parts, whether the format is right (format reward at its maximum), whether the calls are exactly the expected
// ones (call_match.hpp), and for ground truths that answer without a tool whether the output did too.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "reward/call_match.hpp"
#include "reward/config.hpp"
#include "reward/score.hpp"

namespace toolgrpo::reward {

struct EvalRecord {
  RewardScores scores;
  bool format_ok = false;     // the format reward reached its maximum at this step
  CallsStatus parse = CallsStatus::None;  // of the output's call block
  CallMatch match;
  bool expects_call = false;  // the ground truth calls a tool
  std::size_t response_bytes = 0;
};

// Throws std::invalid_argument when the ground truth is unusable (its call block does not parse).
EvalRecord evaluate_output(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg, int64_t step);

// evaluate_output on many outputs at once, on every thread of the host execution space (reward/batch.hpp):
// records[i] for output i against *gts[i], or errors[i] the message evaluate_output throws for it (an
// unusable ground truth; records[i] is then empty). Requires Kokkos to be initialised.
struct EvalBatch {
  std::vector<EvalRecord> records;
  std::vector<std::string> errors;
};
EvalBatch evaluate_batch(const std::vector<std::string_view>& outputs,
                         const std::vector<const GroundTruth*>& gts, const RewardConfig& cfg, int64_t step);

const char* calls_status_name(CallsStatus s);  // "none", "ok", "unclosed", "bad_json", "not_a_call"

struct EvalSummary {
  int64_t n = 0;
  double format_accuracy = 0, exact_call_accuracy = 0, name_accuracy = 0;  // shares of all n
  double reward_total_mean = 0, reward_format_mean = 0, reward_correctness_mean = 0, reward_length_mean = 0;
  double response_bytes_mean = 0;
  int64_t call_rows = 0, response_rows = 0;  // ground truths with calls / answering without a tool
  double call_rows_exact = 0;               // share of call_rows whose calls are exact
  double answered_without_call = 0;         // share of response_rows where the output made no call
  std::map<std::string, int64_t> errors;    // call_error_name -> count (exact rows under "none")
  ArgTally args;                            // the arguments of the rows whose tool names match, summed
  // With several outputs per data row (eval --samples K): K (the most outputs of one row), and pass@K — the
  // share of rows (and of rows with calls) where at least one output's calls are exact.
  int64_t samples_per_row = 1;
  double pass_exact = 0, pass_call_rows_exact = 0;
};

// `row_of`: the data row each record answers (empty: one record per row); it groups the samples for pass@K.
EvalSummary eval_summarize(const std::vector<EvalRecord>& records,
                           const std::vector<std::string>& row_of = {});

}  // namespace toolgrpo::reward
