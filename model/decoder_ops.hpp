// The building blocks of the decoder, shared by the full forward pass (decoder.cpp) and the KV-cache generation
// engine (generate.cpp), so both compute each layer the same way.
#pragma once

#include <ATen/core/Tensor.h>

#include "model/config.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::model {

struct RopeTables {
  at::Tensor cos, sin;  // (B, 1, T, D) in the run dtype; sin with its first half negated (see apply_rope)
};

struct AttentionInputs {
  at::Tensor q;  // (B, H, T, D) after q-norm and RoPE
  at::Tensor k;  // (B, KV, T, D) after k-norm and RoPE
  at::Tensor v;  // (B, KV, T, D)
};

// RMSNorm computed in float32, returned in x's dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);
// float32 logits of final-normed hidden states x under the head; x is cast to the head's dtype first (mixed
// precision keeps an fp32 head under bf16 layers).
at::Tensor head_logits(const at::Tensor& x, const at::Tensor& lm_head);
// positions (B, T) int64.
RopeTables rope_tables(const ModelConfig& cfg, const at::Tensor& positions, at::ScalarType dtype);
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope);
// hn: the input-normed hidden states (B, T, hidden).
AttentionInputs attention_inputs(const ModelConfig& cfg, const LayerWeights& l, const at::Tensor& hn,
                                 const RopeTables& rope);
// softmax(q k^T * scale + additive_mask) v through at::scaled_dot_product_attention (needs
// attention_fused_available()). q (B, H, Tq, D); k, v (B, KV, Tk, D) with H a multiple of KV (query head h uses KV head h / (H /
// KV)); additive_mask (B, 1, Tq, Tk) float32, 0 where a key is visible and float's lowest elsewhere.
at::Tensor attention_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& additive_mask, double scale);
at::Tensor mlp_block(const LayerWeights& l, const at::Tensor& hn);

}  // namespace toolgrpo::model
