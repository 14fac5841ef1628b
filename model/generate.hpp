// Batched GRPO rollouts with a KV cache and group prefix sharing: every prompt is prefilled once and its cache
// serves its G samples (never G copies of the prompt through the model). Sampling (greedy, temperature, top-k,
// top-p) draws one token per sample and step by inverse transform with one counter-based uniform keyed by (run
// seed, step, prompt index, sample index, token position), so a sample does not depend on the batch or rank it
// ran in.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "model/config.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::model {

struct SamplingParams {
  bool greedy = false;
  double temperature = 1.0;
  double top_p = 1.0;  // nucleus mass kept; 1 = off
  int64_t top_k = 0;   // 0 = off
  int64_t max_new_tokens = 64;
  std::vector<int64_t> eos_token_ids;  // empty: never stop early
  int64_t pad_token_id = 0;
  // Stop once the decoded response contains one of these strings (the token that completes it is kept).
  // Needs `decode`, which turns a row's generated ids into text.
  std::vector<std::string> stop_strings;
  std::function<std::string(const std::vector<int64_t>&)> decode;
};

struct GenerationRequest {
  std::vector<std::vector<int64_t>> prompts;  // P prompts of token ids (any lengths >= 1)
  int64_t group_size = 1;                     // G samples per prompt
  SamplingParams sampling;
  uint64_t seed = 0;               // run seed
  int64_t step = 0;                // training step
  int64_t first_prompt_index = 0;  // global index of prompts[0] in the step
  bool share_prefix = true;        // false: prefill each prompt G times (the reference path for tests)
  int workers = 1;                 // CPU: sub-batches of prompts run on this many threads
  // Finished samples leave the decoding batch (by whole prompt groups with prefix sharing), so a step costs
  // what the live samples cost; false keeps every row to the end (the tokens are the same either way).
  bool compact_finished = true;
  // When set and it becomes true (a stop signal), decoding ends after the current token: the result is
  // incomplete and `cancelled` says so (the caller discards it).
  const std::atomic<bool>* cancel = nullptr;
  // When set, called as decoding advances with the work just done, in sample-tokens: each of the P*G samples
  // counts max_new_tokens, one per generated token and the rest of its budget when it ends early, so the calls
  // of a complete generation add up to P*G*max_new_tokens. With workers > 1 it is called from their threads.
  std::function<void(int64_t)> on_progress;
};

enum class FinishReason : uint8_t { Eos, Length, Stop };

struct GenerationResult {
  at::Tensor tokens;    // (P*G, max_new) int64; row p*G + s; pad_token_id after the end
  at::Tensor mask;      // (P*G, max_new) int64; 1 on generated tokens (the EOS token included)
  at::Tensor logprobs;  // (P*G, max_new) float32; log-prob of each sampled token under softmax(logits / T)
  std::vector<int64_t> lengths;       // (P*G) generated tokens per row
  std::vector<FinishReason> finish;   // (P*G)
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t prefill_tokens = 0, decode_tokens = 0;
  bool cancelled = false;  // stopped early through GenerationRequest::cancel
  int64_t rows_removed = 0;  // finished rows taken out of the decoding batch before the last step
};

// The seed of one sample: a hash of its coordinates.
uint64_t sample_seed(uint64_t run_seed, int64_t step, int64_t prompt_index, int64_t sample_index);

// One sampling step: a token for each row of logits (N, V) float, row r drawn with the uniform keyed by
// (seeds[r], t) (seeds from sample_seed, t the token position). Greedy: the argmax. Otherwise from
// softmax(logits / temperature), kept to the top_k largest logits (and those tied with the k-th) when top_k > 0,
// then to the nucleus when top_p < 1: the tokens ordered by probability, highest first and equal ones by lower
// id, each kept when the probability mass strictly before it is at most top_p (the smallest prefix whose mass
// exceeds top_p). No vocabulary-long cumulative sum is built (top_p 1: block masses, then one block's prefix
// sums; top_p < 1: only the largest candidates are ordered, as many as the nucleus needs). Returns the tokens (N)
// int64 and their log-probs (N) under log_softmax(logits / temperature) (greedy: temperature 1), on the logits'
// device.
std::pair<at::Tensor, at::Tensor> sample_tokens(const at::Tensor& logits, const SamplingParams& sp,
                                                const std::vector<uint64_t>& seeds, int64_t t);

GenerationResult generate(const ModelConfig& cfg, const DecoderWeights& w, const GenerationRequest& req);

}  // namespace toolgrpo::model
