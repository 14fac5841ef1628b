// The policy a run trains: model config, weights, tokenizer and chat format, from a Hugging Face model directory
// or built from the run seed (a built-in tiny model with the byte tokenizer). Saved back as a complete model
// directory (model.safetensors, config.json, tokenizer.json), so the run directory loads like any HF model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "app/config.hpp"
#include "model/bpe_tokenizer.hpp"
#include "model/chat_template.hpp"
#include "model/config.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::app {

struct Policy {
  model::ModelConfig cfg;
  model::DecoderWeights w;
  std::unique_ptr<model::BpeTokenizer> tok;
  std::string tokenizer_json;  // the tokenizer file's text, written with the weights
  model::ChatFormat chat = model::ChatFormat::Qwen25;
  at::Device device = at::kCPU;
};

// Every rank calls this and gets identical weights (a built-in model is drawn from `seed`), in fp32 on the CPU or,
// with model.device cuda, on GPU `local_rank % GPUs` of the node. Throws UsageError for a device this build or
// node cannot use.
Policy policy_load(const ModelSection& m, uint64_t seed, int local_rank = 0);

// Writes DIR/model.safetensors, DIR/config.json and DIR/tokenizer.json, each atomically.
void policy_save(const Policy& p, const std::string& dir);

// The trainable tensors of the policy, in the order of model::decoder_named_parameters.
std::vector<at::Tensor> policy_parameters(const Policy& p);

}  // namespace toolgrpo::app
