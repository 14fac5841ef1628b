// Evaluation records and summary on hand-made outputs: an exact call, a wrong argument, a plain answer where one
// is expected, a call where a plain answer is expected, broken JSON.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reward/evaluate.hpp"

namespace toolgrpo::reward {
namespace {

const std::string kCallTruth =
    "<think>Look it up.</think>\n<tool_call>\n"
    "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n</tool_call>";
const std::string kResponseTruth = "<think>No tool needed.</think>\n<response>Hello!</response>";

TEST(Evaluate, RecordsAndSummaryOfHandMadeOutputs) {
  const RewardConfig cfg;  // default ToolRL reward: format 0/1, correctness -3..3
  const GroundTruth call(kCallTruth), response(kResponseTruth);
  std::vector<EvalRecord> r;
  r.push_back(evaluate_output("<think>weather</think>\n<tool_call>\n"
                              "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n</tool_call>",
                              call, cfg, 0));
  r.push_back(evaluate_output("<think>weather</think>\n<tool_call>\n"
                              "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}\n</tool_call>",
                              call, cfg, 0));
  r.push_back(evaluate_output("<think>hi</think>\n<response>Hi there.</response>", response, cfg, 0));
  r.push_back(evaluate_output("<think>hi</think>\n<tool_call>\n{\"name\": \"greet\", \"parameters\": {}}\n</tool_call>",
                              response, cfg, 0));
  r.push_back(evaluate_output("<think>x</think>\n<tool_call>\n{\"name\": \"get_weather\", \n</tool_call>", call, cfg, 0));

  EXPECT_TRUE(r[0].format_ok);
  EXPECT_EQ(r[0].scores.format, 1.0);
  EXPECT_EQ(r[0].scores.correctness, 3.0);  // the reward's maximum for an exact call
  EXPECT_TRUE(r[0].match.exact);
  EXPECT_TRUE(r[0].expects_call);
  EXPECT_FALSE(r[1].match.exact);
  EXPECT_TRUE(r[1].match.names);
  EXPECT_EQ(r[1].match.error, CallError::WrongArguments);
  EXPECT_LT(r[1].scores.correctness, 3.0);
  EXPECT_GT(r[1].scores.correctness, -3.0);
  EXPECT_TRUE(r[2].format_ok);
  EXPECT_TRUE(r[2].match.exact);
  EXPECT_FALSE(r[2].expects_call);
  EXPECT_EQ(r[3].match.error, CallError::UnexpectedCall);
  EXPECT_FALSE(r[3].format_ok);  // a call where the ground truth answers: not the response pattern
  EXPECT_EQ(r[4].parse, CallsStatus::BadJson);
  EXPECT_EQ(r[4].match.error, CallError::BrokenCall);
  EXPECT_EQ(r[4].scores.correctness, -3.0);
  EXPECT_STREQ(calls_status_name(r[4].parse), "bad_json");

  const EvalSummary s = eval_summarize(r);
  EXPECT_EQ(s.n, 5);
  EXPECT_DOUBLE_EQ(s.exact_call_accuracy, 2.0 / 5);
  EXPECT_DOUBLE_EQ(s.name_accuracy, 3.0 / 5);
  EXPECT_EQ(s.call_rows, 3);
  EXPECT_EQ(s.response_rows, 2);
  EXPECT_DOUBLE_EQ(s.call_rows_exact, 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.answered_without_call, 1.0 / 2);
  double total = 0;
  for (const auto& x : r) total += x.scores.total;
  EXPECT_DOUBLE_EQ(s.reward_total_mean, total / 5);
  EXPECT_EQ(s.errors.at("none"), 2);
  EXPECT_EQ(s.errors.at("wrong_arguments"), 1);
  EXPECT_EQ(s.errors.at("unexpected_call"), 1);
  EXPECT_EQ(s.errors.at("broken_call"), 1);
  // Arguments of the name-matched call rows (0 and 1): "city" expected twice, passed equal once.
  EXPECT_EQ(s.args.expected[static_cast<std::size_t>(ArgType::String)], 2);
  EXPECT_EQ(s.args.correct[static_cast<std::size_t>(ArgType::String)], 1);
  EXPECT_EQ(s.args.expected_total(), 2);
  EXPECT_EQ(s.args.missing + s.args.extra, 0);
  EXPECT_EQ(eval_summarize({}).n, 0);
  EXPECT_EQ(eval_summarize({}).exact_call_accuracy, 0.0);
  EXPECT_EQ(s.samples_per_row, 1);

  // Two samples per row: a (calls: exact, wrong arguments), b (plain answer: exact, unexpected call), c
  // (calls: broken). pass@2: rows a and b have an exact sample (2 of 3), of the call rows a (1 of 2).
  const EvalSummary k = eval_summarize(r, {"a", "a", "b", "b", "c"});
  EXPECT_EQ(k.samples_per_row, 2);
  EXPECT_DOUBLE_EQ(k.pass_exact, 2.0 / 3);
  EXPECT_DOUBLE_EQ(k.pass_call_rows_exact, 1.0 / 2);
  EXPECT_DOUBLE_EQ(k.exact_call_accuracy, s.exact_call_accuracy);  // the per-output shares stay per output
  EXPECT_THROW(eval_summarize(r, {"a"}), std::invalid_argument);
}

TEST(Evaluate, UnusableGroundTruthIsNamed) {
  const GroundTruth bad("<think>I will use <tool_call> here</think>\n<tool_call>\n{\"name\": \"a\"}\n</tool_call>");
  EXPECT_THROW(evaluate_output("<think>x</think>", bad, RewardConfig{}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::reward
