// Tool calls as an evaluation compares them: the calls of a ToolRL-format text (the first <tool_call> block, one
// JSON object per line, as the reward reads them) and whether a model's calls are exactly the expected ones — the
// same multiset of calls, each compared whole with Python ==, in any order. Used by `toolgrpo eval`.
#pragma once

#include <cstddef>
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

struct CallMatch {
  bool exact = false;  // same multiset of whole calls (or, when none is expected, no call made)
  bool names = false;  // same multiset of tool names (or none expected and none made)
  CallError error = CallError::None;
};

// `expected` must be None or Ok (a ground truth whose block does not parse is the caller's error to report).
CallMatch calls_match(const ToolCalls& predicted, const ToolCalls& expected);

}  // namespace toolgrpo::reward
