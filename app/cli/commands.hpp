// The subcommands of the toolgrpo executable. UsageError ("bad input", exit code 2) and HelpRequested ("--help",
// exit code 0) come from app/cli/cli_args.hpp.
#pragma once

#include <string>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "parallel/runtime.hpp"

namespace toolgrpo::app {

using CommandFn = int (*)(parallel::Runtime&, const std::vector<std::string>& args);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;  // nullptr in toolgrpo for the commands that run in toolgrpo-torch
  const char* torch_option = nullptr;  // with this option the command runs in toolgrpo-torch (eval --model)
};

const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
std::string usage_text();
// Whether the command line (without the program name and --kokkos-* options) runs in toolgrpo-torch: commands
// without code in this executable (see commands.cpp), and those given their torch_option.
bool command_needs_torch(const std::vector<std::string>& args);
// In toolgrpo: hands the process over to toolgrpo-torch (exec, same arguments) when command_needs_torch.
// Returns -1 when the command runs here, or the exit code when the exec failed (the message printed).
int hand_over_unless_light(int argc, char** argv);

int cmd_score(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_version(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_init_model(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_generate(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_tokenize(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_train(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_sft(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_plan(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_export(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_ckpt(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_eval(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_synth_data(parallel::Runtime&, const std::vector<std::string>& args);
int cmd_report(parallel::Runtime&, const std::vector<std::string>& args);

// The options and help of `train` (sft = false) and `sft`.
const CommandSpec& train_spec(bool sft);

}  // namespace toolgrpo::app
