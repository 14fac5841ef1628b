// What a rank of a run does, in the sizes the memory plan counts (memory_plan.hpp's MemoryWorkload), from the
// run's configuration alone: the trainers call these with what they hold (the data's longest prompt, their
// roles, the checkpoint saver's choices), and `toolgrpo plan` calls them with what a configuration implies,
// before any node is allocated. One place decides the sizes, so the plan printed at start-up and the one printed
// ahead agree.
#pragma once

#include <cstdint>
#include <string>

#include "app/config/config.hpp"
#include "app/train/checkpoint.hpp"
#include "app/train/memory_plan.hpp"

namespace toolgrpo::app {

// A GRPO rank's part of the run.
struct GrpoRank {
  bool trains = true, generates = true;
  int64_t training_ranks = 1, generation_ranks = 1;
};

// Prompt lengths in tokens, after rollout.max_prompt_tokens: the longest training prompt, and the evaluation's
// prompts (how many, and the longest; 0 without evaluation).
struct PromptSizes {
  int64_t train_longest = 0;
  int64_t eval_prompts = 0, eval_longest = 0;
};

// The trainer's sizes of a GRPO rank: micro-batches (prefix sharing or not), the vocabulary head's rows, and the
// larger of a step's and an evaluation's generation. `reference`: the rank holds a KL reference copy.
MemoryWorkload grpo_memory_workload(const Config& c, const GrpoRank& r, const PromptSizes& p, bool reference);

// The trainer's sizes of an SFT rank of `ranks`: the longest example (prompt and answer) and answer, in tokens.
MemoryWorkload sft_memory_workload(const Config& c, int64_t ranks, int64_t longest_sequence, int64_t longest_answer);

// The run's part, added to a trainer's workload: `saver`'s host snapshot and gathered moments, bf16, the
// optimizer's shards over the `training_ranks`, and on GPUs (`device`: the model computes on one, a GPU budget
// was read) the attention kernel (`fused_attention`: the prefill keeps no per-head scores) and NCCL's
// communicators.
void memory_workload_add_run(MemoryWorkload& w, const Config& c, int64_t training_ranks,
                             const CheckpointSaver& saver, bool device, bool fused_attention);

}  // namespace toolgrpo::app
