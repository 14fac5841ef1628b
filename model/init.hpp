// Random weights for a ModelConfig (the tiny models the project creates itself, and benchmark models):
// embeddings and linear weights N(0, initializer_range^2), biases 0, norm weights 1, from a fixed seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/choices.hpp"
#include "model/config.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::model {

// Preset (the built-in sizes) and its names, from the one table of shapes in init.cpp: model/choices.hpp.

// Built-in shapes for the byte tokenizer: `arch` with the layer shapes of `preset`; tied embeddings.
ModelConfig model_preset(Arch arch, Preset preset, int64_t vocab_size);
// The same by names (arch_from_name, preset_from_name); throws std::invalid_argument naming a bad choice.
ModelConfig model_preset(const std::string& arch, const std::string& preset, int64_t vocab_size);

DecoderWeights decoder_weights_random(const ModelConfig& cfg, uint64_t seed, double initializer_range = 0.02);

}  // namespace toolgrpo::model
