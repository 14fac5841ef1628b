// Exact tool-call matching for evaluation on hand-made outputs: exact, the same calls in another order, a wrong
// argument, a wrong name, an extra call, a missing call, a plain response expected or not, broken blocks.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "reward/call_match.hpp"

namespace toolgrpo::reward {
namespace {

const std::string kExpected =
    "<think>two lookups</think>\n<tool_call>\n"
    "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 3}}\n"
    "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"CET\"}}\n</tool_call>";

struct Case {
  const char* what;
  std::string output;
  bool exact, names;
  CallError error;
};

CallMatch match(const std::string& output, const std::string& expected, CallsStatus* status = nullptr) {
  JsonParser parser;
  Arena arena(4096);
  const ToolCalls want = tool_calls_parse(expected, parser, arena);
  const ToolCalls have = tool_calls_parse(output, parser, arena);
  if (status) *status = have.status;
  return calls_match(have, want);
}

TEST(CallMatch, HandMadeOutputs) {
  const std::string w = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 3}}";
  const std::string t = "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"CET\"}}";
  const auto block = [](const std::string& lines) { return "<think>x</think>\n<tool_call>\n" + lines + "\n</tool_call>"; };
  const Case cases[] = {
      {"exact", block(w + "\n" + t), true, true, CallError::None},
      {"other order, keys reordered, 3.0 for 3 (Python ==)",
       block("{\"parameters\": {\"tz\": \"CET\"}, \"name\": \"get_time\"}\n"
             "{\"name\": \"get_weather\", \"parameters\": {\"days\": 3.0, \"city\": \"Paris\"}}"),
       true, true, CallError::None},
      {"one argument wrong", block(w + "\n{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}"), false, true,
       CallError::WrongArguments},
      {"an argument missing", block("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n" + t), false,
       true, CallError::WrongArguments},
      {"a wrong name", block(w + "\n{\"name\": \"get_date\", \"parameters\": {\"tz\": \"CET\"}}"), false, false,
       CallError::WrongName},
      {"an extra call", block(w + "\n" + t + "\n" + t), false, false, CallError::WrongCount},
      {"a call missing", block(w), false, false, CallError::WrongCount},
      {"no call at all", "<think>x</think>\n<response>It is sunny.</response>", false, false, CallError::MissingCall},
      {"broken JSON", block(w + "\n{\"name\": \"get_time\", \"parameters\": {\"tz\": \"CET\"}"), false, false,
       CallError::BrokenCall},
      {"JSON that is not a call", block(w + "\n[1, 2]"), false, false, CallError::BrokenCall},
      {"unclosed block", "<think>x</think>\n<tool_call>\n" + w, false, false, CallError::BrokenCall},
  };
  for (const Case& c : cases) {
    const CallMatch m = match(c.output, kExpected);
    EXPECT_EQ(m.exact, c.exact) << c.what;
    EXPECT_EQ(m.names, c.names) << c.what;
    EXPECT_EQ(m.error, c.error) << c.what << ": " << call_error_name(m.error);
  }
}

// The argument tally of name-matched calls, counted by hand: {expected, correct} per type (string, number,
// bool, other), then missing and extra.
struct ArgCase {
  const char* what;
  std::string output, expected;
  std::array<int64_t, kArgTypes> want_expected, want_correct;
  int64_t missing, extra;
};

TEST(CallMatch, ArgumentTallyByType) {
  const auto block = [](const std::string& lines) {
    return "<think>x</think>\n<tool_call>\n" + lines + "\n</tool_call>";
  };
  const std::string t_cet = "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"CET\"}}";
  const std::string t_utc = "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}";
  const std::string w = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 3}}";
  const ArgCase cases[] = {
      {"exact", block(w + "\n" + t_cet), kExpected, {2, 1, 0, 0}, {2, 1, 0, 0}, 0, 0},
      {"3.0 for 3, other order",
       block(t_cet + "\n{\"name\": \"get_weather\", \"parameters\": {\"days\": 3.0, \"city\": \"Paris\"}}"),
       kExpected,
       {2, 1, 0, 0},
       {2, 1, 0, 0},
       0,
       0},
      {"a wrong string", block(w + "\n" + t_utc), kExpected, {2, 1, 0, 0}, {1, 1, 0, 0}, 0, 0},
      {"a missing number and an extra key",
       block("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n" + t_cet),
       kExpected,
       {2, 1, 0, 0},
       {2, 0, 0, 0},
       1,
       1},
      {"a wrong name: nothing counted",
       block(w + "\n{\"name\": \"get_date\", \"parameters\": {\"tz\": \"CET\"}}"),
       kExpected,
       {0, 0, 0, 0},
       {0, 0, 0, 0},
       0,
       0},
      {"no parameters object",
       block(w + "\n{\"name\": \"get_time\"}"),
       kExpected,
       {2, 1, 0, 0},
       {1, 1, 0, 0},
       1,
       0},
      // Two calls of one name in the other order: each expected call is paired with the one it equals.
      {"same name twice, swapped",
       block(t_utc + "\n" + t_cet),
       block(t_cet + "\n" + t_utc),
       {2, 0, 0, 0},
       {2, 0, 0, 0},
       0,
       0},
      {"bool, list and null under \"arguments\"",
       block("{\"name\": \"f\", \"arguments\": {\"on\": true, \"ids\": [1, 2], \"note\": \"x\"}}"),
       block("{\"name\": \"f\", \"arguments\": {\"on\": true, \"ids\": [1, 2], \"note\": null}}"),
       {0, 0, 1, 2},
       {0, 0, 1, 1},
       0,
       0},
  };
  for (const ArgCase& c : cases) {
    const CallMatch m = match(c.output, c.expected);
    EXPECT_EQ(m.args.expected, c.want_expected) << c.what;
    EXPECT_EQ(m.args.correct, c.want_correct) << c.what;
    EXPECT_EQ(m.args.missing, c.missing) << c.what;
    EXPECT_EQ(m.args.extra, c.extra) << c.what;
  }
  EXPECT_STREQ(arg_type_name(ArgType::Number), "number");
}

TEST(CallMatch, ResponseOnlyGroundTruths) {
  const std::string expected = "<think>no tool needed</think>\n<response>Hello!</response>";
  const CallMatch answered = match("<think>hi</think>\n<response>Hi there.</response>", expected);
  EXPECT_TRUE(answered.exact);
  EXPECT_EQ(answered.error, CallError::None);
  const CallMatch called =
      match("<think>hi</think>\n<tool_call>\n{\"name\": \"greet\", \"parameters\": {}}\n</tool_call>", expected);
  EXPECT_FALSE(called.exact);
  EXPECT_EQ(called.error, CallError::UnexpectedCall);
  EXPECT_STREQ(call_error_name(called.error), "unexpected_call");
}

TEST(CallMatch, StatusAndLineOfABrokenBlock) {
  JsonParser parser;
  Arena arena(1024);
  const ToolCalls bad = tool_calls_parse("<tool_call>\n{\"name\": \"a\"}\n{\"name\": 1}\n</tool_call>", parser, arena);
  EXPECT_EQ(bad.status, CallsStatus::NotACall);
  EXPECT_EQ(bad.bad_line, 1u);
  EXPECT_TRUE(bad.calls.empty());
  const ToolCalls json = tool_calls_parse("<tool_call>\n{\"name\": \"a\"}\nnot json\n</tool_call>", parser, arena);
  EXPECT_EQ(json.status, CallsStatus::BadJson);
  EXPECT_EQ(json.bad_line, 1u);
  const ToolCalls ok = tool_calls_parse(kExpected, parser, arena);
  ASSERT_EQ(ok.status, CallsStatus::Ok);
  EXPECT_EQ(ok.calls.size(), 2u);
  EXPECT_THROW(calls_match(ok, json), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::reward
