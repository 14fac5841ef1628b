// Locating and reading the reference data of ../shared/data in model tests.
#pragma once

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace toolgrpo::model::testing {

inline std::string shared() {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  return env ? env : TOOLGRPO_DEFAULT_SHARED_DATA;
}

inline std::vector<nlohmann::json> jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace toolgrpo::model::testing
