// Variant names to RewardConfig flags; see config.hpp.
#include "reward/config.hpp"

#include <cctype>
#include <stdexcept>

namespace toolgrpo::reward {
namespace {

struct VariantName {
  const char* name;
  bool RewardConfig::*flag;
};

const VariantName kNames[] = {
    {"withlength", &RewardConfig::with_length},       {"with_length", &RewardConfig::with_length},
    {"schedulelength", &RewardConfig::schedule_length}, {"dynamic_length", &RewardConfig::schedule_length},
    {"correctmax1", &RewardConfig::correct_max1},     {"equal_max", &RewardConfig::correct_max1},
    {"max1step30max3", &RewardConfig::max1_step30_max3}, {"two_stage", &RewardConfig::max1_step30_max3},
    {"schedulereward", &RewardConfig::schedule_reward}, {"smooth_dynamic", &RewardConfig::schedule_reward},
    {"refinedreward", &RewardConfig::refined},        {"fine_grained", &RewardConfig::refined},
    {"intermediatereward", &RewardConfig::intermediate}, {"intermediate", &RewardConfig::intermediate},
    {"coarsereward", &RewardConfig::coarse},          {"coarse", &RewardConfig::coarse},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool RewardConfig::operator==(const RewardConfig& o) const {
  return with_length == o.with_length && schedule_length == o.schedule_length &&
         correct_max1 == o.correct_max1 && max1_step30_max3 == o.max1_step30_max3 &&
         schedule_reward == o.schedule_reward && refined == o.refined && intermediate == o.intermediate &&
         coarse == o.coarse;
}

std::vector<std::string> reward_variant_names() {
  std::vector<std::string> out{"default"};
  for (const auto& v : kNames) out.emplace_back(v.name);
  return out;
}

RewardConfig reward_config_from_name(std::string_view name) {
  RewardConfig cfg;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t plus = name.find('+', start);
    const std::string part = lower(name.substr(start, plus == std::string_view::npos ? name.npos : plus - start));
    bool known = part == "default";
    for (const auto& v : kNames) {
      if (part == v.name) {
        cfg.*(v.flag) = true;
        known = true;
      }
    }
    if (!known) {
      std::string msg = "unknown reward variant '" + part + "' (in '" + std::string(name) + "'); expected one of:";
      for (const auto& n : reward_variant_names()) msg += " " + n;
      msg += ", or several joined by '+'";
      throw std::invalid_argument(msg);
    }
    if (plus == std::string_view::npos) break;
    start = plus + 1;
  }
  if (cfg.schedule_length) cfg.with_length = true;
  return cfg;
}

std::string reward_config_name(const RewardConfig& cfg) {
  std::string out;
  const auto add = [&](bool on, const char* n) {
    if (!on) return;
    if (!out.empty()) out += '+';
    out += n;
  };
  add(cfg.with_length && !cfg.schedule_length, "withlength");
  add(cfg.schedule_length, "schedulelength");
  add(cfg.correct_max1, "correctmax1");
  add(cfg.max1_step30_max3, "max1step30max3");
  add(cfg.schedule_reward, "schedulereward");
  add(cfg.refined, "refinedreward");
  add(cfg.intermediate, "intermediatereward");
  add(cfg.coarse, "coarsereward");
  return out.empty() ? "default" : out;
}

}  // namespace toolgrpo::reward
