// The table of subcommands and the top-level help text.
#include "app/commands.hpp"

namespace toolgrpo::app {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"score", "score JSON Lines outputs with the ToolRL reward", cmd_score},
      {"init-model", "create a Hugging Face-style model directory with random weights", cmd_init_model},
      {"generate", "sample from a model directory (KV cache, group prefix sharing)", cmd_generate},
      {"train", "GRPO training on ToolRL data (--config FILE, key=value overrides)", cmd_train},
      {"sft", "supervised fine-tuning on the ground-truth answers (same config and run directory)", cmd_sft},
      {"tokenize", "JSON Lines {\"text\"} -> {\"ids\"} with a tokenizer.json (or back with --decode)", cmd_tokenize},
      {"version", "print versions of toolgrpo and its libraries", cmd_version},
  };
  return table;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

std::string usage_text() {
  std::string s =
      "usage: toolgrpo <command> [options]   (launch with mpirun -np N for several ranks)\n\ncommands:\n";
  for (const auto& c : commands())
    s += "  " + std::string(c.name) + std::string(10 - std::string(c.name).size(), ' ') + c.summary + "\n";
  s += "\nRun 'toolgrpo <command> --help' for the options of a command.\n";
  return s;
}

}  // namespace toolgrpo::app
