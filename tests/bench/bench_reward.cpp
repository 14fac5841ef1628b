// Reward throughput: scores/s of the Kokkos batch scorer on ../shared/data/reward_fixtures/default.jsonl,
// repeated to a stable batch; under mpirun each rank scores its shard (rollout i on rank i % size) and the
// figure is the aggregate. Prints one summary line per figure.
//   mpirun -np N bench_reward [--fixtures FILE] [--repeat R] [--trials T]
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_cli.hpp"
#include "parallel/comm.hpp"
#include "parallel/runtime.hpp"
#include "reward/batch.hpp"
#include "reward/json.hpp"

using namespace toolgrpo;

namespace {

struct Fixtures {
  std::vector<std::string> outputs;
  std::vector<int32_t> gt_index;
  std::vector<int64_t> steps;
  std::vector<reward::GroundTruth> gts;
  std::size_t bytes = 0;
};

Fixtures load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("bench_reward: cannot open " + path);
  Fixtures f;
  std::map<std::string, int32_t> ids;
  reward::JsonParser parser;
  std::string line;
  while (std::getline(in, line)) {
    reward::Arena arena;
    const reward::Value* row = parser.parse(line, arena);
    if (row == nullptr) throw std::runtime_error("bench_reward: bad JSON line in " + path);
    const std::string gt(row->find("ground_truth")->string());
    auto it = ids.find(gt);
    if (it == ids.end()) {
      it = ids.emplace(gt, static_cast<int32_t>(f.gts.size())).first;
      f.gts.emplace_back(gt);
    }
    f.outputs.emplace_back(row->find("output")->string());
    f.bytes += f.outputs.back().size();
    f.gt_index.push_back(it->second);
    f.steps.push_back(row->find("step")->u.i);
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  parallel::Runtime rt(argc, argv);
  try {
    const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
    std::string path = std::string(env ? env : TOOLGRPO_DEFAULT_SHARED_DATA) + "/reward_fixtures/default.jsonl";
    int repeat = 50, trials = 5;
    const int done = bench::bench_options(
        argc, argv, "bench_reward",
        "Scores the reward fixtures' outputs, repeated, with the Kokkos batch scorer (each rank its share under "
        "mpirun); prints scores/s per trial, the median and best, and per core. BLAS is not used.",
        {{"--fixtures", "FILE", "reward fixture rows {output, ground_truth, step} (default the shared default.jsonl)",
          bench::to_text(path)},
         {"--repeat", "N", "times the fixture rows are repeated (default 50)", bench::to_int(repeat)},
         {"--trials", "N", "timed trials (default 5)", bench::to_int(trials)}});
    if (done >= 0) return done;
    parallel::Comm& world = rt.world();
    const Fixtures f = load(path);
    const reward::RewardConfig cfg;

    // The repeated batch, sharded by rank.
    reward::BatchInput in;
    std::size_t global = 0;
    for (int r = 0; r < repeat; ++r)
      for (std::size_t i = 0; i < f.outputs.size(); ++i, ++global) {
        if (static_cast<int>(global % static_cast<std::size_t>(world.size())) != world.rank()) continue;
        in.outputs.push_back(f.outputs[i]);
        in.gt_index.push_back(f.gt_index[i]);
        in.steps.push_back(f.steps[i]);
      }

    std::vector<double> rates;
    double checksum = 0;
    for (int t = 0; t < trials; ++t) {
      world.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      const auto scores = reward::score_batch(in, f.gts, cfg);
      double local_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double slowest = world.allreduce_max(local_seconds);
      rates.push_back(static_cast<double>(global) / slowest);
      for (const auto& s : scores) checksum += s.total;
    }
    std::sort(rates.begin(), rates.end());
    if (world.rank() == 0) {
      std::printf(
          "bench_reward: %zu fixture rows x %d = %zu rollouts, %zu ground truths, mean output %zu B, "
          "%d rank(s), %s; BLAS not used; checksum %.6f\n",
          f.outputs.size(), repeat, global, f.gts.size(), f.bytes / f.outputs.size(), world.size(),
          parallel::Runtime::kokkos_description().c_str(), world.allreduce_sum(checksum) / trials);
      std::printf("reward.scores_per_s np=%d threads=%d: median %.0f best %.0f (per rank median %.0f)\n",
                  world.size(), Kokkos::DefaultHostExecutionSpace().concurrency(), rates[rates.size() / 2],
                  rates.back(), rates[rates.size() / 2] / world.size());
    } else {
      world.allreduce_sum(checksum);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_reward: %s\n", e.what());
    rt.abort(1);
  }
  return 0;
}
