// Kokkos batch scorer: a labelled parallel_for over rollouts on every thread of the host execution space,
// with one scratch (arena, parser, stacks) per concurrent thread; ground truths are read-only and shared.
#include "reward/batch.hpp"

#include <Kokkos_Core.hpp>
#include <atomic>
#include <exception>
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

  // score_output never throws on any output, but running out of memory does; an exception must not leave a
  // thread of a parallel region (that ends the process), so the first one is kept and rethrown after the
  // loop.
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  Kokkos::parallel_for("reward::score_batch",
                       Kokkos::RangePolicy<Space, Kokkos::Schedule<Kokkos::Dynamic>>(0, n),
                       [&](const std::size_t i) {
                         const int id = token.acquire();
                         RewardScores r;
                         try {
                           const int64_t step = in.steps.empty() ? in.step : in.steps[i];
                           r = score_output(in.outputs[i], gts[static_cast<std::size_t>(in.gt_index[i])], cfg,
                                            step, scratch[static_cast<std::size_t>(id)]);
                         } catch (...) {
                           if (!failed.exchange(true)) error = std::current_exception();
                         }
                         token.release(id);
                         scores(i, 0) = r.format;
                         scores(i, 1) = r.correctness;
                         scores(i, 2) = r.length;
                         scores(i, 3) = r.total;
                         ok(i) = r.ok;
                       });
  Space().fence();
  if (error) std::rethrow_exception(error);

  std::vector<RewardScores> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = RewardScores{scores(i, 0), scores(i, 1), scores(i, 2), scores(i, 3), ok(i) != 0};
  return out;
}

}  // namespace toolgrpo::reward
