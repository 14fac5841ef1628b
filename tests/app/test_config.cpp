// The YAML run configuration: defaults, overrides, every mistake reported at once with its path and line,
// role/divisibility checks against the world size, and the resolved dump reading back to the same config.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "app/cli/commands.hpp"
#include "app/config/config.hpp"

namespace toolgrpo::app {
namespace {

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}, int world = 1) {
  try {
    config_parse(yaml, "run.yaml", overrides, world);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

bool has(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

TEST(Config, DefaultsAndOverrides) {
  const Config d = config_parse("", "x", {}, 1);
  EXPECT_EQ(d.rollout.group_size, 4);
  EXPECT_EQ(d.grpo.adv_std, reward::AdvantageStd::Unbiased);
  const Config c = config_parse("grpo:\n  lr: 3e-6\nrollout:\n  group_size: 8\n", "x",
                                {"grpo.lr=2e-6", "reward.variant=withlength", "parallel.mode=split"}, 2);
  EXPECT_DOUBLE_EQ(c.grpo.lr, 2e-6);  // the override wins over the file
  EXPECT_EQ(c.rollout.group_size, 8);
  EXPECT_EQ(c.reward.variant, "withlength");
  EXPECT_EQ(c.parallel.mode, ParallelMode::Split);
}

TEST(Config, EveryMistakeReportedTogether) {
  const std::string msg = error_of(
      "run:\n  seed: 1\n  sed: 2\n"
      "grpo:\n  lr: fast\n  clip_low: 1.5\n  loss_agg: mean\n"
      "rollout:\n  group_size: -1\n"
      "trainer:\n  x: 1\n");
  EXPECT_TRUE(has(msg, "run.yaml:3: run.sed: unknown key")) << msg;
  EXPECT_TRUE(has(msg, "run.yaml:5: grpo.lr: expected a number, got 'fast'")) << msg;
  EXPECT_TRUE(has(msg, "grpo.clip_low: must be in [0, 1)")) << msg;
  EXPECT_TRUE(has(msg, "grpo.loss_agg: unknown loss aggregation 'mean'")) << msg;
  EXPECT_TRUE(has(msg, "rollout.group_size: must be > 0")) << msg;
  EXPECT_TRUE(has(msg, "run.yaml:10: unknown section 'trainer'")) << msg;
  EXPECT_TRUE(has(msg, "6 problem(s)")) << msg;
}

TEST(Config, RolesAndDivisibility) {
  EXPECT_TRUE(has(error_of("", {"parallel.mode=split"}, 1), "split needs at least 2 ranks"));
  EXPECT_TRUE(has(error_of("", {"parallel.mode=split", "parallel.generation_ranks=4"}, 4), "parallel.generation_ranks: must be in [1, 3]"));
  EXPECT_TRUE(has(error_of("", {"rollout.prompts_per_step=6"}, 4), "must be divisible by the 4 generating ranks"));
  EXPECT_TRUE(has(error_of("", {"grpo.mini_batches=3"}, 1), "must divide prompts_per_step x group_size (32)"));
  EXPECT_TRUE(has(error_of("", {"nodot=1", "grpo.lr"}), "expected section.key=value"));
  EXPECT_EQ(error_of("", {"parallel.mode=split", "parallel.generation_ranks=1"}, 2), "(no error)");
}

TEST(Config, ResolvedYamlReadsBack) {
  const Config c = config_parse("", "x", {"grpo.lr=1.5e-6", "model.path=/models/qwen", "grpo.dynamic_sampling=true"}, 1);
  const std::string yaml = config_to_yaml(c);
  const Config back = config_parse(yaml, "resolved", {}, 1);
  EXPECT_EQ(config_to_yaml(back), yaml);
  EXPECT_DOUBLE_EQ(back.grpo.lr, 1.5e-6);
  EXPECT_EQ(back.model.path, "/models/qwen");
  EXPECT_TRUE(back.grpo.dynamic_sampling);
  EXPECT_TRUE(has(error_of("[1, 2]"), "must be a mapping of sections"));
  EXPECT_TRUE(has(error_of("grpo: {lr: [1}"), "not valid YAML"));
}

// A file yaml-cpp cannot read is a UsageError naming the file, the line and the column, without yaml-cpp's own
// prefix; keys that are lists or mappings are named by line; nesting past yaml-cpp's limit is refused, not a
// crash.
TEST(Config, MalformedYamlNamesFileLineAndColumn) {
  std::string msg = error_of("grpo: {lr: [1}");
  EXPECT_EQ(msg.rfind("run.yaml: line 1, column 14: ", 0), 0u) << msg;
  EXPECT_TRUE(has(msg, "(not valid YAML)")) << msg;
  EXPECT_FALSE(has(msg, "yaml-cpp")) << msg;
  msg = error_of("run:\n  name: x\n  seed: [1\n");
  EXPECT_EQ(msg.rfind("run.yaml: line 4, column 1: end of sequence flow not found", 0), 0u) << msg;
  msg = error_of("? [a, b]\n: {name: x}\nrun:\n  ? {x: 1}\n  : 2\n");
  EXPECT_TRUE(has(msg, "run.yaml:1: expected a section name (run, model, data, ...), got a list")) << msg;
  EXPECT_TRUE(has(msg, "run.yaml:4: run: expected a key name, got a mapping")) << msg;
  msg = error_of("run: " + std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_EQ(msg.rfind("run.yaml: line 1, column ", 0), 0u) << msg;
  EXPECT_TRUE(has(msg, "nested deeper than yaml-cpp reads")) << msg;
}

// The paper's reference run and the quick-start settings, as shipped, are valid configurations.
TEST(Config, ShippedConfigsLoad) {
  const Config paper = config_load(std::string(TOOLGRPO_SOURCE_DIR) + "/jobs/configs/toolrl_paper.yaml",
                                   {"model.path=/models/x", "data.train=/data/rlla_rl.json"}, 8);
  EXPECT_EQ(paper.rollout.prompts_per_step * paper.rollout.group_size, 2048);
  EXPECT_DOUBLE_EQ(paper.grpo.lr, 1e-6);
  EXPECT_EQ(paper.grpo.kl_type, model::KlEstimator::K1);
  EXPECT_EQ(paper.grpo.kl_where, KlWhere::Reward);
  EXPECT_DOUBLE_EQ(paper.grpo.entropy_coef, 0.001);
  EXPECT_EQ(paper.grpo.epochs, 15);
  const Config quick = config_load(std::string(TOOLGRPO_SOURCE_DIR) + "/jobs/configs/quickstart.yaml", {}, 2);
  EXPECT_EQ(quick.grpo.steps, 8);
  EXPECT_EQ(quick.log.eval_every, 4);
  EXPECT_EQ(quick.grpo.kl_where, KlWhere::Reward);
}

// Every YAML file in jobs/configs loads: the paper configs at 8 ranks with the model and data given on the command
// line, as the job scripts run them; the others (quick start) at 2 ranks as they are.
TEST(Config, EveryJobsConfigLoads) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(TOOLGRPO_SOURCE_DIR) / "jobs" / "configs"))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int paper = 0;
  for (const auto& f : files) {
    const std::string name = f.filename().string();
    const bool is_paper = name.rfind("paper_", 0) == 0 || name == "toolrl_paper.yaml";
    SCOPED_TRACE(name);
    Config c;
    try {
      c = is_paper ? config_load(f.string(), {"model.path=/x", "data.train=/y"}, 8) : config_load(f.string(), {}, 2);
    } catch (const UsageError& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    if (name.rfind("paper_", 0) != 0) continue;
    ++paper;
    // The paper's GRPO settings, on GPUs, with checkpoints that the job scripts resume from.
    EXPECT_EQ(c.model.path, "/x");
    EXPECT_EQ(c.data.train, "/y");
    EXPECT_EQ(c.model.device, ModelDevice::Cuda);
    EXPECT_EQ(c.model.dtype, ModelDtype::Bf16);  // mixed precision on GPUs
    EXPECT_EQ(c.model.chat_template, has(name, "llama") ? model::ChatFormat::Llama3 : model::ChatFormat::Qwen25);
    EXPECT_EQ(c.rollout.prompts_per_step, 512);
    EXPECT_EQ(c.rollout.group_size, 4);
    EXPECT_EQ(c.rollout.max_new_tokens, 1024);
    EXPECT_DOUBLE_EQ(c.grpo.lr, 1e-6);
    EXPECT_EQ(c.grpo.epochs, 15);
    EXPECT_EQ(c.grpo.kl_type, model::KlEstimator::K1);
    EXPECT_DOUBLE_EQ(c.grpo.kl_coef, 0.001);
    EXPECT_EQ(c.grpo.kl_where, KlWhere::Reward);
    EXPECT_DOUBLE_EQ(c.grpo.entropy_coef, 0.001);
    EXPECT_GT(c.checkpoint.every, 0);
    EXPECT_EQ(c.checkpoint.resume.mode, ResumeMode::Auto);
    EXPECT_DOUBLE_EQ(c.run.time_limit, 0);  // the job scripts set it
    // The model and the data come from the command line: the file leaves them empty.
    const Config bare = config_load(f.string(), {}, 8);
    EXPECT_EQ(bare.model.path, "");
    EXPECT_EQ(bare.data.train, "");
  }
  EXPECT_EQ(paper, 4) << "paper_*.yaml for Qwen2.5-1.5B/3B/7B-Instruct and Llama-3.2-3B-Instruct";
}

// run.time_limit as the job scripts pass it: seconds, HH:MM:SS or MM:SS; anything else names the key.
TEST(Config, TimeLimitParsing) {
  const auto limit = [](const std::string& v) { return config_parse("", "x", {"run.time_limit=" + v}, 1).run.time_limit; };
  EXPECT_DOUBLE_EQ(config_parse("", "x", {}, 1).run.time_limit, 0);
  EXPECT_DOUBLE_EQ(limit("3600"), 3600);
  EXPECT_DOUBLE_EQ(limit("01:30:00"), 5400);
  EXPECT_DOUBLE_EQ(limit("90:00"), 5400);
  EXPECT_DOUBLE_EQ(config_parse("run:\n  time_limit: 01:30:00\n", "x", {}, 1).run.time_limit, 5400);
  for (const std::string bad : {"abc", "1:xx"}) {
    const std::string msg = error_of("", {"run.time_limit=" + bad});
    EXPECT_TRUE(has(msg, "run.time_limit")) << msg;
    EXPECT_TRUE(has(msg, "'" + bad + "'")) << msg;
  }
  EXPECT_TRUE(has(error_of("run:\n  time_limit: abc\n"), "run.yaml:2: run.time_limit")) << error_of("run:\n  time_limit: abc\n");
}

// Every choice key: each accepted name reads to its enum value and prints back as the same text (config.yaml, and
// the checkpoints that store it, keep today's bytes); an unknown name is refused with the key, its line and the
// accepted names; the names come from the enums' own tables (model.preset: init-model's presets, demo included).
TEST(Config, ChoiceNamesRoundTrip) {
  const auto yaml_value = [](const Config& c, const std::string& key) {
    const std::string yaml = config_to_yaml(c);
    const std::string sec = key.substr(0, key.find('.')), k = key.substr(key.find('.') + 1);
    const std::size_t at = yaml.find("\n  " + k + ": ", yaml.find(sec + ":"));
    if (at == std::string::npos) return std::string("(missing)");
    const std::size_t start = at + 5 + k.size();
    return yaml.substr(start, yaml.find('\n', start) - start);
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> keys = {
      {"model.arch", model::arch_names()},
      {"model.preset", model::preset_names()},
      {"model.dtype", choice_names<ModelDtype>()},
      {"model.device", choice_names<ModelDevice>()},
      {"model.chat_template", model::chat_format_names()},
      {"data.format", io::dataset_format_names()},
      {"grpo.schedule", model::lr_schedule_names()},
      {"sft.schedule", model::lr_schedule_names()},
      {"grpo.adv_std", reward::advantage_std_names()},
      {"grpo.advantage", choice_names<AdvantageMode>()},
      {"grpo.loss_agg", model::loss_agg_names()},
      {"grpo.kl_type", model::kl_estimator_names()},
      {"grpo.kl_where", choice_names<KlWhere>()},
      {"grpo.overlong", choice_names<Overlong>()},
      {"parallel.mode", choice_names<ParallelMode>()},
      {"checkpoint.resume", choice_names<ResumeMode>()},
  };
  for (const auto& [key, names] : keys) {
    SCOPED_TRACE(key);
    EXPECT_GE(names.size(), 2u);
    for (const auto& name : names) {
      const Config c = config_parse("", "x", {key + "=" + name}, 2);
      EXPECT_EQ(yaml_value(c, key), name);
      const std::string yaml = config_to_yaml(c);
      EXPECT_EQ(config_to_yaml(config_parse(yaml, "resolved", {}, 2)), yaml);
    }
    if (key == "checkpoint.resume") continue;  // any other text is a path
    if (key == "checkpoint.resume") continue;  // any other text is a path
    const std::string msg = error_of("", {key + "=gpt9"});
    EXPECT_TRUE(has(msg, key + ": ")) << msg;
    EXPECT_TRUE(has(msg, "'gpt9'")) << msg;
    std::string listed;
    for (const auto& name : names) listed += " " + name;
    EXPECT_TRUE(has(msg, listed)) << msg;  // every accepted name, in the table's order
    EXPECT_TRUE(has(msg, "1 problem(s)")) << msg;
  }
  EXPECT_TRUE(has(error_of("model:\n  arch: gpt9\n"), "run.yaml:2: model.arch: ")) << error_of("model:\n  arch: gpt9\n");
  // The values behind the names.
  EXPECT_EQ(config_parse("", "x", {"model.preset=demo"}, 1).model.preset, model::Preset::Demo);
  EXPECT_EQ(config_parse("", "x", {"model.preset=qwen2.5-0.5b"}, 1).model.preset, model::Preset::Qwen25_05B);
  EXPECT_EQ(config_parse("", "x", {"grpo.schedule=cosine"}, 1).grpo.schedule, model::LrSchedule::Cosine);
  EXPECT_EQ(config_parse("", "x", {"data.format=toolrl-json"}, 1).data.format, io::DatasetFormat::ToolrlJson);
  EXPECT_EQ(config_parse("", "x", {"grpo.advantage=gdpo"}, 1).grpo.advantage, AdvantageMode::Gdpo);
  EXPECT_EQ(config_parse("", "x", {"grpo.overlong=penalty"}, 1).grpo.overlong, Overlong::Penalty);
  EXPECT_EQ(config_parse("", "x", {"grpo.loss_agg=seq-mean-token-sum-norm"}, 1).grpo.loss_agg,
            model::LossAgg::SeqMeanTokenSumNorm);
  // model.chat_template: empty (from the architecture) stays empty; the chat library's alias qwen2 is not a key value.
  EXPECT_FALSE(config_parse("", "x", {}, 1).model.chat_template.has_value());
  EXPECT_EQ(yaml_value(config_parse("", "x", {}, 1), "model.chat_template"), "\"\"");
  EXPECT_TRUE(has(error_of("", {"model.chat_template=qwen2"}), "model.chat_template: 'qwen2' is not one of: qwen2.5 qwen3 llama3"));
  // checkpoint.resume: auto, never, or any other text as a path, printed back as written.
  const Config path = config_parse("", "x", {"checkpoint.resume=/runs/a/checkpoints/step_00000004.h5"}, 1);
  EXPECT_EQ(path.checkpoint.resume.mode, ResumeMode::Path);
  EXPECT_EQ(path.checkpoint.resume.path, "/runs/a/checkpoints/step_00000004.h5");
  EXPECT_EQ(yaml_value(path, "checkpoint.resume"), "/runs/a/checkpoints/step_00000004.h5");
  EXPECT_EQ(config_parse("", "x", {"checkpoint.resume=never"}, 1).checkpoint.resume.mode, ResumeMode::Never);
}

// The preset documented in config.hpp and defined by model/init.cpp: refused before issue 23 (config kept its own
// list tiny | small | bench).
TEST(Config, DemoPresetAccepted) {
  EXPECT_EQ(error_of("model:\n  preset: demo\n"), "(no error)");
  EXPECT_EQ(config_parse("model:\n  preset: demo\n", "x", {}, 1).model.preset, model::Preset::Demo);
}

// The resolved configuration of the defaults, byte for byte as before the choices became enums.
TEST(Config, DefaultChoicesPrintAsBefore) {
  const std::string yaml = config_to_yaml(config_parse("", "x", {}, 1));
  for (const char* line : {"  arch: qwen2\n", "  preset: tiny\n", "  dtype: fp32\n", "  device: cpu\n",
                           "  chat_template: \"\"\n", "  format: auto\n", "  schedule: constant\n",
                           "  adv_std: unbiased\n", "  advantage: grpo\n", "  loss_agg: token-mean\n",
                           "  kl_type: k3\n", "  kl_where: loss\n", "  overlong: none\n", "  mode: colocated\n",
                           "  resume: auto\n", "  variant: default\n"})
    EXPECT_TRUE(has(yaml, line)) << line << " in\n" << yaml;
}

}  // namespace
}  // namespace toolgrpo::app
