// Evaluation records and their summary; see evaluate.hpp.
#include "reward/evaluate.hpp"

#include <algorithm>
#include <stdexcept>

#include "reward/batch.hpp"

namespace toolgrpo::reward {

EvalRecord evaluate_output(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg, int64_t step) {
  if (!gt.error().empty()) throw std::invalid_argument(gt.error());
  EvalRecord r;
  r.scores = score_output(output, gt, cfg, step);
  r.format_ok = r.scores.format >= format_range(cfg, step).max;
  JsonParser parser;
  Arena arena(4096);
  const ToolCalls expected = tool_calls_parse(gt.text(), parser, arena);
  if (expected.status != CallsStatus::None && expected.status != CallsStatus::Ok)
    throw std::invalid_argument("the ground truth's tool-call block does not parse (" +
                                std::string(calls_status_name(expected.status)) + ")");
  const ToolCalls predicted = tool_calls_parse(output, parser, arena);
  r.parse = predicted.status;
  r.match = calls_match(predicted, expected);
  r.expects_call = expected.status == CallsStatus::Ok;
  r.response_bytes = output.size();
  return r;
}

EvalBatch evaluate_batch(const std::vector<std::string_view>& outputs,
                         const std::vector<const GroundTruth*>& gts, const RewardConfig& cfg, int64_t step) {
  if (gts.size() != outputs.size())
    throw std::invalid_argument("evaluate_batch: one ground truth per output");
  EvalBatch b;
  b.records.resize(outputs.size());
  b.errors.resize(outputs.size());
  parallel_rollouts(outputs.size(), [&](const std::size_t i, int) {
    try {
      b.records[i] = evaluate_output(outputs[i], *gts[i], cfg, step);
    } catch (const std::invalid_argument& e) {
      b.errors[i] = e.what();
    }
  });
  return b;
}

const char* calls_status_name(CallsStatus s) {
  switch (s) {
    case CallsStatus::None: return "none";
    case CallsStatus::Ok: return "ok";
    case CallsStatus::Unclosed: return "unclosed";
    case CallsStatus::BadJson: return "bad_json";
    case CallsStatus::NotACall: return "not_a_call";
  }
  return "?";
}

EvalSummary eval_summarize(const std::vector<EvalRecord>& records, const std::vector<std::string>& row_of) {
  EvalSummary s;
  s.n = static_cast<int64_t>(records.size());
  double call_exact = 0, no_call = 0;
  for (const EvalRecord& r : records) {
    s.format_accuracy += r.format_ok;
    s.exact_call_accuracy += r.match.exact;
    s.name_accuracy += r.match.names;
    s.reward_total_mean += r.scores.total;
    s.reward_format_mean += r.scores.format;
    s.reward_correctness_mean += r.scores.correctness;
    s.reward_length_mean += r.scores.length;
    s.response_bytes_mean += static_cast<double>(r.response_bytes);
    ++s.errors[call_error_name(r.match.error)];
    s.args += r.match.args;
    if (r.expects_call) {
      ++s.call_rows;
      call_exact += r.match.exact;
    } else {
      ++s.response_rows;
      no_call += r.parse == CallsStatus::None;
    }
  }
  const auto share = [](double count, int64_t of) { return of > 0 ? count / static_cast<double>(of) : 0.0; };
  for (double* v : {&s.format_accuracy, &s.exact_call_accuracy, &s.name_accuracy, &s.reward_total_mean,
                    &s.reward_format_mean, &s.reward_correctness_mean, &s.reward_length_mean, &s.response_bytes_mean})
    *v = share(*v, s.n);
  s.call_rows_exact = share(call_exact, s.call_rows);
  s.answered_without_call = share(no_call, s.response_rows);
  // pass@K: the outputs grouped by the data row they answer.
  if (!row_of.empty()) {
    if (row_of.size() != records.size())
      throw std::invalid_argument("eval_summarize: " + std::to_string(row_of.size()) + " row ids for " +
                                  std::to_string(records.size()) + " records");
    struct Row {
      int64_t outputs = 0;
      bool exact = false, call = false;
    };
    std::map<std::string, Row> rows;
    for (std::size_t i = 0; i < records.size(); ++i) {
      Row& r = rows[row_of[i]];
      ++r.outputs;
      r.exact = r.exact || records[i].match.exact;
      r.call = r.call || records[i].expects_call;
    }
    double rows_exact = 0, call_rows_exact = 0;
    int64_t call_rows = 0;
    for (const auto& [id, r] : rows) {
      s.samples_per_row = std::max(s.samples_per_row, r.outputs);
      rows_exact += r.exact;
      call_rows += r.call;
      call_rows_exact += r.call && r.exact;
    }
    s.pass_exact = share(rows_exact, static_cast<int64_t>(rows.size()));
    s.pass_call_rows_exact = share(call_rows_exact, call_rows);
  }
  return s;
}

}  // namespace toolgrpo::reward
