// The subcommands of the toolgrpo executable and the error type that means "bad input" (exit code 2).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/runtime.hpp"

namespace toolgrpo::app {

// Bad CLI arguments or bad input data: reported without a stack of context, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using CommandFn = int (*)(parallel::Runtime&, const std::vector<std::string>& args);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
std::string usage_text();

int cmd_score(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_version(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_init_model(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_generate(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_tokenize(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_train(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_sft(parallel::Runtime&, const std::vector<std::string>& args);

}  // namespace toolgrpo::app
