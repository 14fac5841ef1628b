// Checkpoints of a run (docs/DESIGN.md section 3): the RunState and the run's facts as one HDF5 file
// (io/checkpoint_file), written by the one rank that holds the whole state — in a background thread from a
// host snapshot, so training blocks only for the copy — or, with a sharded optimizer, by all training ranks
// together (each its shard, through parallel HDF5), and read back by every rank at any world size. Layout:
// /model/<HF name> (fp32), /optim/<HF name>/{exp_avg,exp_avg_sq}, /meta/<key> (README, "Checkpoints").
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app/config/config.hpp"
#include "app/train/run_state.hpp"

namespace toolgrpo::app {

// What a checkpoint records besides the run state, and what a resume checks against the new run.
struct RunFacts {
  std::string kind;         // "grpo" | "sft"
  std::string config_yaml;  // the resolved configuration of the run that saved
  int64_t seed = 0;
  int64_t world_size = 1, generation_ranks = 1, training_ranks = 1;  // role sizes at save time
  std::string data_path;    // data.train
  int64_t data_rows = 0;
  uint32_t data_checksum = 0;  // CRC-32C of the training file's bytes
};

// A checkpoint read into memory (fp32 CPU tensors), every tensor's checksum verified.
struct LoadedCheckpoint {
  std::string path;
  RunFacts facts;
  int64_t step = 0;
  io::DataCursor cursor;
  double train_seconds = 0;
  bool eval_pending = false;
  ModelOrigin reference;
  std::string model_config_json, tokenizer_json, chat_format, source_dir;
  model::ModelConfig cfg;       // parsed from model_config_json
  model::DecoderWeights weights;  // fp32 on the CPU
  std::vector<at::Tensor> exp_avg, exp_avg_sq;  // decoder_named_parameters order; empty unless asked for
  // Read for a sharded optimizer: this rank's moment shards (flat, laid out as ShardedAdamW::layout) instead.
  at::Tensor shard_exp_avg, shard_exp_avg_sq;
  int64_t optimizer_step = 0;
};

// The tensors a checkpoint of `s` holds, named by their paths in the file (model/..., optim/.../exp_avg[_sq]).
std::vector<std::pair<std::string, at::Tensor>> checkpoint_tensors(const RunState& s);

// RUN_DIR/checkpoints of the run `c` describes.
std::string checkpoint_dir(const Config& c);

// Reads `path`; `with_optimizer` also reads the AdamW moments. Throws io::CheckpointError naming the file and
// the problem (incomplete, damaged, missing tensor or key). `shards` (collective over it): the training ranks
// of a run whose optimizer is sharded; each reads only its shard of the moments, and the ranks verify the
// moments' checksums together (every rank throws when the file is damaged or any rank failed).
LoadedCheckpoint checkpoint_load(const std::string& path, bool with_optimizer,
                                 const parallel::Comm* shards = nullptr);

// The checkpoint a path names: the file itself, or a run directory's newest complete checkpoint ("" when the
// directory has none).
std::string checkpoint_resolve(const std::string& path);

// Whether the training ranks write a sharded optimizer's checkpoint into one file together (checkpoint.collective
// with parallel.shard_optimizer over several training ranks) instead of gathering it on one writer.
bool checkpoint_collective(const Config& c, int64_t training_ranks);

class CheckpointSaver {
 public:
  // `active`: this rank holds the whole state and writes (or, `collective`, leads the write); on other ranks
  // a save only takes part in gathering a sharded optimizer's moments or, `collective`, writes this rank's
  // shard, when `saving` (the run saves checkpoints, whichever rank writes them). `collective`: the optimizer
  // is sharded over several training ranks and checkpoint.collective is on.
  // `before_commit` (tests): runs in the save of step `pause_step` just before its commit marker.
  CheckpointSaver(std::string dir, const CheckpointSection& cfg, bool active, int64_t pause_step = -1,
                  bool saving = false, bool collective = false);
  ~CheckpointSaver();  // waits for a save in flight (a failure is printed, not thrown)
  CheckpointSaver(const CheckpointSaver&) = delete;
  CheckpointSaver& operator=(const CheckpointSaver&) = delete;

  // Saves `s` as ckpt-<step>.h5, then moves `latest` to it and prunes to checkpoint.keep. Returns the seconds
  // the caller was blocked: waiting for the previous save, plus the snapshot (async) or the whole write (sync).
  double save(const RunState& s, const RunFacts& facts);
  // Async saves: allocates the snapshot's host buffers for `s` in the background (at the start of a run), so that
  // the first save blocks for a copy only, not for faulting in fresh pages.
  void prepare(const RunState& s);
  // Whether this rank keeps a host snapshot of the state (it writes, asynchronously): the memory plan counts it.
  bool snapshots() const { return active_ && cfg_.async && !collective_; }
  bool writes() const { return active_; }  // this rank writes (or leads the writing of) the checkpoints
  // This rank collects every AdamW moment of a sharded optimizer for a save (the memory plan counts them).
  bool gathers_moments() const { return active_ && !collective_; }
  bool collective() const { return collective_; }
  void wait();  // until the save in flight is complete; rethrows its failure
  int64_t saved_step() const { return saved_step_; }     // step of the last save started, -1 before the first
  double write_seconds() const { return write_seconds_; }  // the last completed save's wall time (0 before one)
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  CheckpointSection cfg_;
  bool active_, saving_, collective_;
  int64_t pause_step_;
  int64_t saved_step_ = -1;
  std::atomic<double> write_seconds_{0};  // set by the writer thread
  std::vector<at::Tensor> snapshot_;       // async: host copies of the state, allocated once, reused by every save
  std::thread worker_;
  std::exception_ptr error_;
};

}  // namespace toolgrpo::app
