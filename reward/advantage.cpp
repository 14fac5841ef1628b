// GRPO's reward shaping and advantages; see advantage.hpp.
#include "reward/advantage.hpp"

#include "common/name_table.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace toolgrpo::reward {

namespace {

const common::EnumName<AdvantageStd> kAdvantageStds[] = {
    {AdvantageStd::Unbiased, "unbiased"}, {AdvantageStd::Population, "population"}, {AdvantageStd::None, "none"}};

}  // namespace

AdvantageStd advantage_std_from_name(std::string_view name) {
  return common::enum_from_name(kAdvantageStds, name, "advantage std");
}
const char* advantage_std_name(AdvantageStd mode) { return common::enum_name(kAdvantageStds, mode); }
std::vector<std::string> advantage_std_names() { return common::enum_names(kAdvantageStds); }

std::vector<double> group_advantages(const std::vector<double>& rewards, int group_size, AdvantageStd mode,
                                     double eps) {
  if (group_size <= 0) throw std::invalid_argument("group_advantages: group_size must be positive");
  const std::size_t g = static_cast<std::size_t>(group_size);
  if (rewards.size() % g != 0)
    throw std::invalid_argument("group_advantages: " + std::to_string(rewards.size()) +
                                " rewards do not split into groups of " + std::to_string(group_size));
  std::vector<double> adv(rewards.size());
  for (std::size_t start = 0; start < rewards.size(); start += g) {
    double mean = 0.0;
    for (std::size_t k = 0; k < g; ++k) mean += rewards[start + k];
    mean /= static_cast<double>(g);
    double sq = 0.0;
    for (std::size_t k = 0; k < g; ++k) sq += (rewards[start + k] - mean) * (rewards[start + k] - mean);
    double denom = 1.0;  // AdvantageStd::None
    if (mode == AdvantageStd::Unbiased) {
      if (g == 1) {
        mean = 0.0;
        denom = 1.0 + eps;
      } else {
        denom = std::sqrt(sq / static_cast<double>(g - 1)) + eps;
      }
    } else if (mode == AdvantageStd::Population) {
      denom = std::sqrt(sq / static_cast<double>(g)) + eps;
    }
    for (std::size_t k = 0; k < g; ++k) adv[start + k] = (rewards[start + k] - mean) / denom;
  }
  return adv;
}

std::vector<double> component_advantages(const std::vector<std::vector<double>>& components, int group_size,
                                         AdvantageStd mode, double eps) {
  if (components.empty()) throw std::invalid_argument("component_advantages: no components");
  std::vector<double> sum(components.front().size(), 0.0);
  for (std::size_t c = 0; c < components.size(); ++c) {
    if (components[c].size() != sum.size())
      throw std::invalid_argument("component_advantages: component " + std::to_string(c) + " has " +
                                  std::to_string(components[c].size()) + " rewards, component 0 has " +
                                  std::to_string(sum.size()));
    const std::vector<double> a = group_advantages(components[c], group_size, mode, eps);
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += a[i];
  }
  return sum;
}

bool group_has_spread(const double* rewards, std::size_t n) {
  for (std::size_t k = 1; k < n; ++k)
    if (rewards[k] != rewards[0]) return true;
  return false;
}

double overlong_penalty(int64_t tokens, const RewardShaping& s) {
  const int64_t buffer = s.overlong_buffer > 0 ? s.overlong_buffer : s.max_new_tokens / 4;
  if (buffer <= 0 || tokens <= s.max_new_tokens - buffer) return 0.0;
  return -s.overlong_scale *
         std::min(1.0, static_cast<double>(tokens - (s.max_new_tokens - buffer)) / static_cast<double>(buffer));
}

namespace {

void check_sizes(const SampleScores& r, std::size_t n, const char* what) {
  const std::size_t sizes[] = {r.format.size(), r.correctness.size(), r.length.size(), r.valid.size(),
                               r.response_tokens.size()};
  for (std::size_t m : sizes)
    if (m != n)
      throw std::invalid_argument(std::string(what) + ": the scores have " + std::to_string(n) +
                                  " totals but a part with " + std::to_string(m) + " entries");
}

// A part of the reward as trained on: 0 where the reward is not valid.
std::vector<double> valid_part(const std::vector<double>& part, const std::vector<char>& valid) {
  std::vector<double> out(part.size());
  for (std::size_t i = 0; i < part.size(); ++i) out[i] = valid[i] ? part[i] : 0.0;
  return out;
}

}  // namespace

std::vector<double> shaped_rewards(const SampleScores& scores, const RewardShaping& s,
                                   const std::vector<double>& kl_per_sequence) {
  const std::size_t n = scores.total.size();
  check_sizes(scores, n, "shaped_rewards");
  if (s.kl_coef > 0 && kl_per_sequence.size() != n)
    throw std::invalid_argument("shaped_rewards: " + std::to_string(kl_per_sequence.size()) + " KL values for " +
                                std::to_string(n) + " samples");
  std::vector<double> out = valid_part(scores.total, scores.valid);
  for (std::size_t i = 0; i < n; ++i) {
    if (s.overlong_penalty) out[i] += overlong_penalty(scores.response_tokens[i], s);
    if (s.kl_coef > 0) out[i] -= s.kl_coef * kl_per_sequence[i];
  }
  return out;
}

std::vector<double> step_advantages(const SampleScores& scores, const std::vector<double>& shaped,
                                    AdvantageMode mode, int group_size, AdvantageStd std_mode) {
  if (mode == AdvantageMode::Grpo) return group_advantages(shaped, group_size, std_mode);
  check_sizes(scores, shaped.size(), "step_advantages");
  std::vector<std::vector<double>> parts = {valid_part(scores.format, scores.valid),
                                            valid_part(scores.correctness, scores.valid),
                                            valid_part(scores.length, scores.valid), shaped};
  for (std::size_t i = 0; i < shaped.size(); ++i) parts[3][i] -= parts[0][i] + parts[1][i] + parts[2][i];
  return component_advantages(parts, group_size, std_mode);
}

}  // namespace toolgrpo::reward
