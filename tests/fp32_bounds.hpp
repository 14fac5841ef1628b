// Tolerances of the numerical tests, derived from binary32 (fp32) rounding-error analysis rather than tuned on
// one machine's BLAS kernels. Each bound is a worst-case first-order bound that holds for any summation order
// and any blocking a kernel chooses (OpenBLAS's Zen, Haswell, SkylakeX or generic Prescott kernels alike), so a
// test that fails under it has found a real difference, not another machine's rounding.
// Notation: u = 2^-24 is fp32's unit roundoff; gamma(n) = n u / (1 - n u) (Higham, "Accuracy and Stability of
// Numerical Algorithms", 2nd ed., Lemma 3.1 and section 3.1): a sum or dot product of n terms, evaluated in any
// order, lies within gamma(n) * sum |terms| of the exact value.
#pragma once

#include <cmath>

namespace toolgrpo::testing {

inline constexpr double kFp32Unit = 0x1p-24;  // binary32, round to nearest
inline constexpr double kBf16Unit = 0x1p-8;   // bfloat16: 8 significant bits

constexpr double fp32_gamma(double n) { return n * kFp32Unit / (1.0 - n * kFp32Unit); }

// Two evaluations of the same sum of n terms (whose absolute values add up to abs_sum) in different orders: each
// is within gamma(n) * abs_sum of the exact sum, so they are within twice that of each other.
constexpr double fp32_reorder(double n, double abs_sum) { return 2.0 * fp32_gamma(n) * abs_sum; }

// A mean of n fp32 values each carrying an absolute error of at most `each`, plus the summation's own rounding
// relative to the mean of the absolute values.
constexpr double fp32_mean_error(double n, double each, double mean_abs) {
  return each + fp32_gamma(n) * mean_abs;
}

// log_softmax(z)_i = z_i - logsumexp(z). A perturbation of every logit by at most dz moves z_i by dz and the
// logsumexp (a p-weighted mean of the perturbations) by at most dz: 2 dz. Evaluating logsumexp over n entries
// adds the rounding of a sum of n positive terms (gamma(n) relative, hence gamma(n) absolute after the log),
// one rounding of exp and log each, and one rounding of the result (u |log p|).
constexpr double log_softmax_error(double dz, double n, double max_abs_logprob) {
  return 2.0 * dz + fp32_gamma(n + 3) + kFp32Unit * max_abs_logprob;
}

// Entropy H = -sum p log p over n entries, from log-probs each off by at most dlp: dH = -sum p (1 + log p) dlp_i,
// so |dH| <= dlp * (1 + H); its sum of n non-negative terms adds gamma(n) * H, the exp of each log-prob u * H.
constexpr double entropy_error(double dlp, double n, double entropy) {
  return dlp * (1.0 + entropy) + fp32_gamma(n + 1) * entropy;
}

// Two evaluations that each lie within `each` of the exact value differ by at most twice that.
constexpr double two_sided(double each) { return 2.0 * each; }

}  // namespace toolgrpo::testing
