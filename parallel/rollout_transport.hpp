// Rollout transport: the groups each generator produced, delivered to every rank in one all-gather (token ids
// and a few numbers per sample: small next to the weights), and the token-balanced assignment of samples to the
// training ranks. Plain std types, so the model and reward libraries stay out of parallel/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parallel/comm.hpp"

namespace toolgrpo::parallel {

// One prompt and its G sampled responses.
struct RolloutGroup {
  int64_t index = 0;                           // the prompt's position in the step: orders groups globally
  std::vector<int64_t> prompt;                 // prompt token ids
  std::vector<std::vector<int64_t>> responses; // (G) response token ids
  std::vector<uint8_t> truncated;              // (G) 1 when the response hit the token limit
  std::vector<double> values;                  // (G * fields) per-response numbers (reward parts), row-major
  std::vector<std::vector<float>> logprobs;    // (G) the sampler's log-prob of each response token, or empty
  int64_t fields = 0;
};

std::string rollouts_serialize(const std::vector<RolloutGroup>& groups);
// Throws std::runtime_error on a damaged buffer.
std::vector<RolloutGroup> rollouts_deserialize(const std::string& bytes);

// Every rank's groups, on every rank of `comm`, sorted by index.
std::vector<RolloutGroup> rollouts_allgather(const std::vector<RolloutGroup>& mine, const Comm& comm);

// Assigns items of the given token costs to `parts` owners so that the largest owner's total is small (longest
// first, each to the least loaded owner; ties to the lower owner). Deterministic; returns the owner of each item.
std::vector<int> balance_by_tokens(const std::vector<int64_t>& tokens, int parts);

}  // namespace toolgrpo::parallel
