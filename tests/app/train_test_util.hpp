// Shared by the in-process trainer and resume tests: the data location, a toy reward a tiny random model can
// learn, and comparisons of trained weights and metrics.
#pragma once

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/train/trainer.hpp"
#include "tests/model/decoder_bounds.hpp"
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

// How far two training runs may drift apart (in weight_difference's terms) when each step's gradient differs
// between them only by fp32 rounding of relative size eps_g (relative to the gradient's largest entries). This
// is a first-order estimate, not a worst-case bound, and no worst-case bound exists: AdamW divides by sqrt(v),
// so an entry whose exact gradient is near 0 turns rounding noise into a step of up to lr (only AdamW's eps,
// 1e-8, caps it: noise far below eps moves it by lr * noise / eps). For every other entry the update
// lr m/(sqrt(v) + eps) moves by at most 2 lr eps_g relative (m and sqrt(v) each move by eps_g), and the steps'
// differences add up: after S steps at most 2 S lr eps_g per entry, which over N entries of root-mean-square
// size rms(w) is 2 S lr eps_g / rms(w) relative to the weights' norm.
inline double trajectory_tolerance(int steps, double lr, double eps_g, const app::Policy& p) {
  double sq = 0, n = 0;
  for (const auto& t : app::policy_parameters(p)) {
    sq += std::pow(t.norm().item<double>(), 2);
    n += static_cast<double>(t.numel());
  }
  return 2.0 * steps * lr * eps_g / std::sqrt(sq / n);
}

// eps_g when two runs compute each sequence's gradient bit-identically (one sequence per micro-batch: the same
// kernels on the same shapes) and differ only in the order they add up n contributions (micro-batches, rank
// partials, the all-reduce): a sum of n terms in two orders, 2 gamma(n) relative to the sum of their absolute
// values. Each contribution is a sequence's (or a rank's) gradient divided by n, so that sum is the mean of the
// contributions' sizes, which exceeds the size of their mean where they cancel: entry by entry the sequences'
// gradients point in unrelated directions (GRPO's advantages even sum to zero in a group), so their mean is
// about 1/sqrt(n) of their own size, and the sum of absolute values about sqrt(n) times the gradient's scale.
inline double order_only(int n) { return two_sided(fp32_gamma(n)) * std::sqrt(static_cast<double>(n)); }

// eps_g when the two runs compute the sequences' gradients by other kernels or shapes (micro-batches padded to
// other lengths, packed rows, another head): two whole backward passes over a mini-batch of `batch_tokens`
// tokens in sequences of up to `sequence_tokens` (decoder_gradient_bound, relative to the gradient's scale),
// with the order of n sums on top.
inline double whole_backward(const model::ModelConfig& c, int64_t sequence_tokens, int64_t batch_tokens, int n) {
  return decoder_gradient_bound(c, sequence_tokens, batch_tokens, 1.0) + order_only(n);
}

// Metrics that measure time, not the run's numbers.
inline bool timing(const std::string& name) {
  return name.rfind("seconds_", 0) == 0 || name == "tokens_per_s" || name == "eta_seconds";
}

}  // namespace toolgrpo::testing
