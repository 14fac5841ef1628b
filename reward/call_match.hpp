// Tool calls as an evaluation compares them: the calls of a ToolRL-format text (the first <tool_call> block, one
// JSON object per line, as the reward reads them) and whether a model's calls are exactly the expected ones — the
// same multiset of calls, each compared whole with Python ==, in any order. Used by `toolgrpo eval`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "reward/arena.hpp"
#include "reward/json.hpp"

namespace toolgrpo::reward {

enum class CallsStatus {
  None,      // no "<tool_call>": the text makes no call
  Ok,        // every line of the block is a JSON object with a string "name"
  Unclosed,  // "<tool_call>" without a "</tool_call>" after it
  BadJson,   // a line json.loads rejects
  NotACall,  // a line that is JSON but not an object with a string "name"
};

struct ToolCalls {
  CallsStatus status = CallsStatus::None;
  std::vector<const Value*> calls;  // the parsed lines (in the arena) when status is Ok
  std::size_t bad_line = 0;         // 0-based line of the block, for BadJson and NotACall
};

// The calls of `text`; the values live in `arena` and may point into `text` (both must outlive the result).
ToolCalls tool_calls_parse(std::string_view text, JsonParser& parser, Arena& arena);

// Why predicted calls are not the expected ones, most basic reason first.
enum class CallError {
  None,            // exact
  MissingCall,     // calls were expected, the output makes none
  UnexpectedCall,  // a plain response was expected, the output calls a tool
  BrokenCall,      // the output's call block is unclosed, not JSON, or a line is not a call object
  WrongCount,      // another number of calls than expected
  WrongName,       // the same number, but not the same multiset of tool names
  WrongArguments,  // the same names, but some call's arguments (or other fields) differ
};
const char* call_error_name(CallError e);  // "none", "missing_call", ..., "wrong_arguments"

// The arguments of the calls whose names match, by the JSON type of the expected value: which values a model
// copies and which it gets wrong, where "wrong_arguments" alone does not say.
enum class ArgType { String, Number, Bool, Other };  // Number: int or float; Other: null, list, dict
inline constexpr std::size_t kArgTypes = 4;
const char* arg_type_name(ArgType t);  // "string", "number", "bool", "other"

struct ArgTally {
  std::array<int64_t, kArgTypes> expected{};  // arguments of the expected calls, by ArgType
  std::array<int64_t, kArgTypes> correct{};   // of those, passed with a value that is == the expected one
  int64_t missing = 0;                        // expected arguments the paired call does not pass
  int64_t extra = 0;                          // arguments passed that the expected call does not have
  int64_t expected_total() const;
  int64_t correct_total() const;
  double accuracy() const;           // correct / expected over every type (0 when none is expected)
  double accuracy(ArgType t) const;  // the same for one type
  ArgTally& operator+=(const ArgTally& o);
};

struct CallMatch {
  bool exact = false;  // same multiset of whole calls (or, when none is expected, no call made)
  bool names = false;  // same multiset of tool names (or none expected and none made)
  CallError error = CallError::None;
  // When the names match and calls are expected: each expected call paired with a predicted call of its name
  // (the one with the most equal values), their "parameters" (or "arguments") compared key by key.
  ArgTally args;
};

// `expected` must be None or Ok (a ground truth whose block does not parse is the caller's error to report).
CallMatch calls_match(const ToolCalls& predicted, const ToolCalls& expected);

}  // namespace toolgrpo::reward
