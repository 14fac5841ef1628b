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
  int64_t gen_prompt_rows = 0;     // rows of the prompt cache: one per prompt with prefix sharing, else one per
                                   // sequence (each padded to gen_longest_prompt)
  // model.device cuda: the weights, their gradients and moments, activations and generation live on the GPU
  // and are compared with its free memory; the checkpoint's snapshot and gathered moments stay in host memory.
  bool device = false;
  bool fused_attention = false;  // prefill through the fused attention kernel: no per-head L x L scores
  int64_t nccl_communicators = 0;  // NCCL communicators this rank makes (gradients, optimizer shards, weights)
  std::vector<std::string>
      notes;  // what the plan should point out besides the sizes (printed under the table)
};

struct MemoryPart {
  std::string name;
  double bytes;
  std::string detail;   // what decides it, e.g. "1024 tokens x 24 layers"
  bool device = false;  // on the GPU (a run with model.device cuda); else host memory
};

// Where a run's memory is compared: the host's, and on GPU runs also the device's.
struct MemoryBudget {
  double host = 0;  // bytes this rank may use of the node's memory
  std::string host_source;
  double device = 0;  // bytes free on this rank's GPU at start-up (device runs only)
  std::string device_source;
};

struct MemoryPlan {
  std::vector<MemoryPart> parts;
  bool device = false;  // the model is on a GPU: `peak` is the GPU's, `host_peak` the host's
  double peak = 0;      // bytes: the persistent parts plus the larger of training and generation
  double available = 0;  // bytes this rank may use where `peak` lives
  std::string available_source;
  double host_peak = 0, host_available = 0;  // device runs: what stays in host memory, against the host's
  std::string host_source;
  std::vector<std::string> notes;  // the workload's
  bool fits() const {
    return peak <= 0.95 * available && (!device || host_peak <= 0.95 * host_available);
  }
  std::string table() const;  // one line per part, then the peak against the available memory
};

// Padded tokens of the largest micro-batch that learner.hpp's micro_batches() forms from at most `sequences`
// sequences of up to `longest` tokens under a budget of `budget` padded tokens (a sequence over the budget
// still forms a micro-batch of its own).
int64_t largest_micro_batch(int64_t budget, int64_t longest, int64_t sequences);

// The estimate (fp32 weights and activations, the stored-activation backward of model/decoder.cpp).
MemoryPlan memory_plan(const model::ModelConfig& cfg, const MemoryWorkload& w, const MemoryBudget& budget);

// Host-only runs: memory_plan with budget {available_bytes, available_source}.
MemoryPlan memory_plan(const model::ModelConfig& cfg, const MemoryWorkload& w, double available_bytes,
                       const std::string& available_source);

// Bytes NCCL allocates on the GPU for one communicator: a send and a receive buffer of NCCL_BUFFSIZE (default
// 4 MiB, or the environment's) for each of up to 32 channels, and its fixed structures (0.1 GB).
double nccl_communicator_bytes();

// The caching allocator's reserve on a GPU: memory it has taken from the device but holds in freed blocks
// (rounding to its block sizes and fragmentation between generation and training); counted as 10% of what
// the plan's tensors need at their peak, at least 0.5 GB.
double allocator_reserve_bytes(double tensor_peak);

// What the node reports about its memory, read once; a figure not found reads as 0 (a cgroup without a limit
// has an empty cgroup_file).
struct MemoryReading {
  double mem_available = 0;  // bytes: /proc/meminfo MemAvailable
  double cgroup_limit = 0;   // bytes: the cgroup v2 memory.max, else the cgroup v1 memory.limit_in_bytes
  double cgroup_used = 0;    // bytes: that cgroup's current usage
  std::string cgroup_file;   // "memory.max" or "memory.limit_in_bytes" (empty: no limit)
};

// Reads /proc/meminfo and the cgroup (v2, else v1) files of this process. For the tests, the environment
// variable TOOLGRPO_NODE_MEMORY_GB=X stands in a node of X GB that only this process uses: MemAvailable reads
// as X GB less this process's resident memory at the moment of reading (printed to stderr), no cgroup.
MemoryReading memory_reading();

// Bytes this process may use: MemAvailable, or the cgroup limit less its usage when lower (or when
// MemAvailable is missing), divided by `ranks_on_node`; never negative. `source` describes where the figure
// came from.
double memory_available(const MemoryReading& m, int ranks_on_node, std::string& source);

// The same of this machine's reading now: memory_available(memory_reading(), ranks_on_node, source).
double memory_available(int ranks_on_node, std::string& source);

// This process's resident memory now and its peak (VmRSS, VmHWM of /proc/self/status) in bytes; 0 where
// unreadable.
struct ProcessMemory {
  double resident = 0, peak = 0;
  double file = 0;  // of `resident`, pages of mapped files (RssFile: the page cache, shared between processes)
};
ProcessMemory process_memory();
// Starts a new peak window: Linux's VmHWM restarts from the resident memory now (writing 5 to clear_refs).
void process_memory_peak_restart();

// Where a phase of a step ends (loading, generation, a log-prob pass, forward and backward, an update, a weight
// sync, a checkpoint save): returns the heap's free pages to the system (malloc_trim). The
// trainer lets glibc keep freed blocks (model::cpu_allocator_keep_memory) so a phase reuses its buffers without
// page faults; released here, the blocks one phase kept do not stay resident under the next phase's tensors of
// other sizes, and the process peaks at its largest phase, as the plan counts it.
// With the environment variable TOOLGRPO_MEMORY_TRACE set (to anything but 0) it then prints "memory: rank R
// PHASE: resident X GB (files mapped F GB), peak Y GB" to stderr, the peak being the highest resident figure
// since the previous phase's end (Linux's VmHWM, restarted each time), to hold against the plan's parts.
void memory_phase_end(int rank, const std::string& phase);

// Bytes free on CUDA device `device` now (cudaMemGetInfo), divided by the `sharing` ranks that use it; 0 with
// `source` saying why when the build has no CUDA runtime or the query fails.
double device_memory_free(int device, int sharing, std::string& source);

// Ranks of a node's `local_size` that use GPU `local_rank % devices` (one rank per GPU unless shared).
int ranks_on_device(int local_rank, int local_size, int devices);

}  // namespace toolgrpo::app
