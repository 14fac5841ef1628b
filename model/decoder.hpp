// The Qwen2 / Qwen3 / Llama decoder on plain ATen tensors: embeddings, RMSNorm, RoPE (with llama3 scaling),
// grouped-query attention with causal + padding masks and explicit position ids, SwiGLU MLP, tied or separate
// head. Parameters keep their Hugging Face names so checkpoints and exports map one to one.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "model/config.hpp"

namespace toolgrpo::model {

struct LayerWeights {
  at::Tensor q_proj, k_proj, v_proj, o_proj;  // (out, in)
  at::Tensor q_bias, k_bias, v_bias, o_bias;  // (out) or undefined
  at::Tensor q_norm, k_norm;                  // (head_dim) Qwen3 only
  at::Tensor input_norm, post_norm;           // (hidden)
  at::Tensor gate_proj, up_proj, down_proj;   // (inter, hidden), (inter, hidden), (hidden, inter)
  at::Tensor gate_bias, up_bias, down_bias;   // Llama mlp_bias only
};

struct DecoderWeights {
  at::Tensor embed;    // (vocab, hidden)
  std::vector<LayerWeights> layers;
  at::Tensor norm;     // (hidden)
  at::Tensor lm_head;  // (vocab, hidden); the same tensor as embed when tied
};

// Loads DIR's safetensors into `dtype` on `device`; every expected tensor must be present with its shape.
DecoderWeights decoder_weights_load(const ModelConfig& cfg, const std::string& dir, at::ScalarType dtype,
                                    at::Device device);

// Where named weights come from: the tensor of a Hugging Face name (in the dtype wanted) and the file it came
// from (for messages). Throws when the name is missing.
using WeightSource = std::function<std::pair<at::Tensor, std::string>(const std::string& name)>;
// The weights from any source (a safetensors store, a checkpoint), each checked against the shape the config
// implies, moved to `device`.
DecoderWeights decoder_weights_from(const ModelConfig& cfg, const WeightSource& source, at::Device device);

// A deep copy (detached), e.g. the frozen reference policy; a tied head stays tied to the copied embedding.
DecoderWeights decoder_weights_clone(const DecoderWeights& w);
// A copy of every tensor in `dtype` (detached) but the head, which stays w's own tensor (when tied, the
// original embedding): the bf16 layers of mixed precision under an fp32 head.
DecoderWeights decoder_weights_cast_layers(const DecoderWeights& w, at::ScalarType dtype);
// A copy of the weights on `device`.
DecoderWeights decoder_weights_to(const DecoderWeights& w, at::Device device);

// (Hugging Face name, tensor) of every parameter, lm_head omitted when tied (as save_pretrained does).
std::vector<std::pair<std::string, at::Tensor>> decoder_named_parameters(const ModelConfig& cfg,
                                                                         const DecoderWeights& w);

// Which attention kernel the decoder and the generation engine run. Fused: at::scaled_dot_product_attention
// (libtorch >= 2.1) in decoder_forward (activation checkpointing included), in generation's prefill and in its
// decode steps when no prompt cache is shared between samples. Reference: the hand-written matmul + softmax,
// the path the fused kernel is tested against. Auto (the default): Fused on CUDA tensors where available,
// Reference on the CPU, which keeps the numbers of libtorch 1.13 builds (libtorch 2.6's CPU kernel was not
// faster in the training benchmark on two cores). The environment variable TOOLGRPO_ATTENTION (auto, fused or reference; read once, at
// the first use) sets it for a run.
enum class AttentionKernel { Auto, Fused, Reference };
// Whether this build has the fused kernel (libtorch >= 2.1).
bool attention_fused_available();
// The kernel set (Auto, or Fused / Reference when chosen).
AttentionKernel attention_kernel();
// Sets the kernel for the whole process (tests run both paths on one build); Fused without the fused kernel
// throws std::invalid_argument.
void attention_kernel_set(AttentionKernel kernel);
// Whether attention on tensors like `q` runs the fused kernel under the kernel set.
bool attention_uses_fused(const at::Tensor& q);

// Rotary inverse frequencies (head_dim / 2) in float32, with llama3 scaling when configured.
at::Tensor rope_inv_freq(const ModelConfig& cfg);

struct ForwardOutput {
  at::Tensor logits;                      // (B, T, vocab) float32 (undefined when not computed)
  at::Tensor final_hidden;                // (B, T, hidden) after the final norm
  std::vector<at::Tensor> hidden_states;  // embeddings, each layer's output; the last one final-normed
};

// input_ids (B, T) int64; attention_mask (B, T) 1 = token, 0 = padding; position_ids (B, T) int64 or
// undefined (then 0..T-1 for every row). With checkpoint_layers (and autograd on), each layer keeps only its
// input for backward and runs again there (activation checkpointing): the same gradients for a fraction of
// the memory. attention_pattern (B, T, T) bool, when given, replaces the causal and padding masks: query i
// sees key j where it is true (the packed rows of PrefixPacked).
ForwardOutput decoder_forward(const ModelConfig& cfg, const DecoderWeights& w, const at::Tensor& input_ids,
                              const at::Tensor& attention_mask, const at::Tensor& position_ids = {},
                              bool keep_hidden_states = false, bool compute_logits = true,
                              bool checkpoint_layers = false, const at::Tensor& attention_pattern = {});

struct TokenLogprobs {
  at::Tensor logprobs;  // (B, T-1) float32: log p(ids[:, t+1] | ids[:, :t+1]) under softmax(logits / temperature)
  at::Tensor entropy;   // (B, T-1) float32 entropy of that distribution, or undefined
};

// How token_logprobs runs.
struct LogprobOptions {
  at::Tensor position_ids;  // (B, T) int64, or undefined: 0..T-1 for every row
  bool with_entropy = false;
  int64_t chunk = 512;      // positions per pass of the vocabulary head
  double temperature = 1.0;
  // (B, T-1), nonzero where a value is wanted (the response or answer tokens), or undefined for every position.
  // The head then runs at those positions alone and the others read 0: with long prompts and short answers most
  // of the head's work and all but a few of its saved log-softmax rows are skipped.
  at::Tensor only_at;
  bool checkpoint_layers = false;  // activation checkpointing (see decoder_forward)
};

// Per-token log-probs (and entropy) of given sequences, differentiable. The vocabulary projection and
// log-softmax run `chunk` positions at a time, so without autograd (old and reference log-probs) the
// (B, T, vocab) tensor is never held whole.
TokenLogprobs token_logprobs(const ModelConfig& cfg, const DecoderWeights& w, const at::Tensor& input_ids,
                             const at::Tensor& attention_mask, const LogprobOptions& opt = {});

// Sequences that share a prompt, packed for one forward pass: each row holds the prompt once, then every
// target (response) that continues it, each target at the positions it has right after the prompt and seeing
// only the prompt and its own earlier tokens. A target token's log-prob is the one it has in its own
// prompt + target row, while the prompt's forward and backward run once per row instead of once per sequence.
struct PrefixPacked {
  at::Tensor ids;        // (R, T) int64, right-padded with 0
  at::Tensor positions;  // (R, T) int64 position ids
  at::Tensor pattern;    // (R, T, T) bool: query i sees key j
  at::Tensor source;  // (N) int64: the flattened position (row * T + t) whose output predicts a target token
  at::Tensor target;  // (N) int64: that token
  at::Tensor out_index;  // (N) int64: where its value goes in the flattened (out_rows, out_cols) result
  int64_t out_rows = 0, out_cols = 0;
};

// One packed row: a prompt, the targets continuing it, and each target's row in the expanded layout.
struct PackedRow {
  const std::vector<int64_t>* prompt = nullptr;
  std::vector<const std::vector<int64_t>*> targets;
  std::vector<int64_t> out_rows;
};

// The packed input of `rows`. Values land where the expanded layout (one prompt + target per row,
// right-padded to out_cols + 1 tokens) puts them: target token k of a sequence with prompt length P at column
// P + k - 1 of its out_row (k = 0 has no value when P = 0).
PrefixPacked prefix_pack(const std::vector<PackedRow>& rows, int64_t out_rows, int64_t out_cols,
                         at::Device device = at::kCPU);

// token_logprobs of the expanded sequences, computed on their packed rows: the same values (and gradients) at
// every target token, 0 elsewhere. opt.position_ids and opt.only_at must be undefined (the packing sets
// both).
TokenLogprobs token_logprobs_packed(const ModelConfig& cfg, const DecoderWeights& w, const PrefixPacked& p,
                                    const LogprobOptions& opt = {});

// Mean next-token cross-entropy over positions whose token and target are both real (mask 1), as the
// causal-LM loss of the reference implementation.
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& input_ids, const at::Tensor& attention_mask);

}  // namespace toolgrpo::model
