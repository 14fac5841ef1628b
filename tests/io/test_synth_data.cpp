// The synthetic tool-calling task: the same rows for a seed, held-out tools and templates never seen in training,
// a second held-out split with the training tools but new phrasings and string values,
// every ground truth scoring the ToolRL reward's maximum against itself and counting as an exact call in eval,
// and the promised mix of one-call, two-call and plain-response rows.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

#include "io/dataset.hpp"
#include "io/synth_data.hpp"
#include "reward/config.hpp"
#include "reward/evaluate.hpp"
#include "reward/score.hpp"

namespace toolgrpo::io {
namespace {

SynthOptions options(uint64_t seed, int64_t train = 600, int64_t heldout = 200) {
  SynthOptions o;
  o.seed = seed;
  o.train_rows = train;
  o.heldout_rows = heldout;
  return o;
}

// The tool names of a system prompt: its "- name(" lines.
std::set<std::string> listed_tools(const std::string& system) {
  std::set<std::string> names;
  for (std::size_t p = 0; (p = system.find("\n- ", p)) != std::string::npos; p += 3)
    names.insert(system.substr(p + 3, system.find('(', p) - p - 3));
  return names;
}

// The "name" values of a ground truth's calls.
std::vector<std::string> called_tools(const std::string& gt) {
  std::vector<std::string> names;
  const std::string key = "{\"name\": \"";
  for (std::size_t p = 0; (p = gt.find(key, p)) != std::string::npos; p += key.size())
    names.push_back(gt.substr(p + key.size(), gt.find('"', p + key.size()) - p - key.size()));
  return names;
}

TEST(SynthData, SameSeedSameRowsOtherSeedOtherRows) {
  const SynthData a = synth_data_make(options(7)), b = synth_data_make(options(7)), c = synth_data_make(options(8));
  EXPECT_EQ(synth_rows_jsonl(a.train), synth_rows_jsonl(b.train));
  EXPECT_EQ(synth_rows_jsonl(a.heldout), synth_rows_jsonl(b.heldout));
  EXPECT_EQ(a.heldout_tools, b.heldout_tools);
  EXPECT_NE(synth_rows_jsonl(a.train), synth_rows_jsonl(c.train));
  EXPECT_NE(a.heldout_tools, c.heldout_tools);
  EXPECT_EQ(a.train.size(), 600u);
  EXPECT_EQ(a.train[0].id, "train-0");
  EXPECT_EQ(a.heldout.back().id, "heldout-199");
}

TEST(SynthData, HeldOutToolsAndTemplatesAreUnseenInTraining) {
  const SynthData d = synth_data_make(options(3));
  const std::set<std::string> train_tools(d.train_tools.begin(), d.train_tools.end());
  const std::set<std::string> heldout_tools(d.heldout_tools.begin(), d.heldout_tools.end());
  ASSERT_FALSE(heldout_tools.empty());
  for (const auto& t : heldout_tools) EXPECT_EQ(train_tools.count(t), 0u) << t;
  for (const auto& t : d.heldout_templates)
    for (const auto& u : d.train_templates) EXPECT_NE(t, u);
  std::set<std::string> train_prompts;
  for (const ToolRLRow& r : d.train) {
    for (const auto& name : listed_tools(r.system)) EXPECT_EQ(heldout_tools.count(name), 0u) << r.id << " lists " << name;
    for (const auto& name : called_tools(r.ground_truth)) EXPECT_EQ(train_tools.count(name), 1u) << r.id;
    train_prompts.insert(r.system + "\n" + r.user);
  }
  std::size_t heldout_calls = 0;
  for (const ToolRLRow& r : d.heldout) {
    EXPECT_EQ(train_prompts.count(r.system + "\n" + r.user), 0u) << r.id;
    for (const auto& name : called_tools(r.ground_truth)) {
      EXPECT_EQ(heldout_tools.count(name), 1u) << r.id << " calls " << name;
      ++heldout_calls;
    }
  }
  EXPECT_GT(heldout_calls, 100u);
}

TEST(SynthData, SeenToolsSplitUsesTrainingToolsWithNewRequests) {
  const SynthData d = synth_data_make(options(3));
  ASSERT_EQ(d.heldout_seen.size(), 200u);
  EXPECT_EQ(d.heldout_seen[0].id, "seen-0");
  const std::set<std::string> train_tools(d.train_tools.begin(), d.train_tools.end());
  std::set<std::string> train_users;
  for (const ToolRLRow& r : d.train) {
    train_users.insert(r.user);
    for (const std::string& v : d.heldout_seen_values)  // the new values never occur in a training request
      EXPECT_EQ(r.user.find(v), std::string::npos) << r.id << " mentions " << v;
  }
  for (const auto& t : d.heldout_seen_templates) {
    for (const auto& u : d.train_templates) EXPECT_NE(t, u);
    for (const auto& u : d.heldout_templates) EXPECT_NE(t, u);
  }
  std::set<std::string> called;
  std::size_t with_new_value = 0;
  for (const ToolRLRow& r : d.heldout_seen) {
    EXPECT_EQ(train_users.count(r.user), 0u) << r.id << ": " << r.user;
    for (const auto& name : listed_tools(r.system))
      EXPECT_EQ(train_tools.count(name), 1u) << r.id << " lists " << name;
    for (const auto& name : called_tools(r.ground_truth)) {
      EXPECT_EQ(train_tools.count(name), 1u) << r.id << " calls " << name;
      called.insert(name);
    }
    const auto passes = [&](const std::string& v) { return r.ground_truth.find("\"" + v + "\"") != std::string::npos; };
    with_new_value += std::any_of(d.heldout_seen_values.begin(), d.heldout_seen_values.end(), passes);
  }
  // Most calls pass a string argument, and every string they pass is one of the new values: a call row without
  // one passes only integers, enums or defaults.
  EXPECT_GT(with_new_value, 80u);
  EXPECT_GT(called.size(), train_tools.size() / 2);  // it asks for many of the training tools, not a few
  for (const auto& t : d.heldout_tools) EXPECT_EQ(called.count(t), 0u) << t;
}

TEST(SynthData, SeenToolsSplitIsReproducibleAndLeavesTheOtherSplitsAlone) {
  const SynthData a = synth_data_make(options(7)), b = synth_data_make(options(7));
  const SynthData c = synth_data_make(options(8));
  EXPECT_EQ(synth_rows_jsonl(a.heldout_seen), synth_rows_jsonl(b.heldout_seen));
  EXPECT_NE(synth_rows_jsonl(a.heldout_seen), synth_rows_jsonl(c.heldout_seen));
  SynthOptions more = options(7);
  more.heldout_seen_rows = 50;
  const SynthData m = synth_data_make(more);
  ASSERT_EQ(m.heldout_seen.size(), 50u);
  EXPECT_EQ(synth_rows_jsonl(m.train), synth_rows_jsonl(a.train));  // the other splits do not depend on it
  EXPECT_EQ(synth_rows_jsonl(m.heldout), synth_rows_jsonl(a.heldout));
  for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(m.heldout_seen[i].user, a.heldout_seen[i].user) << i;
  more.heldout_seen_rows = 0;
  EXPECT_THROW(synth_data_make(more), std::invalid_argument);
}

TEST(SynthData, RlSplitUsesTrainingToolsAndValuesInTemplatesOfItsOwn) {
  SynthOptions o = options(4);
  const SynthData none = synth_data_make(o);
  EXPECT_TRUE(none.rl.empty());  // not asked for: none
  o.rl_rows = 300;
  const SynthData d = synth_data_make(o);
  ASSERT_EQ(d.rl.size(), 300u);
  EXPECT_EQ(d.rl[0].id, "rl-0");
  // Asking for it changes no other split.
  EXPECT_EQ(synth_rows_jsonl(d.train), synth_rows_jsonl(none.train));
  EXPECT_EQ(synth_rows_jsonl(d.heldout), synth_rows_jsonl(none.heldout));
  EXPECT_EQ(synth_rows_jsonl(d.heldout_seen), synth_rows_jsonl(none.heldout_seen));
  for (const auto& t : d.rl_templates) {
    for (const auto* other : {&d.train_templates, &d.heldout_templates, &d.heldout_seen_templates})
      for (const auto& u : *other) EXPECT_NE(t, u);
  }
  const std::set<std::string> train_tools(d.train_tools.begin(), d.train_tools.end());
  std::set<std::string> users;
  for (const auto* split : {&d.train, &d.heldout, &d.heldout_seen})
    for (const ToolRLRow& r : *split) users.insert(r.user);
  std::size_t new_requests = 0;
  for (const ToolRLRow& r : d.rl) {
    new_requests += users.count(r.user) == 0;
    for (const auto& name : listed_tools(r.system)) EXPECT_EQ(train_tools.count(name), 1u) << r.id << " lists " << name;
    for (const auto& name : called_tools(r.ground_truth)) EXPECT_EQ(train_tools.count(name), 1u) << r.id << " calls " << name;
    for (const std::string& v : d.heldout_seen_values)  // the training values, not the held-out ones
      EXPECT_EQ(r.ground_truth.find("\"" + v + "\""), std::string::npos) << r.id << " passes " << v;
  }
  // Every request is new: the frames and the small-talk lines are the split's own.
  EXPECT_EQ(new_requests, d.rl.size());
  o.rl_rows = -1;
  EXPECT_THROW(synth_data_make(o), std::invalid_argument);
  o.rl_rows = 300;
  EXPECT_EQ(synth_rows_jsonl(synth_data_make(o).rl), synth_rows_jsonl(d.rl));  // reproducible
}

TEST(SynthData, EveryGroundTruthScoresTheMaximumAndIsAnExactCall) {
  SynthOptions o = options(5);
  o.rl_rows = 100;
  const SynthData d = synth_data_make(o);
  const reward::RewardConfig cfg = reward::reward_config_from_name("default");
  const double format_max = reward::format_range(cfg, 0).max, correct_max = reward::correctness_range(cfg, 0).max;
  int64_t rows = 0;
  for (const auto* split : {&d.train, &d.heldout, &d.heldout_seen, &d.rl})
    for (const ToolRLRow& r : *split) {
      const reward::GroundTruth gt(r.ground_truth);
      const reward::RewardScores s = reward::score_output(r.ground_truth, gt, cfg, 0);
      EXPECT_EQ(s.format, format_max) << r.id;
      if (called_tools(r.ground_truth).empty()) {
        // ToolRL's correctness is 0 for any output against a ground truth without calls (the reference scores
        // only calls), so the row's maximum is the format's: an output that calls a tool scores less.
        EXPECT_EQ(s.correctness, 0.0) << r.id;
        const std::string call = "<think> call </think>\n<tool_call>\n{\"name\": \"get_news\", \"parameters\": {}}\n</tool_call>";
        EXPECT_LT(reward::score_output(call, gt, cfg, 0).total, s.total) << r.id;
      } else {
        EXPECT_EQ(s.correctness, correct_max) << r.id;
      }
      const reward::EvalRecord e = reward::evaluate_output(r.ground_truth, gt, cfg, 0);
      EXPECT_TRUE(e.match.exact && e.match.names && e.format_ok) << r.id;
      ++rows;
    }
  EXPECT_EQ(rows, 1100);
}

TEST(SynthData, RowsMixOneCallTwoCallsAndPlainResponses) {
  const SynthData d = synth_data_make(options(2, 2000, 10));
  int64_t one = 0, two = 0, response = 0, with_default_left_out = 0, int_args = 0;
  for (const ToolRLRow& r : d.train) {
    const std::size_t calls = called_tools(r.ground_truth).size();
    one += calls == 1;
    two += calls == 2;
    response += calls == 0 && r.ground_truth.find("<response>") != std::string::npos;
    with_default_left_out += calls == 1 && r.ground_truth.find("weather") != std::string::npos &&
                             r.ground_truth.find("\"unit\"") == std::string::npos;
    int_args += r.ground_truth.find("\"nights\": ") != std::string::npos &&
                r.ground_truth.find("\"nights\": \"") == std::string::npos;
  }
  EXPECT_EQ(one + two + response, 2000);
  EXPECT_NEAR(two / 2000.0, 0.2, 0.04);
  EXPECT_NEAR(response / 2000.0, 0.2, 0.04);
  EXPECT_GT(with_default_left_out, 0);  // parameters with defaults are sometimes not passed
  EXPECT_GT(int_args, 0);               // integers are JSON numbers
}

TEST(SynthData, WrittenRowsReadBackAsToolRLData) {
  const SynthData d = synth_data_make(options(4, 30, 5));
  const auto path = std::filesystem::temp_directory_path() / ("toolgrpo_synth_" + std::to_string(::getpid()) + ".jsonl");
  std::ofstream(path) << synth_rows_jsonl(d.train);
  const Dataset back = dataset_load(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(back.rows.size(), 30u);
  for (std::size_t i = 0; i < 30; ++i) {
    EXPECT_EQ(back.rows[i].id, d.train[i].id);
    EXPECT_EQ(back.rows[i].system, d.train[i].system);
    EXPECT_EQ(back.rows[i].user, d.train[i].user);
    EXPECT_EQ(back.rows[i].ground_truth, d.train[i].ground_truth);
  }
}

// The learning test's task: K training tools without parameters. Every split that trains or tests the training
// tools calls and lists only the K kept ones, every call is written without arguments and every tool is listed
// without parameters; the ground truths still score the maximum and are exact calls; the unseen-tools split
// is the one the full task holds out.
TEST(SynthData, FewToolsWithoutArgumentsKeepsOnlyThoseToolsAndNoParameters) {
  SynthOptions o = options(3, 800, 100);
  o.rl_rows = 300;
  o.train_tools = 8;
  o.arguments = false;
  const SynthData d = synth_data_make(o);
  const SynthData full = synth_data_make(options(3, 800, 100));
  ASSERT_EQ(d.train_tools.size(), 8u);
  EXPECT_EQ(d.heldout_tools, full.heldout_tools);
  const std::set<std::string> kept(d.train_tools.begin(), d.train_tools.end());
  std::set<std::string> called;
  for (const auto* split : {&d.train, &d.heldout_seen, &d.rl})
    for (const ToolRLRow& r : *split) {
      for (const std::string& t : called_tools(r.ground_truth)) {
        EXPECT_TRUE(kept.count(t)) << r.id << " calls " << t;
        called.insert(t);
      }
      for (const std::string& t : listed_tools(r.system)) EXPECT_TRUE(kept.count(t)) << r.id << " lists " << t;
    }
  EXPECT_EQ(called, kept);  // every kept tool is used
  const reward::RewardConfig cfg = reward::reward_config_from_name("default");
  int64_t calls = 0;
  for (const auto* split : {&d.train, &d.heldout, &d.heldout_seen, &d.rl})
    for (const ToolRLRow& r : *split) {
      EXPECT_EQ(r.system.find(": str"), std::string::npos) << r.id;  // no parameter is listed
      EXPECT_EQ(r.system.find(": int"), std::string::npos) << r.id;
      for (std::size_t p = 0; (p = r.system.find("\n- ", p)) != std::string::npos; p += 3)
        EXPECT_EQ(r.system.compare(r.system.find('(', p), 4, "(): "), 0) << r.id;
      const std::size_t n = called_tools(r.ground_truth).size();
      std::size_t empty = 0;
      for (std::size_t p = 0; (p = r.ground_truth.find("\"parameters\": {}}", p)) != std::string::npos; ++p) ++empty;
      EXPECT_EQ(empty, n) << r.id;  // every call without arguments
      calls += static_cast<int64_t>(n);
      const reward::GroundTruth gt(r.ground_truth);
      EXPECT_TRUE(reward::evaluate_output(r.ground_truth, gt, cfg, 0).match.exact) << r.id;
    }
  EXPECT_GT(calls, 800);
}

TEST(SynthData, BadOptionsAreRejected) {
  SynthOptions o = options(1);
  o.train_rows = 0;
  EXPECT_THROW(synth_data_make(o), std::invalid_argument);
  o = options(1);
  o.two_call_share = 0.7;
  o.response_share = 0.5;
  EXPECT_THROW(synth_data_make(o), std::invalid_argument);
  for (int64_t k : {1, 2, 78, -1}) {  // 96 verb/noun pairs, 19 held out: 77 training tools at most, 3 at least
    o = options(1);
    o.train_tools = k;
    EXPECT_THROW(synth_data_make(o), std::invalid_argument) << k;
  }
  o = options(1);
  o.train_tools = 77;
  EXPECT_EQ(synth_data_make(o).train_tools.size(), 77u);
}

}  // namespace
}  // namespace toolgrpo::io
