// Scoring many rollouts at once in a Kokkos parallel loop over the host execution space. Each rollout names
// its ground truth by index, so a group of G samples shares one prepared ground truth.
#pragma once

#include <cstdint>
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

// Identical to calling score_output on each rollout; requires Kokkos to be initialised.
std::vector<RewardScores> score_batch(const BatchInput& in, const std::vector<GroundTruth>& gts,
                                      const RewardConfig& cfg);

}  // namespace toolgrpo::reward
