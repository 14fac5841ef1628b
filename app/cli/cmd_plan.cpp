// toolgrpo plan: the memory plan of a training run before it is launched: the configuration (file and
// overrides), the model's config.json (no weights are read), the data's longest prompt when data.train is given,
// and the rank layout stated on the command line; against the memory a node and a GPU are said to have (or this
// machine's). The sizes come from the functions the run itself uses (app/train/memory_workload.hpp).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "app/config/config.hpp"
#include "app/train/checkpoint.hpp"
#include "app/train/memory_plan.hpp"
#include "app/train/memory_workload.hpp"
#include "app/train/policy.hpp"
#include "app/train/rollout.hpp"
#include "app/train/run_data.hpp"
#include "model/decoder.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {
namespace {

struct RankPlan {
  std::string title;  // "rank 0 (generates and trains; writes the checkpoints)"
  MemoryPlan plan;
};

}  // namespace

int cmd_plan(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "plan",
      "plan [--config FILE.yaml] [--sft] [--ranks N] [--ranks-per-node N] [--node-memory GB] [--gpu-memory GB] "
      "[--attention fused|reference] [section.key=value ...]",
      "Prints the memory plan that train (or sft) would print at start-up, without loading any weights: the "
      "bytes a rank holds at its peak, part by part, against what it may use. The model's shape comes from "
      "model.path's config.json (or a checkpoint's, or the preset); with data.train given, its longest prompt is "
      "counted in tokens with the model's tokenizer, as the run does, otherwise prompts are counted at "
      "rollout.max_prompt_tokens. Use it to choose the ranks, nodes and settings of a job before it waits in a "
      "queue.",
      {{"--config", "FILE.yaml", "the run configuration (YAML); without it every key has its default"},
       {"--sft", "", "the plan of sft instead of train (examples counted at sft.max_seq_tokens)"},
       {"--ranks", "N", "ranks of the run (mpirun -np N; default 1)"},
       {"--ranks-per-node", "N", "ranks on one node, sharing its memory (default: all of --ranks)"},
       {"--node-memory", "GB", "memory one node has for the job (default: this machine's MemAvailable)"},
       {"--gpu-memory", "GB", "free memory of one GPU, model.device cuda (default: this machine's GPU 0)"},
       {"--attention", "fused|reference",
        "the prefill's attention on GPUs: fused (libtorch >= 2.1 builds) or reference (per-head scores); "
        "default: this build's"}},
      {{"section.key=value", "", "overrides one configuration key, as for train"}},
      "Exit status 0 when every rank's plan fits, 3 when one does not, 2 for bad input. The figures are "
      "estimates; docs/performance.md says how close they came to measured peaks."};
  const CliArgs cli(args, spec);
  const bool sft = cli.has("--sft");
  constexpr int64_t kMostRanks = 1 << 20;  // far beyond any allocation; keeps the rank count an int
  const int64_t ranks = cli.has("--ranks") ? cli.get_int("--ranks", 1) : 1;
  if (ranks > kMostRanks)
    throw UsageError("plan: --ranks: at most " + std::to_string(kMostRanks) + ", got " + std::to_string(ranks));
  const int64_t per_node = std::min(ranks, cli.has("--ranks-per-node") ? cli.get_int("--ranks-per-node", 1) : ranks);
  const Config c = config_load(cli.get_or("--config", ""), cli.positional(), static_cast<int>(ranks));
  const std::string say_ranks = std::to_string(ranks) + " rank" + (ranks == 1 ? "" : "s");

  // The budget one rank has: the node's memory over its ranks, and on GPU runs one GPU's free memory (one rank
  // per GPU, as train requires unless parallel.share_gpus).
  const bool gpu = c.model.device == ModelDevice::Cuda;
  const auto bytes_of = [&](const char* option) {  // a positive number of GB
    const double gb = cli.get_double(option);
    if (!(gb > 0)) throw UsageError(std::string("plan: ") + option + ": expected a positive number of GB");
    return gb * 1e9;
  };
  MemoryBudget budget;
  if (cli.has("--node-memory")) {
    budget.host = bytes_of("--node-memory") / static_cast<double>(per_node);
    budget.host_source = "--node-memory " + cli.get("--node-memory") + " GB" +
                         (per_node > 1 ? " / " + std::to_string(per_node) + " ranks per node" : "");
  } else {
    budget.host = memory_available(static_cast<int>(per_node), budget.host_source);
    budget.host_source += " of this machine";
  }
  if (gpu && cli.has("--gpu-memory")) {
    budget.device = bytes_of("--gpu-memory");
    budget.device_source = "--gpu-memory " + cli.get("--gpu-memory") + " GB";
  } else if (gpu && model::cuda_available()) {
    budget.device = device_memory_free(0, 1, budget.device_source);
  } else if (gpu) {
    budget.device_source = "no GPU on this machine: give --gpu-memory GB";
  }

  // The prompts in tokens: the data's, as the run counts them, or the configured bound.
  const model::ModelConfig cfg = model_config_of(c.model);
  PromptSizes prompts;
  std::string prompt_note;
  if (!sft && !c.data.train.empty()) {
    const RunData data = run_data_load(c);
    const Policy text = policy_without_weights(c.model);  // its tokenizer and chat format count the prompts
    prompts.train_longest = longest_prompt_tokens(text, data.train, c.rollout.max_prompt_tokens);
    prompts.eval_prompts = static_cast<int64_t>(data.eval.rows.size());
    prompts.eval_longest = prompts.eval_prompts > 0 ? longest_prompt_tokens(text, data.eval, c.rollout.max_prompt_tokens) : 0;
    prompt_note = "the longest prompt of " + c.data.train + ": " + std::to_string(prompts.train_longest) + " tokens";
  } else if (!sft) {
    prompts.train_longest = c.rollout.max_prompt_tokens;
    prompt_note = "prompts counted at rollout.max_prompt_tokens (" + std::to_string(c.rollout.max_prompt_tokens) +
                  "): give data.train=FILE to count its longest";
  }

  // The ranks whose plans differ: in colocated mode every rank generates and trains, and rank 0 also writes the
  // checkpoints; in split mode rank 0 generates and the first training rank writes them.
  const bool split = !sft && c.parallel.mode == ParallelMode::Split;
  const int64_t training = split ? ranks - c.parallel.generation_ranks : ranks;
  const int64_t generating = sft ? 0 : split ? c.parallel.generation_ranks : ranks;
  const std::string attention =
      cli.get_or("--attention", model::attention_fused_available() ? "fused" : "reference");
  if (attention != "fused" && attention != "reference")
    throw UsageError("plan: --attention: expected fused or reference, got '" + attention + "'");
  const auto workload = [&](bool trains, bool generates) {
    MemoryWorkload w = sft ? sft_memory_workload(c, ranks, c.sft.max_seq_tokens, c.sft.max_seq_tokens)
                           : grpo_memory_workload(c, {trains, generates, training, std::max<int64_t>(1, generating)},
                                                  prompts, c.grpo.kl_coef > 0);
    // The saver of the rank that writes the checkpoints (a training rank); it makes no files until it saves.
    const CheckpointSaver saver("", c.checkpoint, trains, -1, true, checkpoint_collective(c, training));
    memory_workload_add_run(w, c, training, saver, gpu, attention == "fused");
    return w;
  };
  std::vector<RankPlan> plans;
  if (split) {
    plans.push_back({"rank 0 (generates)", memory_plan(cfg, workload(false, true), budget)});
    plans.push_back({"rank " + std::to_string(c.parallel.generation_ranks) + " (trains; writes the checkpoints)",
                     memory_plan(cfg, workload(true, false), budget)});
  } else {
    plans.push_back({std::string("rank 0 (") + (sft ? "trains" : "generates and trains") + "; writes the checkpoints)",
                     memory_plan(cfg, workload(true, !sft), budget)});
  }

  if (rt.world().rank() == 0) {
    const std::string layout =
        split ? "split: " + std::to_string(generating) + " generating, " + std::to_string(training) + " training"
              : std::string("colocated");
    std::printf("plan: %s, %s, %s, %lld per node; %s, %lld parameters, model.dtype %s, model.device %s\n",
                sft ? "sft" : "train", say_ranks.c_str(), layout.c_str(), static_cast<long long>(per_node),
                model::arch_name(cfg.arch), static_cast<long long>(model::parameter_count(cfg)),
                choice_name(c.model.dtype), choice_name(c.model.device));
    if (!prompt_note.empty()) std::printf("plan: %s\n", prompt_note.c_str());
    if (gpu)
      std::printf("plan: generation's prefill counted with the %s attention kernel (--attention)\n", attention.c_str());
    for (const RankPlan& r : plans) std::printf("\n%s:\n%s\n", r.title.c_str(), r.plan.table().c_str());
  }
  bool fits = true, known = true;
  for (const RankPlan& r : plans) {
    fits = fits && r.plan.fits();
    known = known && (!r.plan.device || r.plan.available > 0);
  }
  if (rt.world().rank() == 0)
    std::printf("\nplan: %s\n", !known ? "not compared: the GPU's memory is unknown (--gpu-memory GB)"
                                 : fits ? "fits"
                                        : "does not fit (leave 5% free: a plan fits under 95% of what is available)");
  return known && !fits ? 3 : 0;
}

}  // namespace toolgrpo::app
