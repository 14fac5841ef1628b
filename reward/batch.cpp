// Kokkos batch scorer: a labelled parallel_for over rollouts on every thread of the host execution space,
// with one scratch (arena, parser, stacks) per concurrent thread; ground truths are read-only and shared.
#include "reward/batch.hpp"

#include <Kokkos_Core.hpp>
#include <atomic>
#include <exception>
#include <stdexcept>
#include <string>

namespace toolgrpo::reward {

using Space = Kokkos::DefaultHostExecutionSpace;

int host_threads() {
  return Kokkos::Experimental::UniqueToken<Space>().size();
}

void parallel_rollouts(std::size_t n, const std::function<void(std::size_t, int)>& body) {
  Kokkos::Experimental::UniqueToken<Space> token;
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  Kokkos::parallel_for("reward::parallel_rollouts",
                       Kokkos::RangePolicy<Space, Kokkos::Schedule<Kokkos::Dynamic>>(0, n),
                       [&](const std::size_t i) {
                         const int id = token.acquire();
                         try {
                           body(i, id);
                         } catch (...) {
                           if (!failed.exchange(true)) error = std::current_exception();
                         }
                         token.release(id);
                       });
  Space().fence();
  if (error) std::rethrow_exception(error);
}

std::vector<RewardScores> score_batch(const BatchInput& in, const std::vector<GroundTruth>& gts,
                                      const RewardConfig& cfg) {
  const std::size_t n = in.outputs.size();
  if (in.gt_index.size() != n || (!in.steps.empty() && in.steps.size() != n))
    throw std::invalid_argument("score_batch: outputs, gt_index and steps must have the same length");
  for (std::size_t i = 0; i < n; ++i)
    if (in.gt_index[i] < 0 || static_cast<std::size_t>(in.gt_index[i]) >= gts.size())
      throw std::out_of_range("score_batch: rollout " + std::to_string(i) + " names ground truth " +
                              std::to_string(in.gt_index[i]) + " of " + std::to_string(gts.size()));
  // score_output never throws on any output, but running out of memory does (rethrown by parallel_rollouts).
  std::vector<ScoreScratch> scratch(static_cast<std::size_t>(host_threads()));
  std::vector<RewardScores> out(n);
  parallel_rollouts(n, [&](const std::size_t i, const int thread) {
    const int64_t step = in.steps.empty() ? in.step : in.steps[i];
    out[i] = score_output(in.outputs[i], gts[static_cast<std::size_t>(in.gt_index[i])], cfg, step,
                          scratch[static_cast<std::size_t>(thread)]);
  });
  return out;
}

}  // namespace toolgrpo::reward
