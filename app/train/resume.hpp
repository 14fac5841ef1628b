// Where a run starts (docs/DESIGN.md section 3): a finished run is extended or left alone; otherwise the newest
// checkpoint every rank can load, checked against the new run, or the configured model. The checkpoint layer
// hands back tensors and facts (LoadedCheckpoint); the state and its policy are built from them here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/config/config.hpp"
#include "app/train/checkpoint.hpp"
#include "app/train/run_data.hpp"
#include "app/train/run_state.hpp"
#include "app/train/trainer.hpp"
#include "parallel/comm.hpp"

namespace toolgrpo::app {

using Say = std::function<void(const std::string&)>;  // rank 0's progress lines

// RUN_DIR/DONE as every rank sees it: rank 0 reads it and, for a DONE of an earlier version (no step count), takes
// the step of the newest checkpoint in the run's checkpoint directory. nullopt when the run has no DONE; steps -1
// when neither says how far the run got. A damaged DONE is a UsageError on every rank.
struct FinishedRun {
  int64_t steps = -1;
  bool recorded = true;  // DONE itself records the count (false: DONE of an earlier version)
};
std::optional<FinishedRun> finished_run(const Config& c, const parallel::Comm& world, const std::string& run_dir);

// For a finished run and the `asked` step count (-1: counted from the epochs, not known before the data is
// loaded): whether to extend it, and the line that says what happens ("" when `asked` is not known yet).
struct FinishedVerdict {
  bool extend = true;
  std::string line;
};
FinishedVerdict finished_run_verdict(const Config& c, const std::string& kind, const std::string& run_dir,
                                     const FinishedRun& done, int64_t asked);

// Which setting asked for `asked` steps: "grpo.steps=4" or "grpo.epochs=2 (80 steps)".
std::string steps_source(const Config& c, const std::string& kind, int64_t asked);

// What this run is, as a checkpoint records it and a resume checks it (the role sizes are set once the trainer
// exists).
RunFacts run_facts(const Config& c, const std::string& kind, const parallel::Comm& world, const RunData& data);

// The newest checkpoint that every rank loads (collective): a damaged one is named through `say` and the previous
// one tried (checkpoint.resume=auto), or refused (a path). nullopt when there is none to resume from.
// `trains_here`: this rank will hold optimizer state, so it reads the moments (its shard with a sharded optimizer).
std::optional<LoadedCheckpoint> resume_load(const Config& c, const parallel::Comm& world, const std::string& kind,
                                            bool trains_here, const Say& say);

// The run state at the start: from `ck` (after checking that it is a checkpoint of this run; the settings that
// changed are returned in `changed`, one line each) or fresh from the configured model. The learner is made later,
// by the trainer; optimizer_restore then fills it.
RunState run_state_start(const Config& c, const TrainOptions& opt, const LoadedCheckpoint* ck, const RunFacts& facts,
                         std::vector<std::string>& changed);
void optimizer_restore(const LoadedCheckpoint& ck, Learner& learner);

}  // namespace toolgrpo::app
