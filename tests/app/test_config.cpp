// The YAML run configuration: defaults, overrides, every mistake reported at once with its path and line,
// role/divisibility checks against the world size, and the resolved dump reading back to the same config.
#include <gtest/gtest.h>

#include "app/commands.hpp"
#include "app/config.hpp"

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
  EXPECT_EQ(d.grpo.adv_std, "unbiased");
  const Config c = config_parse("grpo:\n  lr: 3e-6\nrollout:\n  group_size: 8\n", "x",
                                {"grpo.lr=2e-6", "reward.variant=withlength", "parallel.mode=split"}, 2);
  EXPECT_DOUBLE_EQ(c.grpo.lr, 2e-6);  // the override wins over the file
  EXPECT_EQ(c.rollout.group_size, 8);
  EXPECT_EQ(c.reward.variant, "withlength");
  EXPECT_EQ(c.parallel.mode, "split");
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

// The paper's reference run and the quick-start settings, as shipped, are valid configurations.
TEST(Config, ShippedConfigsLoad) {
  const Config paper = config_load(std::string(TOOLGRPO_SOURCE_DIR) + "/jobs/configs/toolrl_paper.yaml",
                                   {"model.path=/models/x", "data.train=/data/rlla_rl.json"}, 8);
  EXPECT_EQ(paper.rollout.prompts_per_step * paper.rollout.group_size, 2048);
  EXPECT_DOUBLE_EQ(paper.grpo.lr, 1e-6);
  EXPECT_EQ(paper.grpo.kl_type, "k1");
  EXPECT_EQ(paper.grpo.kl_where, "reward");
  EXPECT_DOUBLE_EQ(paper.grpo.entropy_coef, 0.001);
  EXPECT_EQ(paper.grpo.epochs, 15);
  const Config quick = config_load(std::string(TOOLGRPO_SOURCE_DIR) + "/jobs/configs/quickstart.yaml", {}, 2);
  EXPECT_EQ(quick.grpo.steps, 8);
  EXPECT_EQ(quick.log.eval_every, 4);
  EXPECT_EQ(quick.grpo.kl_where, "reward");
}

}  // namespace
}  // namespace toolgrpo::app
