// Which ToolRL reward is computed: the published variants as flags of one struct, never environment variables.
// Variant names follow the reference's switches (WITHLENGTH, SCHEDULEREWARD, ...) and the paper's wording.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace toolgrpo::reward {

struct RewardConfig {
  bool with_length = false;       // WITHLENGTH: add the think-length reward in [0, 1]
  bool schedule_length = false;   // SCHEDULELENGTH: length target grows with the step (needs with_length)
  bool correct_max1 = false;      // CORRECTMAX1: correctness in [-1, 1] ("equal max")
  bool max1_step30_max3 = false;  // MAX1STEP30MAX3: two-stage scales switching at step 30
  bool schedule_reward = false;   // SCHEDULEREWARD: smooth dynamic scales over 150 steps
  bool refined = false;           // REFINEDREWARD: name/key lists must match in order to score
  bool intermediate = false;      // INTERMEDIATEREWARD: a tool scores only when matched as a whole
  bool coarse = false;            // COARSEREWARD: exact match or nothing

  bool operator==(const RewardConfig& o) const;
};

// Parses a variant name: "default", a reference switch name in any case ("withlength", "SCHEDULEREWARD"),
// a paper alias ("with_length", "dynamic_length", "equal_max", "two_stage", "smooth_dynamic", "fine_grained",
// "intermediate", "coarse"), or several joined by '+'. "schedulelength" implies "withlength", as the reference
// fixtures set both. Throws std::invalid_argument listing the accepted names.
RewardConfig reward_config_from_name(std::string_view name);

// Canonical name of a config ("default" or switch names joined by '+').
std::string reward_config_name(const RewardConfig& cfg);

// Every accepted single name, for help texts and error messages.
std::vector<std::string> reward_variant_names();

}  // namespace toolgrpo::reward
