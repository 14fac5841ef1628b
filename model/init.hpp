// Random weights for a ModelConfig (the tiny models the project creates itself, and benchmark models):
// embeddings and linear weights N(0, initializer_range^2), biases 0, norm weights 1, from a fixed seed.
#pragma once

#include <cstdint>

#include "model/config.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::model {

DecoderWeights decoder_weights_random(const ModelConfig& cfg, uint64_t seed, double initializer_range = 0.02);

}  // namespace toolgrpo::model
