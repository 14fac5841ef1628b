// GRPO group-normalised advantages as a pure function of rewards laid out group after group.
#pragma once

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

}  // namespace toolgrpo::reward
