// Scoring many rollouts at once in a Kokkos parallel loop over the host execution space. Each rollout names
// its ground truth by index, so a group of G samples shares one prepared ground truth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "reward/config.hpp"
#include "reward/score.hpp"

namespace toolgrpo::reward {

struct BatchInput {
  std::vector<std::string_view> outputs;  // (N) extracted outputs
  std::vector<int32_t> gt_index;          // (N) index into the ground-truth table
  std::vector<int64_t> steps;             // (N) training step of each rollout, or empty: all use `step`
  int64_t step = 0;
};

// The threads of the host execution space (Kokkos' concurrency; 1 with the Serial backend).
int host_threads();

// Runs body(i, thread) for every i in [0, n) on all threads of the host execution space, dynamically
// scheduled; `thread` is in [0, host_threads()) and no two concurrent calls get the same one, so it can index
// per-thread scratch. An exception thrown by body must not leave a parallel region: the first one caught is
// rethrown here after the loop. Requires Kokkos to be initialised.
void parallel_rollouts(std::size_t n, const std::function<void(std::size_t i, int thread)>& body);

// Identical to calling score_output on each rollout; requires Kokkos to be initialised.
std::vector<RewardScores> score_batch(const BatchInput& in, const std::vector<GroundTruth>& gts,
                                      const RewardConfig& cfg);

}  // namespace toolgrpo::reward
