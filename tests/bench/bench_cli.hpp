// Options of the benchmark programs: "--name value" pairs, --help / -h prints the usage and the options with
// their defaults, an unknown option or a missing value is an error (exit code 2).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace toolgrpo::bench {

struct BenchOption {
  std::string name;   // "--threads"
  std::string value;  // "N", shown in the usage
  std::string help;   // what it sets, with its default
  std::function<void(const std::string&)> set;
};

// Applies the options of argv; returns -1 to go on, or the exit code the program should return (0 after --help).
inline int bench_options(int argc, char** argv, const std::string& name, const std::string& about,
                         const std::vector<BenchOption>& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("usage: %s", name.c_str());
      for (const auto& o : options) std::printf(" [%s %s]", o.name.c_str(), o.value.c_str());
      std::printf("\n%s\n", about.c_str());
      for (const auto& o : options)
        std::printf("  %-18s %s\n", (o.name + " " + o.value).c_str(), o.help.c_str());
      return 0;
    }
    const BenchOption* found = nullptr;
    for (const auto& o : options)
      if (o.name == a) found = &o;
    if (found == nullptr) {
      std::fprintf(stderr, "%s: unknown option %s (see --help)\n", name.c_str(), a.c_str());
      return 2;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s needs a value (see --help)\n", name.c_str(), a.c_str());
      return 2;
    }
    found->set(argv[++i]);
  }
  return -1;
}

inline std::function<void(const std::string&)> to_int(int& v) {
  return [&v](const std::string& s) { v = std::stoi(s); };
}
inline std::function<void(const std::string&)> to_int64(int64_t& v) {
  return [&v](const std::string& s) { v = std::stoll(s); };
}
inline std::function<void(const std::string&)> to_double(double& v) {
  return [&v](const std::string& s) { v = std::stod(s); };
}
inline std::function<void(const std::string&)> to_text(std::string& v) {
  return [&v](const std::string& s) { v = s; };
}

}  // namespace toolgrpo::bench
