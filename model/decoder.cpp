// Decoder forward pass on ATen; see decoder.hpp. Operation order follows the reference implementation
// (float32 softmax, RMSNorm in float32, q/k norm before RoPE for Qwen3).
#include "model/decoder.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#include "model/decoder_ops.hpp"
#include "model/logprob_head.hpp"
#include "model/safetensors.hpp"

namespace toolgrpo::model {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor var = xf.pow(2).mean({-1}, /*keepdim=*/true);
  return weight * (xf * at::rsqrt(var + eps)).to(x.scalar_type());
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

at::Tensor head_logits(const at::Tensor& x, const at::Tensor& lm_head) {
  return at::linear(x.scalar_type() == lm_head.scalar_type() ? x : x.to(lm_head.scalar_type()), lm_head)
      .to(at::kFloat);
}

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define TOOLGRPO_HAVE_FUSED_ATTENTION 1
#else
#define TOOLGRPO_HAVE_FUSED_ATTENTION 0
#endif

namespace {

// The kernel set, chosen from TOOLGRPO_ATTENTION at the first use.
std::atomic<AttentionKernel>& attention_state() {
  static std::atomic<AttentionKernel> state{[] {
    const char* env = std::getenv("TOOLGRPO_ATTENTION");
    const std::string v = env != nullptr ? env : "";
    if (v.empty() || v == "auto") return AttentionKernel::Auto;
    if (v == "reference") return AttentionKernel::Reference;
    if (v == "fused") {
      if (!TOOLGRPO_HAVE_FUSED_ATTENTION)
        throw std::invalid_argument("TOOLGRPO_ATTENTION=fused, but the fused kernel needs libtorch >= 2.1");
      return AttentionKernel::Fused;
    }
    throw std::invalid_argument("TOOLGRPO_ATTENTION must be auto, fused or reference, not '" + v + "'");
  }()};
  return state;
}

}  // namespace

bool attention_fused_available() { return TOOLGRPO_HAVE_FUSED_ATTENTION != 0; }

AttentionKernel attention_kernel() { return attention_state().load(std::memory_order_relaxed); }

void attention_kernel_set(AttentionKernel kernel) {
  if (kernel == AttentionKernel::Fused && !attention_fused_available())
    throw std::invalid_argument("the fused attention kernel needs libtorch >= 2.1");
  attention_state().store(kernel, std::memory_order_relaxed);
}

bool attention_uses_fused(const at::Tensor& q) {
  switch (attention_kernel()) {
    case AttentionKernel::Fused: return true;
    case AttentionKernel::Reference: return false;
    case AttentionKernel::Auto: break;
  }
  return attention_fused_available() && q.is_cuda();
}

at::Tensor attention_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& additive_mask, double scale) {
#if TOOLGRPO_HAVE_FUSED_ATTENTION
  const int64_t G = q.size(1) / k.size(1);
  const at::Tensor kk = G > 1 ? k.repeat_interleave(G, 1) : k;
  const at::Tensor vv = G > 1 ? v.repeat_interleave(G, 1) : v;
  at::Tensor mask = additive_mask;
  if (q.scalar_type() != at::kFloat) {
    // In a reduced-precision dtype float's lowest would become -inf, and a query with no visible key (a padding
    // position) NaN, which the next layer spreads through its keys. A boolean mask instead, where such a row
    // sees every key: finite, and no real token ever attends to a padding position.
    const at::Tensor allowed = additive_mask == 0;
    mask = allowed.logical_or(allowed.any(-1, /*keepdim=*/true).logical_not());
  }
  return at::scaled_dot_product_attention(q, kk, vv, mask, /*dropout_p=*/0.0, /*is_causal=*/false, scale);
#else
  (void)q, (void)k, (void)v, (void)additive_mask, (void)scale;
  throw std::logic_error("attention_fused: this build's libtorch has no scaled_dot_product_attention");
#endif
}

namespace {

// softmax(q k^T * scale + mask) v. q (B, H, T, D); k, v (B, KV, T, D); additive_mask (B, 1, T, T).
// The reference path: the G = H / KV query heads sharing a KV head (grouped-query attention) are stacked into
// one matrix, so each product is one (G T, D) x (D, T) GEMM per KV head instead of G small ones on repeated
// copies of k and v. The float mask (0 or float's lowest) keeps a query without any visible key (padding)
// finite in both paths: it averages all values there, and no real token attends to it.
at::Tensor attention(const AttentionInputs& a, const at::Tensor& additive_mask, double scale) {
  if (attention_uses_fused(a.q)) return attention_fused(a.q, a.k, a.v, additive_mask, scale);
  const int64_t B = a.q.size(0), H = a.q.size(1), T = a.q.size(2), D = a.q.size(3), KV = a.k.size(1);
  const int64_t G = H / KV;
  // Scaling q (T x D values per head) instead of the scores (T x T) saves a pass forward and backward.
  const at::Tensor q = (a.q * scale).reshape({B, KV, G * T, D});  // query head h uses KV head h / G
  const at::Tensor scores = at::matmul(q, a.k.transpose(2, 3)).view({B, KV, G, T, T});
  const at::Tensor probs =
      at::softmax(scores + additive_mask.unsqueeze(1), -1, at::kFloat).to(a.q.scalar_type());
  return at::matmul(probs.view({B, KV, G * T, T}), a.v).view({B, H, T, D});
}

}  // namespace

// rotate_half(x) * sin == roll(x, D/2) * sin with the first half of sin negated; building that sign into the
// table makes the rotation one roll (whose backward is one roll) instead of two slices, a negation and a cat.
RopeTables rope_tables(const ModelConfig& cfg, const at::Tensor& positions, at::ScalarType dtype) {
  const at::Tensor freqs =
      positions.to(at::kFloat).unsqueeze(-1) * rope_inv_freq(cfg).to(positions.device()).view({1, 1, cfg.head_dim / 2});
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  const at::Tensor sin = freqs.sin();
  return {emb.cos().to(dtype).unsqueeze(1), at::cat({-sin, sin}, -1).to(dtype).unsqueeze(1)};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope) {
  return x * rope.cos + at::roll(x, x.size(-1) / 2, -1) * rope.sin;
}

AttentionInputs attention_inputs(const ModelConfig& cfg, const LayerWeights& l, const at::Tensor& hn,
                                 const RopeTables& rope) {
  const int64_t B = hn.size(0), T = hn.size(1), H = cfg.num_heads, KV = cfg.num_kv_heads, D = cfg.head_dim;
  at::Tensor q = linear(hn, l.q_proj, l.q_bias).view({B, T, H, D});
  at::Tensor k = linear(hn, l.k_proj, l.k_bias).view({B, T, KV, D});
  at::Tensor v = linear(hn, l.v_proj, l.v_bias).view({B, T, KV, D}).transpose(1, 2);
  if (cfg.qk_norm) {
    q = rms_norm(q, l.q_norm, cfg.rms_norm_eps);
    k = rms_norm(k, l.k_norm, cfg.rms_norm_eps);
  }
  return {apply_rope(q.transpose(1, 2), rope), apply_rope(k.transpose(1, 2), rope), v};
}

at::Tensor mlp_block(const LayerWeights& l, const at::Tensor& hn) {
  return linear(at::silu(linear(hn, l.gate_proj, l.gate_bias)) * linear(hn, l.up_proj, l.up_bias), l.down_proj,
                l.down_bias);
}

at::Tensor rope_inv_freq(const ModelConfig& cfg) {
  const int64_t dim = cfg.head_dim;
  const at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  at::Tensor inv = 1.0 / at::pow(cfg.rope_theta, exponent);
  if (!cfg.rope_scaling.llama3) return inv;
  const RopeScaling& s = cfg.rope_scaling;
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = old_len / s.low_freq_factor, high_wavelen = old_len / s.high_freq_factor;
  const at::Tensor wavelen = 2.0 * M_PI / inv;
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv / s.factor, inv);
  const at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  const at::Tensor medium = at::logical_not(wavelen < high_wavelen).logical_and(at::logical_not(wavelen > low_wavelen));
  return at::where(medium, smoothed, scaled);
}

DecoderWeights decoder_weights_load(const ModelConfig& cfg, const std::string& dir, at::ScalarType dtype,
                                    at::Device device) {
  const SafetensorsStore store(dir);
  return decoder_weights_from(
      cfg, [&](const std::string& name) { return std::make_pair(store.load(name, dtype), store.file_of(name)); },
      device);
}

DecoderWeights decoder_weights_from(const ModelConfig& cfg, const WeightSource& source, at::Device device) {
  const auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    auto [t, origin] = source(name);
    if (t.sizes().vec() != shape) {
      std::string want, got;
      for (auto d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
      for (auto d : t.sizes()) got += (got.empty() ? "" : ", ") + std::to_string(d);
      throw std::runtime_error(origin + ": tensor \"" + name + "\" has shape [" + got +
                               "], config.json implies [" + want + "]");
    }
    return t.to(device);
  };
  const int64_t h = cfg.hidden_size, q = cfg.num_heads * cfg.head_dim, kv = cfg.num_kv_heads * cfg.head_dim,
                inter = cfg.intermediate_size;
  DecoderWeights w;
  w.embed = get("model.embed_tokens.weight", {cfg.vocab_size, h});
  w.norm = get("model.norm.weight", {h});
  if (cfg.tie_word_embeddings) w.lm_head = w.embed;
  else w.lm_head = get("lm_head.weight", {cfg.vocab_size, h});
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.q_proj = get(p + "self_attn.q_proj.weight", {q, h});
    l.k_proj = get(p + "self_attn.k_proj.weight", {kv, h});
    l.v_proj = get(p + "self_attn.v_proj.weight", {kv, h});
    l.o_proj = get(p + "self_attn.o_proj.weight", {h, q});
    if (cfg.qkv_bias) {
      l.q_bias = get(p + "self_attn.q_proj.bias", {q});
      l.k_bias = get(p + "self_attn.k_proj.bias", {kv});
      l.v_bias = get(p + "self_attn.v_proj.bias", {kv});
    }
    if (cfg.o_bias) l.o_bias = get(p + "self_attn.o_proj.bias", {h});
    if (cfg.qk_norm) {
      l.q_norm = get(p + "self_attn.q_norm.weight", {cfg.head_dim});
      l.k_norm = get(p + "self_attn.k_norm.weight", {cfg.head_dim});
    }
    l.input_norm = get(p + "input_layernorm.weight", {h});
    l.post_norm = get(p + "post_attention_layernorm.weight", {h});
    l.gate_proj = get(p + "mlp.gate_proj.weight", {inter, h});
    l.up_proj = get(p + "mlp.up_proj.weight", {inter, h});
    l.down_proj = get(p + "mlp.down_proj.weight", {h, inter});
    if (cfg.mlp_bias) {
      l.gate_bias = get(p + "mlp.gate_proj.bias", {inter});
      l.up_bias = get(p + "mlp.up_proj.bias", {inter});
      l.down_bias = get(p + "mlp.down_proj.bias", {h});
    }
    w.layers.push_back(std::move(l));
  }
  return w;
}

namespace {
// Every tensor of a layer with its Hugging Face name suffix, in checkpoint order.
const std::pair<const char*, at::Tensor LayerWeights::*> kLayerTensors[] = {
    {"self_attn.q_proj.weight", &LayerWeights::q_proj},   {"self_attn.k_proj.weight", &LayerWeights::k_proj},
    {"self_attn.v_proj.weight", &LayerWeights::v_proj},   {"self_attn.o_proj.weight", &LayerWeights::o_proj},
    {"self_attn.q_proj.bias", &LayerWeights::q_bias},     {"self_attn.k_proj.bias", &LayerWeights::k_bias},
    {"self_attn.v_proj.bias", &LayerWeights::v_bias},     {"self_attn.o_proj.bias", &LayerWeights::o_bias},
    {"self_attn.q_norm.weight", &LayerWeights::q_norm},   {"self_attn.k_norm.weight", &LayerWeights::k_norm},
    {"input_layernorm.weight", &LayerWeights::input_norm}, {"post_attention_layernorm.weight", &LayerWeights::post_norm},
    {"mlp.gate_proj.weight", &LayerWeights::gate_proj},   {"mlp.up_proj.weight", &LayerWeights::up_proj},
    {"mlp.down_proj.weight", &LayerWeights::down_proj},   {"mlp.gate_proj.bias", &LayerWeights::gate_bias},
    {"mlp.up_proj.bias", &LayerWeights::up_bias},         {"mlp.down_proj.bias", &LayerWeights::down_bias},
};

// Applies `fn` to every defined tensor of `w` (a tied head stays tied).
template <class F>
DecoderWeights weights_map(const DecoderWeights& w, F&& fn) {
  const auto copy = [&](const at::Tensor& t) { return t.defined() ? fn(t.detach()) : t; };
  DecoderWeights c;
  c.embed = copy(w.embed);
  c.norm = copy(w.norm);
  c.lm_head = w.lm_head.is_same(w.embed) ? c.embed : copy(w.lm_head);
  for (const LayerWeights& l : w.layers) {
    LayerWeights k;
    for (const auto& [name, member] : kLayerTensors) k.*member = copy(l.*member);
    c.layers.push_back(std::move(k));
  }
  return c;
}
}  // namespace

DecoderWeights decoder_weights_clone(const DecoderWeights& w) {
  return weights_map(w, [](const at::Tensor& t) { return t.clone(); });
}

DecoderWeights decoder_weights_cast_layers(const DecoderWeights& w, at::ScalarType dtype) {
  DecoderWeights c = weights_map(w, [&](const at::Tensor& t) { return t.to(dtype, false, /*copy=*/true); });
  c.lm_head = w.lm_head;
  return c;
}

DecoderWeights decoder_weights_to(const DecoderWeights& w, at::Device device) {
  return weights_map(w, [&](const at::Tensor& t) { return t.to(device).clone(); });
}

std::vector<std::pair<std::string, at::Tensor>> decoder_named_parameters(const ModelConfig& cfg,
                                                                         const DecoderWeights& w) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  const auto add = [&](const std::string& n, const at::Tensor& t) {
    if (t.defined()) out.emplace_back(n, t);
  };
  add("model.embed_tokens.weight", w.embed);
  for (std::size_t i = 0; i < w.layers.size(); ++i)
    for (const auto& [name, member] : kLayerTensors)
      add("model.layers." + std::to_string(i) + "." + name, w.layers[i].*member);
  add("model.norm.weight", w.norm);
  if (!cfg.tie_word_embeddings) add("lm_head.weight", w.lm_head);
  return out;
}

namespace {

// One decoder layer: x -> x + attention(norm(x)) -> that + mlp(norm(that)).
at::Tensor layer_apply(const ModelConfig& cfg, const LayerWeights& l, const at::Tensor& x, const RopeTables& rope,
                       const at::Tensor& mask, double scale) {
  const int64_t B = x.size(0), T = x.size(1);
  const AttentionInputs a = attention_inputs(cfg, l, rms_norm(x, l.input_norm, cfg.rms_norm_eps), rope);
  const at::Tensor attn = attention(a, mask, scale).transpose(1, 2).reshape({B, T, cfg.num_heads * cfg.head_dim});
  const at::Tensor y = x + linear(attn, l.o_proj, l.o_bias);
  return y + mlp_block(l, rms_norm(y, l.post_norm, cfg.rms_norm_eps));
}

// GCC 12-14 report -Warray-bounds and -Wstringop-overflow false positives in std::vector<bool>::reserve,
// inlined from libtorch 2.x's torch::autograd::Function::apply into layer_checkpointed and decoder_forward.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#define TOOLGRPO_POP_ARRAY_BOUNDS 1
#endif

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Activation checkpointing of one layer: forward keeps only the layer's input (and its weights, which live
// anyway); backward runs the layer again with autograd on and differentiates that. The recomputation is the
// same arithmetic on the same values, so the gradients equal the stored-activation path's.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  // `weights`: the layer's defined tensors in kLayerTensors order; `present` marks which members they are.
  static at::Tensor forward(AutogradContext* ctx, at::Tensor x, at::TensorList weights, const ModelConfig* cfg,
                            int64_t present, at::Tensor cos, at::Tensor sin, at::Tensor mask, double scale) {
    std::vector<at::Tensor> keep{x};
    keep.insert(keep.end(), weights.begin(), weights.end());
    ctx->save_for_backward(keep);
    ctx->saved_data["cfg"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(cfg));
    ctx->saved_data["present"] = present;
    ctx->saved_data["cos"] = cos;
    ctx->saved_data["sin"] = sin;
    ctx->saved_data["mask"] = mask;
    ctx->saved_data["scale"] = scale;
    at::NoGradGuard no_grad;
    return layer_apply(*cfg, layer_of(weights, present), x, {cos, sin}, mask, scale);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const variable_list saved = ctx->get_saved_variables();
    const auto* cfg = reinterpret_cast<const ModelConfig*>(static_cast<intptr_t>(ctx->saved_data["cfg"].toInt()));
    std::vector<at::Tensor> inputs;
    for (const at::Tensor& t : saved) inputs.push_back(t.detach().requires_grad_(true));
    const std::vector<at::Tensor> weights(inputs.begin() + 1, inputs.end());
    at::Tensor y;
    {
      at::AutoGradMode grad_on(true);
      y = layer_apply(*cfg, layer_of(weights, ctx->saved_data["present"].toInt()), inputs[0],
                      {ctx->saved_data["cos"].toTensor(), ctx->saved_data["sin"].toTensor()},
                      ctx->saved_data["mask"].toTensor(), ctx->saved_data["scale"].toDouble());
    }
    variable_list g = torch::autograd::grad({y}, inputs, {grad_out[0]}, /*retain_graph=*/false,
                                            /*create_graph=*/false, /*allow_unused=*/true);
    // One gradient per forward argument: x, each weight, then none for cfg, present, the tables and scale.
    g.resize(g.size() + 6);
    return g;
  }

  static LayerWeights layer_of(at::TensorList weights, int64_t present) {
    LayerWeights l;
    std::size_t k = 0, bit = 0;
    for (const auto& [name, member] : kLayerTensors) {
      if (present & (int64_t{1} << bit)) l.*member = weights[k++];
      ++bit;
    }
    return l;
  }
};

at::Tensor layer_checkpointed(const ModelConfig& cfg, const LayerWeights& l, const at::Tensor& x,
                              const RopeTables& rope, const at::Tensor& mask, double scale) {
  std::vector<at::Tensor> weights;
  int64_t present = 0, bit = 0;
  for (const auto& [name, member] : kLayerTensors) {
    if ((l.*member).defined()) {
      weights.push_back(l.*member);
      present |= int64_t{1} << bit;
    }
    ++bit;
  }
  return CheckpointedLayer::apply(x, at::TensorList(weights), &cfg, present, rope.cos, rope.sin, mask, scale);
}

}  // namespace

ForwardOutput decoder_forward(const ModelConfig& cfg, const DecoderWeights& w, const at::Tensor& input_ids,
                              const at::Tensor& attention_mask, const at::Tensor& position_ids,
                              bool keep_hidden_states, bool compute_logits, bool checkpoint_layers,
                              const at::Tensor& attention_pattern) {
  const int64_t B = input_ids.size(0), T = input_ids.size(1), D = cfg.head_dim;
  const auto dev = input_ids.device();
  at::Tensor x = at::embedding(w.embed, input_ids);  // (B, T, hidden)
  ForwardOutput out;
  if (keep_hidden_states) out.hidden_states.push_back(x);

  const at::Tensor pos =
      position_ids.defined() ? position_ids : at::arange(T, at::TensorOptions(at::kLong).device(dev)).expand({B, T});
  const RopeTables rope = rope_tables(cfg, pos, x.scalar_type());

  // Additive mask (B, 1, T, T): 0 where key j <= query i and j is a token, the dtype's minimum elsewhere.
  const auto fopts = at::TensorOptions(at::kFloat).device(dev);
  at::Tensor allowed;
  if (attention_pattern.defined()) {
    allowed = attention_pattern.to(at::kBool).view({B, 1, T, T});
  } else {
    const at::Tensor causal = at::ones({T, T}, at::TensorOptions(at::kBool).device(dev)).tril();
    allowed = causal.view({1, 1, T, T}).logical_and(attention_mask.to(at::kBool).view({B, 1, 1, T}));
  }
  const at::Tensor mask =
      at::where(allowed, at::zeros({1}, fopts), at::full({1}, std::numeric_limits<float>::lowest(), fopts));
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));

  const bool recompute = checkpoint_layers && at::GradMode::is_enabled();  // without autograd nothing is kept
  for (std::size_t li = 0; li < w.layers.size(); ++li) {
    const LayerWeights& l = w.layers[li];
    x = recompute ? layer_checkpointed(cfg, l, x, rope, mask, scale)
                  : layer_apply(cfg, l, x, rope, mask, scale);
    if (keep_hidden_states && li + 1 < w.layers.size()) out.hidden_states.push_back(x);
  }
  x = rms_norm(x, w.norm, cfg.rms_norm_eps);
  if (keep_hidden_states) out.hidden_states.push_back(x);
  out.final_hidden = x;
  if (compute_logits) out.logits = head_logits(x, w.lm_head);
  return out;
}

#ifdef TOOLGRPO_POP_ARRAY_BOUNDS
#pragma GCC diagnostic pop
#undef TOOLGRPO_POP_ARRAY_BOUNDS
#endif

namespace {

// The head at selected positions: row sel[i] of `hidden` (N_all, hidden) predicts target[i]; the values are
// scattered into zeros of `out_numel` at out_index, `chunk` rows through the head at a time.
TokenLogprobs head_at(const at::Tensor& hidden, const at::Tensor& lm_head, const at::Tensor& sel,
                      const at::Tensor& target, const at::Tensor& out_index, int64_t out_numel,
                      const LogprobOptions& opt) {
  const at::Tensor rows = hidden.index_select(0, sel);
  const int64_t N = sel.size(0);
  std::vector<at::Tensor> logp, ent;
  int64_t s = 0;
  do {  // at least once, so that an empty selection still yields (empty) tensors
    const int64_t c = std::min(opt.chunk, N - s);
    const HeadLogprobs h = head_logprobs(rows.narrow(0, s, c), lm_head, target.narrow(0, s, c),
                                         opt.temperature, opt.with_entropy);
    logp.push_back(h.logprobs);
    if (opt.with_entropy) ent.push_back(h.entropy);
    s += c;
  } while (s < N);
  const at::Tensor zeros = at::zeros({out_numel}, hidden.options().dtype(at::kFloat));
  TokenLogprobs out;
  out.logprobs = zeros.scatter(0, out_index, at::cat(logp));
  if (opt.with_entropy) out.entropy = zeros.scatter(0, out_index, at::cat(ent));
  return out;
}

}  // namespace

TokenLogprobs token_logprobs(const ModelConfig& cfg, const DecoderWeights& w, const at::Tensor& input_ids,
                             const at::Tensor& attention_mask, const LogprobOptions& opt) {
  if (opt.chunk <= 0) throw std::invalid_argument("token_logprobs: chunk must be positive");
  const int64_t chunk = opt.chunk;
  const bool with_entropy = opt.with_entropy;
  const ForwardOutput f =
      decoder_forward(cfg, w, input_ids, attention_mask, opt.position_ids, /*keep_hidden_states=*/false,
                      /*compute_logits=*/false, opt.checkpoint_layers);
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  TokenLogprobs out;
  if (opt.only_at.defined()) {
    // Output position p = b * (T-1) + t is predicted by row b * T + t = p + b of the flattened hidden states
    // (which predicts token row + 1).
    const at::Tensor pos = opt.only_at.ne(0).reshape({B * (T - 1)}).nonzero().squeeze(1);
    const at::Tensor sel = pos + at::div(pos, std::max<int64_t>(1, T - 1), "floor");
    out = head_at(f.final_hidden.reshape({B * T, cfg.hidden_size}), w.lm_head, sel,
                  input_ids.reshape({B * T}).index_select(0, sel + 1), pos, B * (T - 1), opt);
    out.logprobs = out.logprobs.view({B, T - 1});
    if (with_entropy) out.entropy = out.entropy.view({B, T - 1});
    return out;
  }
  std::vector<at::Tensor> logp, ent;
  for (int64_t s = 0; s < T - 1; s += chunk) {
    const int64_t c = std::min(chunk, T - 1 - s);
    const at::Tensor hidden = f.final_hidden.narrow(1, s, c).reshape({B * c, cfg.hidden_size});
    const at::Tensor target = input_ids.narrow(1, s + 1, c).reshape({B * c});
    const HeadLogprobs h = head_logprobs(hidden, w.lm_head, target, opt.temperature, with_entropy);
    logp.push_back(h.logprobs.view({B, c}));
    if (with_entropy) ent.push_back(h.entropy.view({B, c}));
  }
  out.logprobs = at::cat(logp, 1);
  if (with_entropy) out.entropy = at::cat(ent, 1);
  return out;
}

TokenLogprobs token_logprobs_packed(const ModelConfig& cfg, const DecoderWeights& w, const PrefixPacked& p,
                                    const LogprobOptions& opt) {
  if (opt.chunk <= 0) throw std::invalid_argument("token_logprobs_packed: chunk must be positive");
  if (opt.position_ids.defined() || opt.only_at.defined())
    throw std::invalid_argument("token_logprobs_packed: the packing sets the positions and the selection");
  const int64_t R = p.ids.size(0), T = p.ids.size(1);
  const ForwardOutput f = decoder_forward(cfg, w, p.ids, at::ones_like(p.ids), p.positions,
                                          /*keep_hidden_states=*/false, /*compute_logits=*/false,
                                          opt.checkpoint_layers, p.pattern);
  TokenLogprobs out = head_at(f.final_hidden.reshape({R * T, cfg.hidden_size}), w.lm_head, p.source, p.target,
                              p.out_index, p.out_rows * p.out_cols, opt);
  out.logprobs = out.logprobs.view({p.out_rows, p.out_cols});
  if (opt.with_entropy) out.entropy = out.entropy.view({p.out_rows, p.out_cols});
  return out;
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  const int64_t T = input_ids.size(1);
  const at::Tensor pred = logits.narrow(1, 0, T - 1);
  const at::Tensor target = input_ids.narrow(1, 1, T - 1);
  const at::Tensor valid = attention_mask.narrow(1, 1, T - 1).to(at::kBool);
  const at::Tensor logp = at::log_softmax(pred, -1);
  const at::Tensor tok = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1);
  const at::Tensor v = valid.to(tok.scalar_type());
  return -(tok * v).sum() / v.sum();
}

}  // namespace toolgrpo::model
