// The memory plan of a training run: before the first step, the bytes a rank will hold at its peak (weights,
// gradients, AdamW moments, the reference copy, the checkpoint snapshot, the largest micro-batch's saved
// activations and vocabulary-head rows, the generation KV cache) against the memory this rank may use (the
// node's available memory or its cgroup limit, shared by the ranks on the node). A run that cannot fit stops
// with the keys that would make it fit, instead of being killed by the OOM killer minutes later.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.hpp"

namespace toolgrpo::app {

// What a rank does, in the sizes that decide its memory.
struct MemoryWorkload {
  bool trains = true;           // holds gradients and optimizer state
  bool reference = false;       // holds a separate reference copy of the weights (KL against the reference)
  bool snapshot = false;        // holds the asynchronous checkpoint's host copy of weights and AdamW moments
  int64_t optimizer_shards = 1;    // parallel.shard_optimizer: ranks the AdamW moments are split over
  bool gathers_moments = false;    // sharded: this rank collects every moment when it writes a checkpoint
  int64_t micro_batch_tokens = 0;  // padded tokens (sequences x longest) of the largest training micro-batch
  int64_t longest_sequence = 0;    // tokens of the longest row (prompt + response or answer; with prefix
                                   // sharing a prompt and the samples packed after it)
  int64_t head_tokens = 0;         // positions of one micro-batch that go through the vocabulary head
  bool checkpointing = false;      // activation checkpointing: a layer keeps only its input
  bool bf16 = false;  // model.dtype bf16: a bf16 copy of the layers computes (fp32 master and head)
  int64_t gen_sequences = 0;       // sequences this rank samples at once (0: it does not generate)
  int64_t gen_prompt_tokens = 0;   // their prompts' tokens, each group's prompt counted once
  int64_t gen_longest_prompt = 0;
  int64_t gen_new_tokens = 0;      // new tokens per sequence
  std::vector<std::string>
      notes;  // what the plan should point out besides the sizes (printed under the table)
};

struct MemoryPart {
  std::string name;
  double bytes;
  std::string detail;  // what decides it, e.g. "1024 tokens x 24 layers"
};

struct MemoryPlan {
  std::vector<MemoryPart> parts;
  double peak = 0;            // bytes: the persistent parts plus the larger of training and generation
  double available = 0;       // bytes this rank may use
  std::string available_source;
  std::vector<std::string> notes;  // the workload's
  bool fits() const { return peak <= 0.95 * available; }
  std::string table() const;  // one line per part, then the peak against the available memory
};

// Padded tokens of the largest micro-batch that learner.hpp's micro_batches() forms from at most `sequences`
// sequences of up to `longest` tokens under a budget of `budget` padded tokens (a sequence over the budget
// still forms a micro-batch of its own).
int64_t largest_micro_batch(int64_t budget, int64_t longest, int64_t sequences);

// The estimate (fp32 weights and activations, the stored-activation backward of model/decoder.cpp).
MemoryPlan memory_plan(const model::ModelConfig& cfg, const MemoryWorkload& w, double available_bytes,
                       const std::string& available_source);

// What the node reports about its memory, read once; a figure not found reads as 0 (a cgroup without a limit
// has an empty cgroup_file).
struct MemoryReading {
  double mem_available = 0;  // bytes: /proc/meminfo MemAvailable
  double cgroup_limit = 0;   // bytes: the cgroup v2 memory.max, else the cgroup v1 memory.limit_in_bytes
  double cgroup_used = 0;    // bytes: that cgroup's current usage
  std::string cgroup_file;   // "memory.max" or "memory.limit_in_bytes" (empty: no limit)
};

// Reads /proc/meminfo and the cgroup (v2, else v1) files of this process.
MemoryReading memory_reading();

// Bytes this process may use: MemAvailable, or the cgroup limit less its usage when lower (or when
// MemAvailable is missing), divided by `ranks_on_node`; never negative. `source` describes where the figure
// came from.
double memory_available(const MemoryReading& m, int ranks_on_node, std::string& source);

// The same of this machine's reading now: memory_available(memory_reading(), ranks_on_node, source).
double memory_available(int ranks_on_node, std::string& source);

}  // namespace toolgrpo::app
