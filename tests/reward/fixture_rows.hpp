// Reads the reference reward fixtures (../shared/data/reward_fixtures) with the library's own JSON parser:
// fixture strings hold lone surrogates that general JSON libraries reject.
#pragma once

#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "reward/json.hpp"

namespace toolgrpo::reward::testing {

inline std::string shared_data_dir() {
  if (const char* env = std::getenv("TOOLGRPO_SHARED_DATA")) return env;
  return TOOLGRPO_DEFAULT_SHARED_DATA;
}

struct FixtureRow {
  int line = 0;
  const Value* json = nullptr;
  std::string str(const char* key) const {
    const Value* v = json->find(key);
    return v && v->is_string() ? std::string(v->string()) : std::string();
  }
  bool has(const char* key) const { return json->find(key) != nullptr; }
  double num(const char* key) const {
    const Value* v = json->find(key);
    if (v == nullptr) throw std::runtime_error(std::string("fixture row lacks ") + key);
    return v->kind == JsonKind::Float ? v->u.f : static_cast<double>(v->u.i);
  }
};

class FixtureFile {
 public:
  explicit FixtureFile(const std::string& name) : path_(shared_data_dir() + "/reward_fixtures/" + name) {
    std::ifstream in(path_);
    if (!in) throw std::runtime_error("cannot open fixture file " + path_);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      lines_.push_back(std::make_unique<std::string>(line));
      JsonError err;
      const Value* v = parser_.parse(*lines_.back(), arena_, &err);
      if (v == nullptr) throw std::runtime_error(path_ + ":" + std::to_string(n) + ": " + err.message);
      rows_.push_back(FixtureRow{n, v});
    }
  }
  const std::vector<FixtureRow>& rows() const { return rows_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  Arena arena_{1 << 20};
  JsonParser parser_;
  std::vector<std::unique_ptr<std::string>> lines_;
  std::vector<FixtureRow> rows_;
};

}  // namespace toolgrpo::reward::testing
