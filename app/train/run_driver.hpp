// One run driver for GRPO and SFT (docs/DESIGN.md section 3, "Run state is one thing"): training data, the policy
// (fresh or from a checkpoint), the run log, the step loop with evaluation and checkpoint cadence, resume, stop
// signals and the time limit, the final save and the DONE marker. A trainer supplies only a step and an evaluation
// over the RunState.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "app/train/memory_plan.hpp"
#include "app/train/run_data.hpp"
#include "app/train/run_state.hpp"
#include "app/train/trainer.hpp"
#include "io/metrics.hpp"
#include "parallel/comm.hpp"

namespace toolgrpo::app {

// What long phases poll: this rank's stop flag (generation checks it between tokens) and, collectively, whether
// any rank of the world has been asked to stop.
struct StopPoll {
  const std::atomic<bool>* flag = nullptr;
  const parallel::Comm* world = nullptr;
  bool any() const;  // collective over the world
};

class StepTrainer {
 public:
  virtual ~StepTrainer() = default;
  virtual int64_t total_steps() const = 0;
  // True on the rank that holds the whole state (weights and optimizer): it writes the checkpoints.
  virtual bool holds_state() const = 0;
  virtual int generation_ranks() const = 0;
  virtual int training_ranks() const = 0;
  // Step s.step + 1: updates the weights and optimizer, advances s.cursor, returns the step's metrics row. Returns
  // nullopt when a stop signal cut it short before the weights changed (the driver restores the cursor).
  virtual std::optional<io::MetricsRow> step(RunState& s, const StopPoll& stop) = 0;
  // Evaluation after s.step steps; nullopt when a stop signal cut it short.
  virtual std::optional<io::MetricsRow> evaluate(const RunState& s, const StopPoll& stop) = 0;
  // Progress lines for rank 0.
  virtual std::string step_line(const io::MetricsRow& row, int64_t total) const = 0;
  virtual std::string eval_line(const io::MetricsRow& row) const = 0;
  // This rank's sizes for the memory plan (checkpoint snapshot excluded: the driver knows whether it saves).
  virtual MemoryWorkload memory_workload() const = 0;
  // What this trainer's own settings can lower when the plan does not fit, e.g. "lower sft.micro_batch_tokens
  // (now 500), set sft.activation_checkpointing=true, sft.max_seq_tokens" (the driver adds the run's own).
  virtual std::string memory_remedies() const = 0;
};

// Builds the trainer of a run once the state's policy and reference identity are set; it creates s.learner on
// its training ranks (the driver then restores a checkpoint's optimizer state into it).
using TrainerFactory = std::function<std::unique_ptr<StepTrainer>(RunState& s, const RunData& data)>;

// `kind`: "grpo" or "sft" (checkpoints record it; a resume must match). `trains_here`: whether this rank will
// hold optimizer state (so only those ranks read it from a checkpoint).
TrainResult run_driver(const Config& c, const parallel::Comm& world, const TrainOptions& opt, const std::string& kind,
                       bool trains_here, const TrainerFactory& make);

}  // namespace toolgrpo::app
