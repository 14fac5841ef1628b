// Shared by the in-process trainer and resume tests: the data location, a toy reward a tiny random model can
// learn, and comparisons of trained weights and metrics.
#pragma once

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/trainer.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::testing {

inline std::string shared() {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  return env ? env : TOOLGRPO_DEFAULT_SHARED_DATA;
}

inline parallel::Comm& world() { return mpi_runtime().world(); }

// Reward = the share of lowercase ASCII letters among the response's bytes (0 for an empty response): about
// 26/320 for a random byte-level model, 1 for a model that has learned to write letters only.
inline std::vector<reward::RewardScores> letters_reward(const std::vector<std::string>& responses,
                                                        const std::vector<std::string>&, int64_t, int64_t) {
  std::vector<reward::RewardScores> out;
  for (const auto& r : responses) {
    double letters = 0;
    for (unsigned char ch : r) letters += (ch >= 'a' && ch <= 'z');
    reward::RewardScores s;
    s.correctness = r.empty() ? 0.0 : letters / static_cast<double>(r.size());
    s.total = s.correctness;
    out.push_back(s);
  }
  return out;
}

// ||a - b|| / ||b|| over all parameters together. (Per tensor, a tensor whose exact gradient is 0 — the key
// biases, to which softmax attention is invariant — gets AdamW steps of +-lr from rounding noise alone, so its own
// relative difference says nothing about the equivalence of the runs.)
inline double weight_difference(const app::Policy& a, const app::Policy& b) {
  const auto pa = app::policy_parameters(a), pb = app::policy_parameters(b);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    diff += std::pow((pa[i] - pb[i]).norm().item<double>(), 2);
    norm += std::pow(pb[i].norm().item<double>(), 2);
  }
  return std::sqrt(diff / norm);
}

// Metrics that measure time, not the run's numbers.
inline bool timing(const std::string& name) {
  return name.rfind("seconds_", 0) == 0 || name == "tokens_per_s" || name == "eta_seconds";
}

}  // namespace toolgrpo::testing
