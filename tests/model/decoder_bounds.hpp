// fp32 error bounds of a decoder's forward and backward passes (the notation of tests/fp32_bounds.hpp), used to
// compare our decoder with the reference implementation's outputs and two of our own paths with each other.
//
// The analysis, first order in u: every operation rounds once per accumulated term, so a value carries at most
// gamma(K) relative error from a K-term reduction, measured against the norm of the vector it feeds. Along the
// deepest dependency path of the forward pass these add up (the chain length below), and the logits are the
// head's dot products of the final normed state h (||h|| <= sqrt(hidden) max|g|, g the final norm's weight) with
// the vocabulary rows W_v, so a relative error e of h moves a logit by at most e ||h|| ||W_v||.
// What the chain leaves out is amplification: RMSNorm passes a relative perturbation through unchanged (it is
// scale invariant), softmax's Jacobian has norm <= 1/2 and SiLU's slope stays below 1.1, but the projections of
// the fixtures (random weights of standard deviation ~0.12 on 64x64 to 64x128 matrices) have operator norms of
// 1.6-2.4 and their norm weights reach 1.5-1.7, so a worst-case error aligned with every layer's most amplified
// direction could grow by a factor of several hundred over two layers. Rounding errors of independent operations
// do not align so: under OpenBLAS's Zen/Cooperlake, Haswell, SkylakeX and generic Prescott kernels the largest
// difference measured in these tests is 0.6% of the bound it is checked against (0.1-0.3% for logits, log-probs
// and hidden states against the reference). The bounds therefore hold with two orders of magnitude to spare on
// every kernel while still failing for any modelling error (a wrong rotary frequency, norm, mask or head moves
// log-probs by 1e-2 or more).
#pragma once

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <cmath>

#include "model/config.hpp"
#include "model/decoder.hpp"
#include "tests/fp32_bounds.hpp"

namespace toolgrpo::testing {

// The reduction lengths (and elementwise roundings) along the deepest path of one forward pass over T tokens.
inline double decoder_chain_length(const model::ModelConfig& c, int64_t T) {
  const double D = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size),
               hd = static_cast<double>(c.head_dim), H = static_cast<double>(c.num_heads), t = static_cast<double>(T);
  const double attention = D /*input norm*/ + D /*q, k, v*/ + (c.qk_norm ? hd : 0.0) + 3 /*rope*/ + hd /*scores*/ +
                           (t + 2) /*softmax: exp, sum, divide*/ + t /*weights x values*/ + H * hd /*o_proj*/ +
                           1 /*residual*/;
  const double mlp = D /*post-attention norm*/ + D /*gate, up*/ + 3 /*silu(gate) * up*/ + I /*down*/ + 1;
  return static_cast<double>(c.num_layers) * (attention + mlp) + D /*final norm*/ + D /*head*/;
}

// max_v ||W_v|| * sqrt(hidden) * max|g|: the largest sum of |terms| a logit's dot product can have.
inline double decoder_head_scale(const model::ModelConfig& c, const model::DecoderWeights& w) {
  const double row = w.lm_head.to(at::kFloat).norm(2, {1}).max().item<double>();
  const double g = w.norm.to(at::kFloat).abs().max().item<double>();
  return row * std::sqrt(static_cast<double>(c.hidden_size)) * g;
}

struct DecoderBounds {
  double logits = 0;    // |logit difference| between two fp32 implementations of the whole forward pass
  double logprobs = 0;  // the same for log-softmax
  double vocab = 0;     // reduction length of the log-softmax and entropy sums
};

// Two whole forward passes over T tokens (ours and the reference's, or two of our paths that share no
// bit-identical prefix): each within gamma(chain) * scale of the exact logits.
inline DecoderBounds decoder_bounds(const model::ModelConfig& c, const model::DecoderWeights& w, int64_t T) {
  DecoderBounds b;
  b.vocab = static_cast<double>(c.vocab_size);
  b.logits = two_sided(fp32_gamma(decoder_chain_length(c, T)) * decoder_head_scale(c, w));
  // |log p| <= |z_i - max z| + log V <= 2 max|z| + log V; the fixtures' logits are far below 10 in size.
  b.logprobs = log_softmax_error(b.logits, b.vocab, 20.0 + std::log(b.vocab));
  return b;
}

// Two paths that compute the decoder's trunk by the same kernels on the same shapes (bit-identical hidden
// states) and differ only in how the head's rows are selected or batched: the head's D-term dot products and
// the log-softmax are all that can round differently.
inline DecoderBounds decoder_head_bounds(const model::ModelConfig& c, const model::DecoderWeights& w) {
  DecoderBounds b;
  b.vocab = static_cast<double>(c.vocab_size);
  b.logits = fp32_reorder(static_cast<double>(c.hidden_size), decoder_head_scale(c, w));
  b.logprobs = log_softmax_error(b.logits, b.vocab, 20.0 + std::log(b.vocab));
  return b;
}

// Gradients: the backward pass runs the forward chain in reverse (one more reduction per matmul, over the other
// dimension) and each weight's gradient then sums over the `positions` tokens of the batch. Every computed
// gradient entry is a sum of products of upstream gradients and activations, so its rounding is relative to the
// gradients' overall scale `scale` (the largest entry of any parameter's reference gradient), not to its own
// value, which cancellation can make arbitrarily small (the key biases' exact gradient is 0).
inline double decoder_gradient_bound(const model::ModelConfig& c, int64_t T, int64_t positions, double scale) {
  const double chain = 2.0 * decoder_chain_length(c, T) + static_cast<double>(positions);
  return two_sided(fp32_gamma(chain) * scale);
}

}  // namespace toolgrpo::testing
