// Command-line option parsing for subcommands; see cli_args.hpp.
#include "app/cli_args.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "app/commands.hpp"

namespace toolgrpo::app {
namespace {
std::string options_text(const std::vector<std::string>& options, const std::vector<std::string>& flags) {
  std::string s = "options:";
  for (const auto& o : options) s += " " + o + " VALUE";
  for (const auto& f : flags) s += " " + f;
  return s;
}
}  // namespace

CliArgs::CliArgs(const std::vector<std::string>& args, const std::vector<std::string>& options,
                 const std::vector<std::string>& flags) {
  const auto known = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 && a != "-h") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    const std::size_t eq = a.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    if (known(flags, name)) {
      if (inline_value) throw UsageError("option " + name + " takes no value");
      values_[name] = "1";
    } else if (known(options, name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) throw UsageError("option " + name + " needs a value");
        value = args[++i];
      }
      values_[name] = value;
    } else if (name == "--help" || name == "-h") {
      throw UsageError(options_text(options, flags));
    } else {
      throw UsageError("unknown option " + name + "; " + options_text(options, flags));
    }
  }
}

bool CliArgs::has(const std::string& name) const {
  return values_.count(name) != 0;
}

const std::string& CliArgs::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) throw UsageError("option " + name + " is required");
  return it->second;
}

int64_t CliArgs::get_int(const std::string& name, int64_t min) const {
  const std::string& v = get(name);
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("option " + name + " expects an integer, got '" + v + "'");
  if (x < min) throw UsageError("option " + name + " must be >= " + std::to_string(min) + ", got " + v);
  return x;
}

double CliArgs::get_double(const std::string& name) const {
  const std::string& v = get(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw UsageError("option " + name + " expects a number, got '" + v + "'");
  return x;
}

}  // namespace toolgrpo::app
