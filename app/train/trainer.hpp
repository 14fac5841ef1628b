// The training loops: GRPO (generation, reward, advantages, clipped-loss updates, weight sync) and SFT
// (cross-entropy on the answers), each over a world communicator whose ranks take the roles of the config.
// Tests call these directly (with a toy reward, on sub-communicators); `toolgrpo train|sft` call them from main.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/config/config.hpp"
#include "app/report/progress.hpp"
#include "app/train/policy.hpp"
#include "app/train/rollout.hpp"
#include "io/metrics.hpp"
#include "parallel/comm.hpp"

namespace toolgrpo::app {

// The phase of a step in which the signal tests raise SIGUSR1 (TOOLGRPO_SIGNAL_INJECT=RANK:STEP:PHASE).
enum class SignalPhase { None, Generate, Train, Eval };
// The names, one table (run_driver.cpp): generate | train | eval (None has none). from_name throws
// std::invalid_argument listing them.
SignalPhase signal_phase_from_name(const std::string& name);
const char* signal_phase_name(SignalPhase phase);

struct TrainOptions {
  RewardFn reward;    // empty: the ToolRL reward of reward.variant
  int threads = 1;    // CPU threads of this rank (generation workers and intra-op parallelism)
  int local_rank = 0;  // rank on its node: model.device cuda uses GPU local_rank % GPUs
  int local_size = 1;  // ranks on this node (they share its memory)
  bool save = true;   // world rank 0 writes the run directory (config, metrics, final model)
  bool print = true;  // world rank 0 prints the resolved config and progress lines
  ProgressStyle progress = ProgressStyle::Off;  // world rank 0's progress bar in generation and evaluation
  int fail_rank = -1;       // fault injection for the failure tests: this world rank throws ...
  int64_t fail_step = -1;   // ... at the start of this step
  int signal_rank = -1;          // signal tests: this world rank raises SIGUSR1 on itself ...
  int64_t signal_step = -1;      // ... in this step (0-based) ...
  SignalPhase signal_phase = SignalPhase::None;  // ... during this phase
  int64_t pause_save_step = -1;  // crash tests: the save of this step sleeps before its commit marker
};

// Signal tests: raises SIGUSR1 on this rank (world rank `rank`) when `opt` asks for it in `step` and `phase`.
void signal_if_asked(const TrainOptions& opt, int rank, int64_t step, SignalPhase phase);

// How a run ended.
enum class RunEnd {
  Finished,     // every step done (a finished run asked for more: extended); final checkpoint, model and DONE written
  Stopped,      // a stop signal or the time limit: checkpoint written, exit with kRequeueExitCode
  AlreadyDone,  // the run directory holds DONE and the config asks for no more steps than it records: nothing done
};

struct TrainResult {
  std::vector<io::MetricsRow> metrics;  // a row per step, the same on every rank
  std::vector<io::MetricsRow> eval;     // a row per evaluation
  Policy policy;                        // the final policy (on every rank: split mode syncs after each update)
  RunEnd end = RunEnd::Finished;
  int64_t first_step = 0;               // steps already done when this process started (resumed runs)
};

// The steps a run of `kind` ("grpo" or "sft") takes: `kind`.steps, else its epochs over `rows` training rows
// (`rows` < 0: not loaded yet; -1 is returned when the count needs them). The trainers and the run driver's
// check of a finished run count with it.
int64_t steps_asked(const Config& c, const std::string& kind, int64_t rows);

TrainResult grpo_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt = {});
TrainResult sft_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt = {});

// A metric of a row by name (throws std::out_of_range when absent).
double metric(const io::MetricsRow& row, const std::string& name);

}  // namespace toolgrpo::app
