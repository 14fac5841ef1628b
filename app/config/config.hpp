// The run configuration: YAML sections of docs/DESIGN.md section 4 parsed once, up front, with `key=value`
// overrides. Unknown keys, wrong types, out-of-range values and divisibility problems are all reported
// together, each with its YAML path (and line). The libraries below app/ receive only their own small structs
// (RolloutSection, CheckpointSection, ModelSection, ...); the trainers and the run driver compose them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/dataset.hpp"
#include "model/choices.hpp"
#include "model/config.hpp"
#include "reward/advantage.hpp"

namespace toolgrpo::app {

// The configuration's choices that belong to no library below app/ (those that do are the libraries' enums:
// model::Arch, model::Preset, model::ChatFormat, io::DatasetFormat, model::LrSchedule, reward::AdvantageStd,
// model::LossAgg, model::KlEstimator), and reward::AdvantageMode, which is declared beside its math but named only
// here. Each has one table of names in config.cpp, used to parse and print.
enum class ModelDtype { Fp32, Bf16 };           // model.dtype
enum class ModelDevice { Cpu, Cuda };           // model.device
using reward::AdvantageMode;                    // grpo.advantage (reward/advantage.hpp, where its math is)
enum class KlWhere { Loss, Reward };            // grpo.kl_where
enum class Overlong { None, Filter, Penalty };  // grpo.overlong
enum class ParallelMode { Colocated, Split };   // parallel.mode
enum class ResumeMode { Auto, Never, Path };    // checkpoint.resume: auto | never | any other text, a path

// The names of these enums (ResumeMode: auto and never only). choice_from_name throws std::invalid_argument
// "'x' is not one of: a b c".
template <class E>
E choice_from_name(const std::string& name);
template <class E>
std::vector<std::string> choice_names();
const char* choice_name(ModelDtype v);
const char* choice_name(ModelDevice v);
const char* choice_name(AdvantageMode v);
const char* choice_name(KlWhere v);
const char* choice_name(Overlong v);
const char* choice_name(ParallelMode v);
const char* choice_name(ResumeMode v);  // throws for ResumeMode::Path, which has no name

// checkpoint.resume: "auto", "never", or a checkpoint file or run directory.
struct ResumeFrom {
  ResumeMode mode = ResumeMode::Auto;
  std::string path;  // ResumeMode::Path only
  static ResumeFrom parse(const std::string& text);
  std::string text() const;  // what parse reads back: "auto", "never" or the path
};

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
  model::Arch arch = model::Arch::Qwen2;      // built-in model architecture (qwen2 | qwen3 | llama)
  model::Preset preset = model::Preset::Tiny;  // built-in model size (tiny | demo | small | bench | qwen2.5-0.5b)
  ModelDtype dtype = ModelDtype::Fp32;         // fp32 | bf16
  ModelDevice device = ModelDevice::Cpu;       // cpu | cuda
  std::optional<model::ChatFormat> chat_template;  // qwen2.5 | qwen3 | llama3; empty (YAML ""): from the architecture
};
struct DataSection {
  std::string train;
  std::string eval;
  io::DatasetFormat format = io::DatasetFormat::Auto;  // auto | jsonl | toolrl-json
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
  model::LrSchedule schedule = model::LrSchedule::Constant;  // constant | warmup | cosine
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
  reward::AdvantageStd adv_std = reward::AdvantageStd::Unbiased;  // unbiased | population | none
  AdvantageMode advantage = AdvantageMode::Grpo;  // grpo (normalise the summed reward) | gdpo (normalise each component, sum)
  model::LossAgg loss_agg = model::LossAgg::TokenMean;  // token-mean | seq-mean-token-mean | seq-mean-token-sum-norm
  model::KlEstimator kl_type = model::KlEstimator::K3;  // k1 | k2 | k3
  double kl_coef = 0;
  KlWhere kl_where = KlWhere::Loss;  // loss | reward
  double entropy_coef = 0;
  double max_grad_norm = 1.0;
  double weight_decay = 0.01;
  bool dynamic_sampling = false;      // drop groups whose rewards are all equal and refill from the data
  int64_t dynamic_sampling_rounds = 4;  // at most this many generation rounds per step
  Overlong overlong = Overlong::None;  // none | filter (truncated responses get no loss) | penalty (soft, DAPO)
  int64_t overlong_buffer = 0;        // penalty: ramp over the last N tokens before the limit (0 = limit / 4)
  double overlong_penalty = 1.0;      // penalty: reward subtracted at the limit
};
struct SftSection {
  double lr = 1e-5;
  model::LrSchedule schedule = model::LrSchedule::Constant;  // constant | warmup | cosine
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
  ParallelMode mode = ParallelMode::Colocated;  // colocated | split
  int64_t generation_ranks = 1;    // split mode: ranks that generate
  int64_t threads = 0;             // CPU threads per rank (0: the node's cores / ranks on the node)
  bool shard_optimizer = false;    // AdamW moments split over the training ranks (ZeRO stage 1)
  bool share_gpus = false;         // model.device cuda: allow more ranks than GPUs on a node (refused otherwise)
  bool tf32 = true;                // model.device cuda: fp32 matrix products may use TF32 tensor cores
};
struct CheckpointSection {
  int64_t every = 0;  // steps; 0 = only at the end (and when the run is stopped by a signal or its time limit)
  int64_t keep = 3;   // complete checkpoints kept in RUN_DIR/checkpoints (the one `latest` names is never deleted)
  ResumeFrom resume;  // auto (newest complete checkpoint of the run directory) | never | PATH
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
