// CliArgs: "--name VALUE" (or "--name=VALUE") options and "--flag" switches of one subcommand; other words
// are positional. Unknown options, missing values and malformed numbers are UsageErrors that name the option;
// "--help" is a UsageError that lists the options.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace toolgrpo::app {

class CliArgs {
 public:
  CliArgs(const std::vector<std::string>& args, const std::vector<std::string>& options,
          const std::vector<std::string>& flags);

  bool has(const std::string& name) const;
  const std::string& get(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t min = INT64_MIN) const;
  double get_double(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace toolgrpo::app
