// A synthetic tool-calling task small enough for a tiny byte-level model (`toolgrpo synth-data`): tool catalogues
// drawn from verb x noun combinations with typed parameters (strings, integers, enums, defaults), user requests
// rendered from sentence templates, ToolRL ground truths (one call, two calls, or a plain response). Two held-out
// splits: "heldout" uses tools (verb/noun pairs) and sentence templates that the training split never shows;
// "heldout_seen" calls and lists only the training tools, with sentence templates and string values that no
// other split uses (integers and enum values keep their ranges). An optional fourth split, "rl", is for a
// training stage after SFT (the demo's GRPO): the training tools and value pools with request templates that
// no other split uses, so a model trained on "train" meets new phrasings there. Deterministic
// for a seed: the same rows on every machine (no std distributions, whose output is implementation-defined).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dataset.hpp"

namespace toolgrpo::io {

struct SynthOptions {
  int64_t train_rows = 2000;
  int64_t heldout_rows = 200;
  int64_t heldout_seen_rows = 200;  // the seen-tools held-out split
  int64_t rl_rows = 0;              // the rl split (0: none)
  uint64_t seed = 1;
  double two_call_share = 0.2;   // rows whose answer is two calls
  double response_share = 0.2;   // rows answered in plain text (small talk, or a request no listed tool serves)
  int64_t train_tools = 0;       // training tools kept (0: every pair not held out; else at least 3)
  bool arguments = true;         // false: tools without parameters, so a call is right when its names are
};

struct SynthData {
  std::vector<ToolRLRow> train, heldout;  // ids "train-<k>" / "heldout-<k>"
  std::vector<ToolRLRow> heldout_seen;     // ids "seen-<k>": training tools, new phrasings and string values
  std::vector<std::string> train_tools, heldout_tools;  // the tools each split's answers call (disjoint)
  std::vector<std::string> train_templates, heldout_templates;  // the request sentence frames (disjoint)
  std::vector<std::string> heldout_seen_templates;  // disjoint from both
  std::vector<std::string> heldout_seen_values;     // the string values only heldout_seen uses (sorted)
  std::vector<ToolRLRow> rl;                 // ids "rl-<k>": training tools and values, templates of its own
  std::vector<std::string> rl_templates;     // disjoint from the three others
};

// Throws std::invalid_argument for counts < 1 (rl_rows < 0), shares outside [0, 1] with a sum above 1, or a
// train_tools count other than 0 or 3 .. the number of training pairs.
SynthData synth_data_make(const SynthOptions& opt);

// The rows as JSON Lines {id, system, user, ground_truth} (the format dataset_load reads).
std::string synth_rows_jsonl(const std::vector<ToolRLRow>& rows);

}  // namespace toolgrpo::io
