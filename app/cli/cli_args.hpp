// CliArgs: the options of one subcommand, parsed against its CommandSpec (each option's name, value name and
// one-line help, plus the command's usage line and description). "--name VALUE", "--name=VALUE" and "--flag";
// other words are positional. Unknown options, missing values and malformed numbers are UsageErrors (exit 2)
// that name the option; "--help"/"-h" throws HelpRequested carrying the command's help text (exit 0).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace toolgrpo::app {

// Bad CLI arguments or bad input data: reported without a stack of context, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "--help" on a command line: main prints text() on rank 0 and exits 0.
struct HelpRequested : std::runtime_error {
  explicit HelpRequested(const std::string& help_text) : std::runtime_error(help_text) {}
  const char* text() const { return what(); }
};

struct OptionSpec {
  std::string name;   // "--data"
  std::string value;  // the value's name in help ("IN.jsonl", "N"); empty for a flag, which takes no value
  std::string help;   // one line
};

struct CommandSpec {
  std::string name;         // "score", "ckpt info": how messages name the command
  std::string usage;        // synopsis after "usage: toolgrpo ", e.g. "score --data IN.jsonl [--out OUT.jsonl]"
  std::string description;  // one paragraph (wrapped when printed)
  std::vector<OptionSpec> options;
  std::vector<OptionSpec> arguments;  // positional arguments (name, "", help); none: a positional is a UsageError
  std::string notes;                  // optional closing paragraph
};

// The text "--help" prints: usage line, description, arguments, options (with -h, --help), notes.
std::string help_text(const CommandSpec& spec);

class CliArgs {
 public:
  CliArgs(const std::vector<std::string>& args, const CommandSpec& spec);

  bool has(const std::string& name) const;
  // The option's value; a UsageError naming the option when it was not given.
  const std::string& get(const std::string& name) const;
  // The value, or `fallback` when the option was not given.
  std::string get_or(const std::string& name, const std::string& fallback) const;
  int64_t get_int(const std::string& name, int64_t min = INT64_MIN) const;
  double get_double(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  std::map<std::string, std::string> value_names_;  // option -> value name, for messages
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace toolgrpo::app
