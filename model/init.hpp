// Random weights for a ModelConfig (the tiny models the project creates itself, and benchmark models):
// embeddings and linear weights N(0, initializer_range^2), biases 0, norm weights 1, from a fixed seed.
#pragma once

#include <cstdint>
#include <string>

#include "model/config.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::model {

// Built-in shapes for the byte tokenizer: arch qwen2 | qwen3 | llama, preset tiny (hidden 64, 2 layers) |
// small (256, 4) | bench (512, 8); tied embeddings. Throws std::invalid_argument naming a bad choice.
ModelConfig model_preset(const std::string& arch, const std::string& preset, int64_t vocab_size);

DecoderWeights decoder_weights_random(const ModelConfig& cfg, uint64_t seed, double initializer_range = 0.02);

}  // namespace toolgrpo::model
