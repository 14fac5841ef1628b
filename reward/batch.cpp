// Kokkos batch scorer: a labelled parallel_for over rollouts with one scratch per concurrent thread.
#include "reward/batch.hpp"

#include <Kokkos_Core.hpp>
#include <stdexcept>
#include <string>

namespace toolgrpo::reward {

std::vector<RewardScores> score_batch(const BatchInput& in, const std::vector<GroundTruth>& gts,
                                      const RewardConfig& cfg) {
  using Space = Kokkos::DefaultHostExecutionSpace;
  const std::size_t n = in.outputs.size();
  if (in.gt_index.size() != n || (!in.steps.empty() && in.steps.size() != n))
    throw std::invalid_argument("score_batch: outputs, gt_index and steps must have the same length");
  for (std::size_t i = 0; i < n; ++i)
    if (in.gt_index[i] < 0 || static_cast<std::size_t>(in.gt_index[i]) >= gts.size())
      throw std::out_of_range("score_batch: rollout " + std::to_string(i) + " names ground truth " +
                              std::to_string(in.gt_index[i]) + " of " + std::to_string(gts.size()));

  Kokkos::View<double* [4], Kokkos::HostSpace> scores("reward::scores", n);
  Kokkos::View<uint8_t*, Kokkos::HostSpace> ok("reward::ok", n);
  Kokkos::Experimental::UniqueToken<Space> token;
  std::vector<ScoreScratch> scratch(static_cast<std::size_t>(token.size()));

  Kokkos::parallel_for(
      "reward::score_batch", Kokkos::RangePolicy<Space>(0, n), [&](const std::size_t i) {
        const int id = token.acquire();
        const int64_t step = in.steps.empty() ? in.step : in.steps[i];
        const RewardScores r = score_output(in.outputs[i], gts[static_cast<std::size_t>(in.gt_index[i])], cfg,
                                            step, scratch[static_cast<std::size_t>(id)]);
        token.release(id);
        scores(i, 0) = r.format;
        scores(i, 1) = r.correctness;
        scores(i, 2) = r.length;
        scores(i, 3) = r.total;
        ok(i) = r.ok;
      });
  Space().fence();

  std::vector<RewardScores> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = RewardScores{scores(i, 0), scores(i, 1), scores(i, 2), scores(i, 3), ok(i) != 0};
  return out;
}

}  // namespace toolgrpo::reward
