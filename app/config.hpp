// The run configuration: YAML sections of docs/DESIGN.md section 4 parsed once, up front, with `key=value`
// overrides. Unknown keys, wrong types, out-of-range values and divisibility problems are all reported
// together, each with its YAML path (and line). Each module later receives only its own small struct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace toolgrpo::app {

struct RunSection {
  std::string name = "toolgrpo";
  std::string out_dir = "runs";
  int64_t seed = 1;
  double time_limit = 0;  // seconds of this allocation the run may use (YAML: seconds or HH:MM:SS; 0 = none)
  bool memory_check = true;     // stop before the first step when the memory plan does not fit
  double memory_limit_gb = 0;   // memory one rank may use; 0 = detect (MemAvailable or cgroup limit / node ranks)
};
struct ModelSection {
  std::string path;              // Hugging Face model directory; empty: a built-in tiny model
  std::string arch = "qwen2";    // built-in model architecture (qwen2 | qwen3 | llama)
  std::string preset = "tiny";   // built-in model size (tiny | demo | small | bench)
  std::string dtype = "fp32";    // fp32 | bf16
  std::string device = "cpu";    // cpu | cuda
  std::string chat_template;     // qwen2.5 | qwen3 | llama3; empty: from the architecture
};
struct DataSection {
  std::string train;
  std::string eval;
  std::string format = "auto";  // auto | jsonl | toolrl-json
  bool skip_bad_rows = false;
  int64_t eval_prompts = 32;  // evaluation: the first N rows of data.eval (0 = all)
};
struct RolloutSection {
  int64_t prompts_per_step = 8;
  int64_t group_size = 4;
  int64_t max_prompt_tokens = 2048;
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
};
struct RewardSection {
  std::string variant = "default";
};
struct GrpoSection {
  double lr = 1e-6;
  std::string schedule = "constant";  // constant | warmup | cosine
  int64_t warmup_steps = 0;
  int64_t mini_batches = 4;
  int64_t micro_batch_tokens = 8192;
  bool activation_checkpointing = false;  // recompute each layer in backward: same gradients, less memory
  bool skip_zero_advantage = true;  // no forward/backward for sequences whose loss gradient is exactly zero
  bool prefix_sharing = true;  // a group's prompt forwarded (and back-propagated) once for all its samples
  bool response_only_head = true;  // the vocabulary head at response positions only (false: every position)
  int64_t epochs = 1;
  int64_t steps = 0;  // 0: as many as the epochs take
  double clip_low = 0.2;
  double clip_high = 0.2;
  double dual_clip_c = 0;
  std::string adv_std = "unbiased";  // unbiased | population | none
  std::string advantage = "grpo";    // grpo (normalise the summed reward) | gdpo (normalise each component, sum)
  std::string loss_agg = "token-mean";
  std::string kl_type = "k3";
  double kl_coef = 0;
  std::string kl_where = "loss";  // loss | reward
  double entropy_coef = 0;
  double max_grad_norm = 1.0;
  double weight_decay = 0.01;
  bool dynamic_sampling = false;      // drop groups whose rewards are all equal and refill from the data
  int64_t dynamic_sampling_rounds = 4;  // at most this many generation rounds per step
  std::string overlong = "none";      // none | filter (truncated responses get no loss) | penalty (soft, DAPO)
  int64_t overlong_buffer = 0;        // penalty: ramp over the last N tokens before the limit (0 = limit / 4)
  double overlong_penalty = 1.0;      // penalty: reward subtracted at the limit
};
struct SftSection {
  double lr = 1e-5;
  std::string schedule = "constant";
  int64_t warmup_steps = 0;
  int64_t batch_size = 8;  // examples per optimizer step (all ranks together)
  int64_t epochs = 1;
  int64_t steps = 0;  // 0: as many as the epochs take
  int64_t micro_batch_tokens = 8192;
  bool activation_checkpointing = false;  // recompute each layer in backward: same gradients, less memory
  int64_t max_seq_tokens = 4096;  // prompt + answer; longer examples lose the start of their prompt
  double max_grad_norm = 1.0;
  double weight_decay = 0.01;
};
struct ParallelSection {
  std::string mode = "colocated";  // colocated | split
  int64_t generation_ranks = 1;    // split mode: ranks that generate
  int64_t threads = 0;             // CPU threads per rank (0: the node's cores / ranks on the node)
  bool shard_optimizer = false;    // AdamW moments split over the training ranks (ZeRO stage 1)
};
struct CheckpointSection {
  int64_t every = 0;  // steps; 0 = only at the end (and when the run is stopped by a signal or its time limit)
  int64_t keep = 3;   // complete checkpoints kept in RUN_DIR/checkpoints (the one `latest` names is never deleted)
  std::string resume = "auto";  // auto (newest complete checkpoint of the run directory) | never | PATH
  bool async = true;  // write in a background thread from a host snapshot (training blocks only for the copy)
  // With parallel.shard_optimizer on several training ranks: they write their shards into the one file
  // together (parallel HDF5, MPI-IO; synchronous) instead of gathering the moments on one rank that writes.
  bool collective = true;
};
struct LogSection {
  int64_t every = 1;       // progress line every N steps (metrics files get every step)
  int64_t eval_every = 0;  // evaluate on data.eval every N steps and at the end (0 = never)
};

struct Config {
  RunSection run;
  ModelSection model;
  DataSection data;
  RolloutSection rollout;
  RewardSection reward;
  GrpoSection grpo;
  SftSection sft;
  ParallelSection parallel;
  CheckpointSection checkpoint;
  LogSection log;
};

// Reads `path` (empty: defaults only), applies `overrides` ("grpo.lr=2e-6"), validates against `world_size`.
// Throws UsageError listing every problem. The returned config is complete (defaults filled in).
Config config_load(const std::string& path, const std::vector<std::string>& overrides, int world_size);
// The same from YAML text (`origin` names it in messages).
Config config_parse(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides, int world_size);
// Every field, as YAML that config_parse reads back to the same Config.
std::string config_to_yaml(const Config& c);

}  // namespace toolgrpo::app
