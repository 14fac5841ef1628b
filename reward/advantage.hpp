// GRPO's reward arithmetic after the reward itself, as pure functions over samples laid out group after group
// (G samples of one prompt, then the next prompt's): dynamic sampling's filter, the reward shaping (DAPO's soft
// over-long penalty, the KL term subtracted from the reward) and the advantages (grpo: the shaped reward normalised
// within its group; gdpo: each part normalised on its own, then summed). app/train/grpo_trainer.cpp calls them in this
// order; docs/DESIGN.md section 1 has the formulas.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace toolgrpo::reward {

enum class AdvantageStd {
  Unbiased,    // (r - mean) / (std with n-1 + eps), as the reference code (torch.std); a group of one uses
               // mean 0 and std 1, as the reference does
  Population,  // (r - mean) / (std with n + eps)
  None,        // r - mean (no scaling)
};

// The names (grpo.adv_std), one table: unbiased | population | none. from_name throws std::invalid_argument
// listing them.
AdvantageStd advantage_std_from_name(std::string_view name);
const char* advantage_std_name(AdvantageStd mode);
std::vector<std::string> advantage_std_names();

// rewards: (num_groups * group_size), group after group. Throws if the size is not a multiple of group_size.
std::vector<double> group_advantages(const std::vector<double>& rewards, int group_size, AdvantageStd mode,
                                     double eps = 1e-6);

// Per-component ("GDPO") advantages for multi-part rewards: each component (e.g. format, correctness, length) is
// normalised within its group by `mode` on its own, then the normalised components are summed, so a component with
// a large scale cannot drown one with a small scale; a component constant within a group adds 0 there.
// components: one vector per component, each laid out as group_advantages' rewards (all of one size).
std::vector<double> component_advantages(const std::vector<std::vector<double>>& components, int group_size,
                                         AdvantageStd mode, double eps = 1e-6);

enum class AdvantageMode { Grpo, Gdpo };  // grpo.advantage

// Dynamic sampling's filter: true when the rewards of one group are not all equal (a group whose rewards are all
// equal has advantages 0 everywhere and teaches nothing).
bool group_has_spread(const double* rewards, std::size_t n);

// What the reward gave each sample of a step. A sample whose reward is not valid counts as 0 in every part.
struct SampleScores {
  std::vector<double> total, format, correctness, length;  // the reward and its three parts
  std::vector<char> valid;
  std::vector<int64_t> response_tokens;  // the sampled response's length, for the over-long penalty
};

// The shaping between the reward and the advantages (grpo.overlong: penalty; grpo.kl_where: reward).
struct RewardShaping {
  bool overlong_penalty = false;
  int64_t max_new_tokens = 0;   // the response limit the penalty counts towards
  int64_t overlong_buffer = 0;  // the penalty's ramp in tokens; 0: a quarter of max_new_tokens
  double overlong_scale = 1.0;  // the penalty at the limit
  double kl_coef = 0.0;         // > 0: kl_coef times each sequence's summed KL is subtracted from its reward
};

// DAPO's soft over-long penalty for a response of `tokens`: 0 up to the limit minus the buffer, then falling
// linearly to -scale at the limit (and beyond).
double overlong_penalty(int64_t tokens, const RewardShaping& s);

// The reward each sample is trained on: its total (0 if not valid), plus the over-long penalty, minus kl_coef times
// its KL. kl_per_sequence: one summed KL per sample when s.kl_coef > 0, otherwise empty.
std::vector<double> shaped_rewards(const SampleScores& scores, const RewardShaping& s,
                                   const std::vector<double>& kl_per_sequence);

// The advantages of a step: Grpo normalises `shaped` within each group; Gdpo normalises format, correctness,
// length and the rest of the shaped reward (the penalty and the KL term) each on its own and sums them.
std::vector<double> step_advantages(const SampleScores& scores, const std::vector<double>& shaped,
                                    AdvantageMode mode, int group_size, AdvantageStd std_mode);

}  // namespace toolgrpo::reward
