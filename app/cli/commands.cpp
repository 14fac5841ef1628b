// The table of subcommands, the top-level help text, and the help of train/sft (their code is in cmd_train.cpp).
#include "app/cli/commands.hpp"
#include "app/report/eval_table.hpp"

// toolgrpo (TOOLGRPO_LIGHT) has no libtorch: its table names the model commands without their code, and main
// hands those over to toolgrpo-torch.
#ifdef TOOLGRPO_LIGHT
#define TOOLGRPO_TORCH_COMMAND(fn) nullptr
#else
#define TOOLGRPO_TORCH_COMMAND(fn) fn
#endif

namespace toolgrpo::app {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"score", "score JSON Lines outputs with the ToolRL reward", cmd_score},
      {"init-model", "create a Hugging Face-style model directory with random weights",
       TOOLGRPO_TORCH_COMMAND(cmd_init_model)},
      {"generate", "sample from a model directory (KV cache, group prefix sharing)",
       TOOLGRPO_TORCH_COMMAND(cmd_generate)},
      {"train", "GRPO training on ToolRL data (--config FILE, key=value overrides)",
       TOOLGRPO_TORCH_COMMAND(cmd_train)},
      {"plan", "the memory plan of a train or sft run before it is launched (ranks, node and GPU memory)",
       TOOLGRPO_TORCH_COMMAND(cmd_plan)},
      {"sft", "supervised fine-tuning on the ground-truth answers (same config and run directory)",
       TOOLGRPO_TORCH_COMMAND(cmd_sft)},
      {"eval", "tool-calling accuracy of generated outputs against ToolRL data (exact calls, format, reward)",
       cmd_eval, "--model"},
      {"eval-table", "accuracy of several runs over training seeds with bootstrap intervals (eval --out files)",
       cmd_eval_table},
      {"synth-data", "write a synthetic tool-calling task (train and held-out splits) for tiny models",
       cmd_synth_data},
      {"report", "SVG plots and an index.html of a run directory's metrics and evaluations", cmd_report},
      {"export", "write a checkpoint or run as a Hugging Face model directory (safetensors, fp32/bf16)",
       TOOLGRPO_TORCH_COMMAND(cmd_export)},
      {"ckpt", "inspect a checkpoint file: 'ckpt info FILE [--verify] [--brief]'", cmd_ckpt},
      {"tokenize", "JSON Lines {\"text\"} -> {\"ids\"} with a tokenizer.json (or back with --decode)",
       TOOLGRPO_TORCH_COMMAND(cmd_tokenize)},
      {"version", "print versions of toolgrpo and its libraries", TOOLGRPO_TORCH_COMMAND(cmd_version)},
  };
  return table;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

bool command_needs_torch(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  const std::string name = args.size() == 2 && args[0] == "help" ? args[1] : args[0];
  const Command* cmd = find_command(name);
  if (cmd == nullptr) return false;  // an unknown command: the usage error needs no model
  if (cmd->run == nullptr) return true;
  if (cmd->torch_option == nullptr) return false;
  const std::string option = cmd->torch_option;
  for (const std::string& a : args)
    if (a == option || a.rfind(option + "=", 0) == 0) return true;
  return false;
}

std::string usage_text() {
  std::string s =
      "usage: toolgrpo [--verbose] <command> [options]   (launch with mpirun -np N for several ranks)\n\ncommands:\n";
  for (const auto& c : commands())
    s += "  " + std::string(c.name) + std::string(12 - std::string(c.name).size(), ' ') + c.summary + "\n";
  s += "\nRun 'toolgrpo <command> --help' (or 'toolgrpo help <command>') for the options of a command.\n"
       "--verbose (or TOOLGRPO_VERBOSE=1) adds the libraries' own detail to error messages (libtorch's C++\n"
       "backtrace, HDF5's error stack).\n";
  return s;
}

const CommandSpec& train_spec(bool sft) {
  const std::vector<OptionSpec> options = {
      {"--config", "FILE.yaml", "the run configuration (YAML); without it every key has its default"},
  };
  const std::vector<OptionSpec> arguments = {
      {"section.key=value", "", "overrides one configuration key, e.g. grpo.lr=2e-6 rollout.group_size=8"},
  };
  const std::string notes =
      "The sections are run, model, data, rollout, reward, grpo, sft, parallel, checkpoint and log; every key, its "
      "meaning and its default are in README.md, section \"Configuration\" (and app/config/config.hpp). Rank 0 prints "
      "the resolved configuration and saves it as config.yaml in the run directory run.out_dir/run.name.";
  static const CommandSpec grpo = {
      "train",
      "train [--config FILE.yaml] [section.key=value ...]",
      "Trains the policy with GRPO on ToolRL data: each step samples rollout.group_size responses for each of "
      "rollout.prompts_per_step prompts, scores them with the ToolRL reward, normalises the rewards per group "
      "into advantages and takes clipped policy-gradient steps. Launch with mpirun -np N; ranks generate and "
      "train colocated or split (parallel.mode). The configuration is read from --config, then each "
      "key=value argument overrides one of its keys; every unknown key, wrong type or out-of-range value is "
      "reported (exit code 2) before anything runs. Metrics, evaluations, checkpoints and the final model go "
      "to the run directory.",
      options,
      arguments,
      notes};
  static const CommandSpec supervised = {
      "sft",
      "sft [--config FILE.yaml] [section.key=value ...]",
      "Supervised fine-tuning on the ground-truth answers of the ToolRL data (cross-entropy on the answer, the "
      "prompt masked out), with the same configuration file, overrides, ranks and run directory as train; the "
      "sft section sets its learning rate, batch size and length limits. The configuration is read from "
      "--config, then each key=value argument overrides one of its keys; every unknown key, wrong type or "
      "out-of-range value is reported (exit code 2) before anything runs.",
      options,
      arguments,
      notes};
  return sft ? supervised : grpo;
}

}  // namespace toolgrpo::app
