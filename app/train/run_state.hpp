// The state of a training run: everything a step changes, in one place. A checkpoint saves exactly this and a
// resumed run loads exactly this. Sampling randomness is derived from (run seed, step, prompt, sample) counters,
// so the seed and the data cursor are all a resume needs to draw the same prompts and samples; the learning-rate
// schedule and the reward's schedule are functions of `step`.
#pragma once

#include <cstdint>
#include <memory>

#include "app/train/learner.hpp"
#include "app/train/policy.hpp"
#include "io/dataset.hpp"

namespace toolgrpo::app {

struct RunState {
  int64_t step = 0;           // optimizer steps completed (the schedule position and the reward-schedule step)
  io::DataCursor cursor;      // where the next step's prompts (SFT: examples) start
  double train_seconds = 0;   // wall time of the completed steps, over every allocation of the run
  bool eval_pending = false;  // the evaluation due after `step` was cut short by a stop signal: run it first
  Policy policy;              // weights, tokenizer, config
  std::unique_ptr<Learner> learner;  // AdamW moments and step on training ranks; null on generation-only ranks
  ModelOrigin reference;      // the GRPO reference model (the run's starting weights), reloaded and verified on resume
};

}  // namespace toolgrpo::app
