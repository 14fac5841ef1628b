// Group advantages; see advantage.hpp.
#include "reward/advantage.hpp"

#include "common/name_table.hpp"

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

}  // namespace toolgrpo::reward
