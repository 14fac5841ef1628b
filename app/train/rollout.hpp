// The generation side of a GRPO step: a rank's prompts through the chat template and the tokenizer, G samples
// each from the KV-cache engine, decoded and scored, packed as rollout groups for the transport. The reward is a
// function so tests can train on a toy reward; the product's is the ToolRL reward (Kokkos batch scorer).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/config/config.hpp"
#include "app/report/progress.hpp"
#include "app/train/policy.hpp"
#include "io/dataset.hpp"
#include "parallel/rollout_transport.hpp"
#include "reward/score.hpp"

namespace toolgrpo::app {

// Scores responses laid out group after group (ground_truths[i / group_size] belongs to responses[i]).
using RewardFn = std::function<std::vector<reward::RewardScores>(
    const std::vector<std::string>& responses, const std::vector<std::string>& ground_truths, int64_t group_size,
    int64_t step)>;

// The ToolRL reward of `variant` (throws std::invalid_argument on an unknown name).
RewardFn toolrl_reward(const std::string& variant);

// Fields of RolloutGroup::values, per response.
enum RolloutField : int64_t { kTotal = 0, kFormat, kCorrectness, kLength, kValid, kRolloutFields };

struct RolloutWork {
  const io::Dataset* data = nullptr;
  std::vector<int64_t> rows;   // dataset rows of this rank's prompts
  int64_t first_index = 0;     // global index of rows[0] in the step (seeds, group order)
  int64_t step = 0;
  int64_t group_size = 1;
  bool greedy = false;
  int workers = 1;
  const std::atomic<bool>* cancel = nullptr;  // a stop signal: generation ends early (the result is discarded)
  ProgressStyle progress = ProgressStyle::Off;  // a progress bar of this rank's generation ...
  std::string progress_label;                   // ... named so ("step 3/10 generate")
};

struct RolloutTimes {
  double generate = 0, score = 0;
  int64_t prompt_tokens = 0, response_tokens = 0;
};

std::vector<parallel::RolloutGroup> rollouts_generate(const Policy& pol, const RolloutSection& ro, uint64_t seed,
                                                      const RolloutWork& work, const RewardFn& reward,
                                                      RolloutTimes& times);

// A response as the reward and the evaluation read it: decoded without special tokens, stripped as Python does.
std::string response_text(const Policy& pol, const std::vector<int64_t>& ids);

// The prompt's token ids (the end kept when longer than max_prompt_tokens: the question and the answer marker).
std::vector<int64_t> prompt_ids(const Policy& pol, const io::ToolRLRow& row, int64_t max_prompt_tokens);

// Tokens of the longest prompt of `d` (the longest of its 16 longest rows in bytes, rendered and encoded), at
// least 1: what the memory plan sizes generation and training by.
int64_t longest_prompt_tokens(const Policy& pol, const io::Dataset& d, int64_t max_prompt_tokens);

}  // namespace toolgrpo::app
