// Evaluation data of other benchmarks as ToolRL-style prompts: API-Bank as the ToolRL authors converted it (a
// JSON list of {system, user, answer, other}) and BFCL v3 question and possible-answer files (JSON Lines),
// whose function documents are rendered into ToolRL's system prompt. Read with the reward's JSON type, so
// values keep Python's semantics (ints vs floats, duplicate keys) for the checks. Bad input:
// std::runtime_error naming the file and the line (JSON Lines) or 0-based element (JSON list) and what was
// expected.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "reward/bfcl_check.hpp"

namespace toolgrpo::reward {

struct EvalPrompt {
  std::string id;
  std::string system, user;  // ToolRL-style prompt
  std::string ground_truth;  // ToolRL-style expected output
};

// API-Bank rows: id = the 0-based position, ground_truth = "<think> </think>\n<tool_call>\n{"name": ...,
// "parameters": ...}\n</tool_call>" from the row's "answer" (a call object or a one-element list of one).
std::vector<EvalPrompt> apibank_load(const std::string& path);

struct BfclQuestion {
  EvalPrompt prompt;  // ground_truth: the case's toolrl_text()
  BfclCase check;
  std::size_t line = 0;  // in the questions file
  // The case's warnings(), each prefixed "ANSWERS:LINE: id \"ID\": ": quirks BFCL evaluates without
  // complaint.
  std::vector<std::string> warnings;
};

// BFCL questions {id, question: [[{role, content}, ...], ...], function: [...]} and, unless `answers` is
// empty, possible answers {id, ground_truth}; every question needs an answer row then. Without answers every
// question expects no call (irrelevance). The id's BFCL category picks the checker (BfclCase).
std::vector<BfclQuestion> bfcl_load(const std::string& questions, const std::string& answers);

// The ToolRL system prompt listing `functions` (a JSON list of {name, description, parameters}).
std::string bfcl_system_prompt(const Value& functions);

}  // namespace toolgrpo::reward
