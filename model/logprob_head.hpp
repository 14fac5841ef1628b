// The vocabulary head of the log-prob pass as one autograd node: final hidden states -> logits -> log-softmax
// -> log-prob of each target token (and entropy). Autograd would keep logits, log-softmax and a (rows, vocab)
// one-hot gradient apart; this node keeps only the log-softmax and writes the logit gradient in one pass.
#pragma once

#include <ATen/core/Tensor.h>

namespace toolgrpo::model {

struct HeadLogprobs {
  at::Tensor logprobs;  // (N) float32: log softmax(hidden W^T / temperature)[target]
  at::Tensor entropy;   // (N) float32, or undefined
};

// hidden (N, hidden), cast to the weight's dtype when it differs (bf16 layers, fp32 head); weight (vocab,
// hidden); target (N) int64. Differentiable in hidden and weight (both outputs).
HeadLogprobs head_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& target,
                           double temperature, bool with_entropy);

}  // namespace toolgrpo::model
