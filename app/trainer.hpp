// The training loops: GRPO (generation, reward, advantages, clipped-loss updates, weight sync) and SFT
// (cross-entropy on the answers), each over a world communicator whose ranks take the roles of the config.
// Tests call these directly (with a toy reward, on sub-communicators); `toolgrpo train|sft` call them from main.
#pragma once

#include <cstdint>
#include <vector>

#include "app/config.hpp"
#include "app/policy.hpp"
#include "app/rollout.hpp"
#include "io/metrics.hpp"
#include "parallel/comm.hpp"

namespace toolgrpo::app {

struct TrainOptions {
  RewardFn reward;    // empty: the ToolRL reward of reward.variant
  int threads = 1;    // CPU threads of this rank (generation workers and intra-op parallelism)
  int local_rank = 0;  // rank on its node: model.device cuda uses GPU local_rank % GPUs
  bool save = true;   // world rank 0 writes the run directory (config, metrics, final model)
  bool print = true;  // world rank 0 prints the resolved config and progress lines
  int fail_rank = -1;       // fault injection for the failure tests: this world rank throws ...
  int64_t fail_step = -1;   // ... at the start of this step
};

struct TrainResult {
  std::vector<io::MetricsRow> metrics;  // a row per step, the same on every rank
  std::vector<io::MetricsRow> eval;     // a row per evaluation
  Policy policy;                        // the final policy (on every rank: split mode syncs after each update)
};

TrainResult grpo_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt = {});
TrainResult sft_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt = {});

// A metric of a row by name (throws std::out_of_range when absent).
double metric(const io::MetricsRow& row, const std::string& name);

}  // namespace toolgrpo::app
