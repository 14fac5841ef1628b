// Checkpoint and resume of GRPO and SFT runs in-process at np 1, 2 and 4 (tests/parallel/mpi_main.cpp owns MPI):
// - restart equality: 6 steps in one run == 3 steps, a stop signal, a resume and 3 more: final weights, AdamW
//   state and the non-timing metrics of steps 4-6 bit for bit (KL and entropy on);
// - an np 2 checkpoint resumed at np 1, at np 4 and in split mode continues with the same data order and (up to
//   the stated tolerance) the same weights as the uninterrupted np 2 run;
// - a stop signal during generation abandons the step in flight (checkpoint of the step before, cursor restored);
// - a finished run leaves DONE and a second start does nothing; a changed seed or model is refused;
// - a finished run asked for more steps continues from its checkpoint (equal to the longer run from the start
//   under a constant learning rate; a cosine schedule spans the new count), one asked for no more changes nothing,
//   a DONE of an earlier version (no step count) counts as complete at the newest checkpoint, a damaged DONE is named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "app/cli/commands.hpp"
#include "app/config/config.hpp"
#include "app/report/run_log.hpp"
#include "app/train/checkpoint.hpp"
#include "app/train/trainer.hpp"
#include "io/checkpoint_file.hpp"
#include "model/optimizer.hpp"
#include "tests/app/train_test_util.hpp"
#include "tests/parallel/mpi_test_env.hpp"

using namespace toolgrpo;
using namespace toolgrpo::testing;
namespace fs = std::filesystem;

namespace {

// A scratch directory shared by the ranks of `comm` (its rank 0's pid names it).
std::string scratch(const parallel::Comm& comm, const std::string& tag) {
  std::string dir;
  if (comm.rank() == 0) {
    dir = (fs::temp_directory_path() / ("toolgrpo_resume_" + std::to_string(::getpid()) + "_" + tag)).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  comm.broadcast(dir, 0);
  return dir;
}

app::Config grpo_config(const std::string& out_dir, const std::vector<std::string>& extra, int np) {
  std::vector<std::string> o = {"data.train=" + shared() + "/toolrl/sft.jsonl", "rollout.prompts_per_step=4",
                                "rollout.group_size=4", "rollout.max_prompt_tokens=24", "rollout.max_new_tokens=8",
                                "grpo.mini_batches=2", "grpo.micro_batch_tokens=16", "grpo.lr=3e-3",
                                "grpo.steps=6", "grpo.kl_coef=0.01", "grpo.entropy_coef=0.01", "grpo.schedule=cosine",
                                "grpo.warmup_steps=2", "run.seed=5", "run.name=r", "run.out_dir=" + out_dir,
                                "checkpoint.every=2", "checkpoint.keep=2"};
  o.insert(o.end(), extra.begin(), extra.end());
  return app::config_parse("", "<test>", o, np);
}

app::Config sft_config(const std::string& out_dir, const std::vector<std::string>& extra, int np) {
  std::vector<std::string> o = {"data.train=" + shared() + "/toolrl/sft.jsonl", "sft.batch_size=4",
                                "sft.max_seq_tokens=96", "sft.micro_batch_tokens=200", "sft.lr=3e-3", "sft.steps=6",
                                "run.seed=3", "run.name=r", "run.out_dir=" + out_dir, "checkpoint.every=2",
                                "sft.schedule=cosine", "data.eval=" + shared() + "/toolrl/test.jsonl",
                                "data.eval_prompts=4", "log.eval_every=2"};
  o.insert(o.end(), extra.begin(), extra.end());
  return app::config_parse("", "<test>", o, np);
}

app::TrainOptions options(int signal_step = -1, const char* phase = "train") {
  app::TrainOptions opt;
  opt.reward = letters_reward;
  opt.print = false;
  opt.signal_rank = signal_step >= 0 ? 0 : -1;
  opt.signal_step = signal_step;
  opt.signal_phase = app::signal_phase_from_name(phase);
  return opt;
}

bool same_weights(const app::Policy& a, const app::Policy& b) {
  const auto pa = app::policy_parameters(a), pb = app::policy_parameters(b);
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (!at::equal(pa[i], pb[i])) return false;
  return true;
}

// The metrics rows of steps first..last (1-based "step") of `rows`.
std::vector<io::MetricsRow> steps_of(const std::vector<io::MetricsRow>& rows, int first, int last) {
  std::vector<io::MetricsRow> out;
  for (const auto& r : rows) {
    const double s = app::metric(r, "step");
    if (s >= first && s <= last) out.push_back(r);
  }
  return out;
}

void expect_same_metrics(const std::vector<io::MetricsRow>& a, const std::vector<io::MetricsRow>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t s = 0; s < a.size(); ++s) {
    ASSERT_EQ(a[s].size(), b[s].size());
    for (std::size_t k = 0; k < a[s].size(); ++k)
      if (!timing(a[s][k].first)) {
        EXPECT_EQ(a[s][k].second, b[s][k].second) << "step " << s << " " << a[s][k].first;
      }
  }
}

// The AdamW moments of a run directory's final checkpoint are bit-identical to another's.
void expect_same_optimizer(const std::string& run_a, const std::string& run_b, int64_t step) {
  const std::string name = io::checkpoint_file_name(step);
  const app::LoadedCheckpoint a = app::checkpoint_load(run_a + "/checkpoints/" + name, true);
  const app::LoadedCheckpoint b = app::checkpoint_load(run_b + "/checkpoints/" + name, true);
  EXPECT_EQ(a.optimizer_step, b.optimizer_step);
  ASSERT_EQ(a.exp_avg.size(), b.exp_avg.size());
  ASSERT_FALSE(a.exp_avg.empty());
  for (std::size_t i = 0; i < a.exp_avg.size(); ++i) {
    EXPECT_TRUE(at::equal(a.exp_avg[i], b.exp_avg[i])) << "exp_avg " << i;
    EXPECT_TRUE(at::equal(a.exp_avg_sq[i], b.exp_avg_sq[i])) << "exp_avg_sq " << i;
  }
  EXPECT_EQ(a.cursor.epoch, b.cursor.epoch);
  EXPECT_EQ(a.cursor.position, b.cursor.position);
}

using TrainFn = app::TrainResult (*)(const app::Config&, const parallel::Comm&, const app::TrainOptions&);

// 6 steps in one run versus 3 steps, a stop signal in step 4, a resume and the rest, on `comm`.
void restart_equality(TrainFn train, app::Config (*config)(const std::string&, const std::vector<std::string>&, int),
                      const parallel::Comm& comm, const char* phase) {
  const std::string dir = scratch(comm, std::string("restart_") + phase);
  const int np = comm.size();
  const app::TrainResult whole = train(config(dir + "/a", {}, np), comm, options());
  EXPECT_EQ(whole.end, app::RunEnd::Finished);
  // The signal arrives during step 4: in its generation the step is abandoned (checkpoint of step 3); in its
  // training the step completes first (checkpoint of step 4).
  const app::TrainResult first = train(config(dir + "/b", {}, np), comm, options(3, phase));
  ASSERT_EQ(first.end, app::RunEnd::Stopped);
  const int done = std::string(phase) == "generate" ? 3 : 4;
  EXPECT_EQ(static_cast<int>(first.metrics.size()), done);
  EXPECT_TRUE(fs::exists(dir + "/b/r/checkpoints/" + io::checkpoint_file_name(done)));
  EXPECT_FALSE(fs::exists(dir + "/b/r/DONE"));
  const app::TrainResult rest = train(config(dir + "/b", {}, np), comm, options());
  ASSERT_EQ(rest.end, app::RunEnd::Finished);
  EXPECT_EQ(rest.first_step, done);
  ASSERT_EQ(static_cast<int>(rest.metrics.size()), 6 - done);
  EXPECT_TRUE(same_weights(whole.policy, rest.policy)) << "relative difference " << weight_difference(whole.policy, rest.policy);
  EXPECT_GT(weight_difference(whole.policy, first.policy), 1e-6) << "the steps after the restart must move the weights";
  expect_same_metrics(steps_of(whole.metrics, done + 1, 6), rest.metrics);
  expect_same_metrics(whole.eval, [&] {  // every evaluation of the interrupted run, across both jobs
    std::vector<io::MetricsRow> e = first.eval;
    e.insert(e.end(), rest.eval.begin(), rest.eval.end());
    return e;
  }());
  if (comm.rank() == 0) {
    expect_same_optimizer(dir + "/a/r", dir + "/b/r", 6);
    EXPECT_TRUE(fs::exists(dir + "/b/r/DONE"));
    // The metrics file holds each step once, in order, across both jobs.
    std::ifstream in(dir + "/b/r/metrics.jsonl");
    int lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    EXPECT_EQ(lines, 6);
  }
  // A finished run does nothing when started again.
  const app::TrainResult again = train(config(dir + "/b", {}, np), comm, options());
  EXPECT_EQ(again.end, app::RunEnd::AlreadyDone);
  EXPECT_TRUE(again.metrics.empty());
  comm.barrier();
}

TEST(Resume, GrpoRestartEqualityStopInTraining) { restart_equality(app::grpo_train, grpo_config, world(), "train"); }
TEST(Resume, GrpoRestartEqualityStopInGeneration) { restart_equality(app::grpo_train, grpo_config, world(), "generate"); }
TEST(Resume, SftRestartEquality) { restart_equality(app::sft_train, sft_config, world(), "train"); }

// An np 2 run (with `first` settings) stopped after step 3 and resumed on `other` ranks with `extra`
// settings, against the uninterrupted np 2 run; returns the relative weight difference.
double cross_world(TrainFn train,
                   app::Config (*config)(const std::string&, const std::vector<std::string>&, int),
                   const std::string& tag, const std::vector<std::string>& extra, int other,
                   const std::vector<std::string>& first = {}) {
  const int rank = world().rank();
  const parallel::Comm two = world().split(rank < 2 ? 0 : -1, rank);
  const std::string dir = scratch(world(), tag);
  app::TrainResult whole;
  if (rank < 2) {
    whole = train(config(dir + "/a", first, 2), two, options());
    const app::TrainResult stopped = train(config(dir + "/b", first, 2), two, options(2, "train"));
    EXPECT_EQ(stopped.end, app::RunEnd::Stopped);
  }
  world().barrier();
  const parallel::Comm resumed = world().split(rank < other ? 0 : -1, rank);
  double d = -1;
  if (rank < other) {
    const app::TrainResult rest = train(config(dir + "/b", extra, other), resumed, options());
    EXPECT_EQ(rest.end, app::RunEnd::Finished);
    EXPECT_EQ(rest.first_step, 3);
    if (rank == 0) {
      d = weight_difference(rest.policy, whole.policy);
      std::printf("%s: resumed at np %d (%s) vs uninterrupted np 2: relative weight difference %.3g\n", tag.c_str(),
                  other, extra.empty() ? "colocated" : extra[0].c_str(), d);
      // Same data order: the resumed run read the rows the uninterrupted one read.
      const app::LoadedCheckpoint a = app::checkpoint_load(dir + "/a/r/checkpoints/" + io::checkpoint_file_name(6), false);
      const app::LoadedCheckpoint b = app::checkpoint_load(dir + "/b/r/checkpoints/" + io::checkpoint_file_name(6), false);
      EXPECT_EQ(a.cursor.epoch, b.cursor.epoch);
      EXPECT_EQ(a.cursor.position, b.cursor.position);
      EXPECT_EQ(b.facts.world_size, other);
    }
  }
  world().barrier();
  return d;
}

// How far a run resumed at step 3 at another rank count may end from the uninterrupted np 2 run after its 3
// further steps (trajectory_tolerance: a first-order estimate at the configs' peak lr 3e-3), given the
// relative rounding that separates the two runs' gradients at each of those steps: order_only over n sums, or
// with `whole` set, whole backward passes over mini-batches of `sequences` sequences of `tokens`.
double resumed_tolerance(int n, uint64_t seed, bool whole = false, int64_t sequences = 0, int64_t tokens = 0) {
  const app::Policy start = app::policy_load(app::config_parse("", "<test>", {}, 1).model, seed);
  const double eps_g = whole ? toolgrpo::testing::whole_backward(start.cfg, tokens, sequences * tokens, n)
                             : toolgrpo::testing::order_only(n);
  return trajectory_tolerance(3, 3e-3, eps_g, start);
}

TEST(Resume, GrpoAtOtherWorldSizes) {
  const int np = world().size();
  if (np < 2) GTEST_SKIP() << "needs an np 2 run to resume";
  // One sequence per micro-batch: each rank count computes the same per-sequence numbers, but sums the gradient in
  // another order (one rank accumulates its micro-batches; two ranks add two partial sums): order_only over the
  // mini-batch's 8 sequences and up to 4 ranks (measured: about 1.2e-7 at np 1 and 1.5e-7 at np 4, relative).
  // Resuming at the same rank count is bit for bit (the restart-equality tests).
  const double tol = resumed_tolerance(8 + 4, 5);
  const double d1 = cross_world(app::grpo_train, grpo_config, "grpo_np1", {}, 1);
  if (world().rank() == 0) {
    EXPECT_LE(d1, tol);
  }
  if (np >= 4) {
    const double d4 = cross_world(app::grpo_train, grpo_config, "grpo_np4", {}, 4);
    if (world().rank() == 0) {
      EXPECT_LE(d4, tol);
    }
  }
  // Colocated -> split: one training rank holds every sequence, in micro-batches of other shapes: whole backward
  // passes differ (sequences of 32 tokens, 8 to a mini-batch).
  const double ds = cross_world(app::grpo_train, grpo_config, "grpo_split",
                                {"parallel.mode=split", "parallel.generation_ranks=1"}, 2);
  if (world().rank() == 0) {
    EXPECT_LE(ds, resumed_tolerance(8 + 4, 5, true, 8, 32));
  }
}

TEST(Resume, SftAtOtherWorldSizes) {
  const int np = world().size();
  if (np < 2) GTEST_SKIP() << "needs an np 2 run to resume";
  // Batches of 4 sequences of up to 96 tokens packed into micro-batches of up to 200 tokens: which sequences
  // share a micro-batch (and so the padded shapes) depends on how many each rank holds: whole backward passes.
  const double d1 = cross_world(app::sft_train, sft_config, "sft_np1", {}, 1);
  if (world().rank() == 0) {
    EXPECT_LE(d1, resumed_tolerance(4 + 2, 3, true, 4, 96));
  }
  if (np >= 4) {
    const double d4 = cross_world(app::sft_train, sft_config, "sft_np4", {}, 4);
    if (world().rank() == 0) {
      EXPECT_LE(d4, resumed_tolerance(4 + 4, 3, true, 4, 96));
    }
  }
}

// The sharded optimizer's state: the same run resumed at the same rank count is bit for bit (restart
// equality), and a checkpoint of an np 2 sharded run resumes sharded at np 1 and np 4 and unsharded at np 2.
app::Config grpo_sharded_config(const std::string& out_dir, const std::vector<std::string>& extra, int np) {
  std::vector<std::string> e(extra);
  e.push_back("parallel.shard_optimizer=true");
  return grpo_config(out_dir, e, np);
}

TEST(Resume, ShardedOptimizerRestartEquality) {
  restart_equality(app::grpo_train, grpo_sharded_config, world(), "train");
}

TEST(Resume, ShardedOptimizerAtOtherWorldSizes) {
  const int np = world().size();
  if (np < 2) GTEST_SKIP() << "needs an np 2 run to resume";
  const std::vector<std::string> sharded = {"parallel.shard_optimizer=true"};
  const double d1 = cross_world(app::grpo_train, grpo_config, "sharded_np1", sharded, 1, sharded);
  const double d2 = cross_world(app::grpo_train, grpo_config, "sharded_unsharded", {}, 2, sharded);
  // As GrpoAtOtherWorldSizes: the sums' order (the shards' reduce-scatter adds ranks in its own order too).
  const double tol = resumed_tolerance(8 + 4, 5);
  if (world().rank() == 0) {
    EXPECT_LE(d1, tol);
    EXPECT_LE(d2, tol);
  }
  if (np >= 4) {
    const double d4 = cross_world(app::grpo_train, grpo_config, "sharded_np4", sharded, 4, sharded);
    if (world().rank() == 0) {
      EXPECT_LE(d4, tol);
    }
  }
}

TEST(Resume, RefusesAnotherSeedOrModel) {
  const int np = world().size();
  const std::string dir = scratch(world(), "refuse");
  const app::TrainResult first = app::grpo_train(grpo_config(dir, {}, np), world(), options(1, "train"));
  ASSERT_EQ(first.end, app::RunEnd::Stopped);
  for (const std::string& bad : {std::string("run.seed=6"), std::string("model.preset=small")}) {
    try {
      app::grpo_train(grpo_config(dir, {bad}, np), world(), options());
      ADD_FAILURE() << bad << " was accepted";
    } catch (const app::UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("cannot resume"), std::string::npos) << what;
      EXPECT_NE(what.find(bad.substr(0, bad.find('.'))), std::string::npos) << what;
    }
  }
  // Allowed overrides are taken; the run finishes.
  const app::TrainResult rest = app::grpo_train(grpo_config(dir, {"grpo.lr=1e-3", "log.eval_every=3"}, np), world(), options());
  EXPECT_EQ(rest.end, app::RunEnd::Finished);
  EXPECT_EQ(rest.first_step, 2);
}

// --- Extending a finished run ---

std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void text_write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Every file under `dir` with its size, modification time and (small files) content: what "no file changed" compares.
std::map<std::string, std::string> tree_state(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const auto size = e.file_size();
    std::string v = std::to_string(size) + " " + std::to_string(e.last_write_time().time_since_epoch().count());
    if (size < (1u << 20)) v += " " + text_of(e.path().string());
    out[fs::relative(e.path(), dir).string()] = v;
  }
  return out;
}

// The "step" of each line of a run's metrics.jsonl, in order.
std::vector<int> metric_steps(const std::string& run_dir) {
  std::vector<int> out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  for (std::string l; std::getline(in, l);) {
    const std::size_t at = l.find("\"step\": ");
    out.push_back(at == std::string::npos ? -1 : std::atoi(l.c_str() + at + 8));
  }
  return out;
}

// The names of the signal-test phases and of model origins (checkpoint metadata reference_kind): one table each,
// every value round-trips through its name, and an unknown name is refused with the names listed.
TEST(Resume, PhaseAndOriginKindNames) {
  for (const auto p : {app::SignalPhase::Generate, app::SignalPhase::Train, app::SignalPhase::Eval})
    EXPECT_EQ(app::signal_phase_from_name(app::signal_phase_name(p)), p);
  for (const auto k : {app::OriginKind::None, app::OriginKind::Directory, app::OriginKind::Checkpoint, app::OriginKind::Preset})
    EXPECT_EQ(app::origin_kind_from_name(app::origin_kind_name(k)), k);
  EXPECT_STREQ(app::origin_kind_name(app::OriginKind::Preset), "preset");
  try {
    app::signal_phase_from_name("backward");
    ADD_FAILURE() << "backward was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'backward'; expected one of: generate train eval"), std::string::npos) << e.what();
  }
}

TEST(Resume, DoneMarkerFormat) {
  const app::DoneMarker d = app::done_marker_parse(app::done_marker_text({"grpo", 12}), "RUN/DONE");
  EXPECT_EQ(d.kind, "grpo");
  EXPECT_EQ(d.steps, 12);
  EXPECT_EQ(app::done_marker_text({"sft", 3}), "complete\nkind: sft\nsteps: 3\n");
  // Earlier versions wrote the first line only: complete, step count unknown.
  const app::DoneMarker old = app::done_marker_parse("complete\n", "RUN/DONE");
  EXPECT_EQ(old.steps, -1);
  EXPECT_EQ(old.kind, "");
  // Keys a later version may add are passed over; CRLF and blank lines are taken.
  EXPECT_EQ(app::done_marker_parse("complete\r\n\r\nsteps: 7\r\nfinished_at: 1700000000\r\n", "RUN/DONE").steps, 7);
  for (const std::string& bad : {std::string(""), std::string("\n\n"), std::string("garbage"),
                                 std::string("complete\nsteps: four\n"), std::string("complete\nsteps: -2\n"),
                                 std::string("complete\nsteps 4\n"), std::string("complete\nkind: ppo\n"),
                                 std::string("steps: 4\ncomplete\n")}) {
    try {
      app::done_marker_parse(bad, "RUN/DONE");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const app::UsageError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("RUN/DONE: not the marker of a finished run: expected the line 'complete'", 0), 0u) << what;
      EXPECT_NE(what.find("'steps: N'"), std::string::npos) << what;
    }
  }
}

TEST(Resume, GrpoExtendsAFinishedRun) {
  const int np = world().size();
  const bool lead = world().rank() == 0;
  const std::string dir = scratch(world(), "extend");
  // Under a constant learning rate, 2 steps extended to 4 are the 4-step run: weights, AdamW state and metrics.
  const std::vector<std::string> constant = {"grpo.schedule=constant"};
  const auto with = [&](std::vector<std::string> o, const std::string& more) {
    o.push_back(more);
    return o;
  };
  const auto train = [&](const std::string& out, const std::vector<std::string>& o) {
    return app::grpo_train(grpo_config(dir + out, o, np), world(), options());
  };
  const app::TrainResult whole = train("/a", with(constant, "grpo.steps=4"));
  ASSERT_EQ(whole.end, app::RunEnd::Finished);
  ASSERT_EQ(train("/b", with(constant, "grpo.steps=2")).end, app::RunEnd::Finished);
  if (lead) {
    EXPECT_EQ(text_of(dir + "/b/r/DONE"), "complete\nkind: grpo\nsteps: 2\n");
  }
  const app::TrainResult more = train("/b", with(constant, "grpo.steps=4"));
  ASSERT_EQ(more.end, app::RunEnd::Finished);
  EXPECT_EQ(more.first_step, 2);
  ASSERT_EQ(more.metrics.size(), 2u);
  EXPECT_TRUE(same_weights(whole.policy, more.policy))
      << "relative difference " << weight_difference(whole.policy, more.policy);
  expect_same_metrics(steps_of(whole.metrics, 3, 4), more.metrics);
  if (lead) {
    expect_same_optimizer(dir + "/a/r", dir + "/b/r", 4);
    EXPECT_EQ(metric_steps(dir + "/b/r"), (std::vector<int>{1, 2, 3, 4}));  // each step once, 3 and 4 appended
    EXPECT_EQ(text_of(dir + "/b/r/DONE"), "complete\nkind: grpo\nsteps: 4\n");
  }
  world().barrier();
  // The same or fewer steps: nothing to do, nothing read or written.
  const auto before = lead ? tree_state(dir + "/b") : std::map<std::string, std::string>{};
  for (const char* steps : {"grpo.steps=4", "grpo.steps=3"}) {
    const app::TrainResult again = train("/b", with(constant, steps));
    EXPECT_EQ(again.end, app::RunEnd::AlreadyDone) << steps;
    EXPECT_TRUE(again.metrics.empty()) << steps;
  }
  if (lead) {
    EXPECT_EQ(tree_state(dir + "/b"), before);
  }
  // A cosine schedule (2 warm-up steps) spans the new count: steps 3 and 4 take their rates from a 4-step cosine.
  ASSERT_EQ(train("/c", {"grpo.steps=2"}).end, app::RunEnd::Finished);
  const app::TrainResult cos = train("/c", {"grpo.steps=4"});
  ASSERT_EQ(cos.end, app::RunEnd::Finished);
  ASSERT_EQ(cos.metrics.size(), 2u);
  for (int k = 0; k < 2; ++k)
    EXPECT_DOUBLE_EQ(app::metric(cos.metrics[k], "lr"), model::lr_at(model::LrSchedule::Cosine, 3e-3, 2 + k, 2, 4)) << "step " << 3 + k;
  // Under the old count step 4 would run at 0 (past the end of a 2-step cosine).
  EXPECT_EQ(model::lr_at(model::LrSchedule::Cosine, 3e-3, 3, 2, 2), 0.0);
  EXPECT_GT(app::metric(cos.metrics[1], "lr"), 1e-3);
  world().barrier();
}

TEST(Resume, DoneOfAnEarlierVersionIsCompleteAtTheNewestCheckpoint) {
  const int np = world().size();
  const bool lead = world().rank() == 0;
  const std::string dir = scratch(world(), "old_done");
  const std::string run = dir + "/r";
  ASSERT_EQ(app::grpo_train(grpo_config(dir, {"grpo.steps=2", "checkpoint.every=1"}, np), world(), options()).end,
            app::RunEnd::Finished);
  if (lead) text_write(run + "/DONE", "complete\n");  // as earlier versions wrote it
  world().barrier();
  const auto before = lead ? tree_state(run) : std::map<std::string, std::string>{};
  EXPECT_EQ(app::grpo_train(grpo_config(dir, {"grpo.steps=2"}, np), world(), options()).end, app::RunEnd::AlreadyDone);
  if (lead) {
    EXPECT_EQ(tree_state(run), before);
  }
  const app::TrainResult more = app::grpo_train(grpo_config(dir, {"grpo.steps=3"}, np), world(), options());
  ASSERT_EQ(more.end, app::RunEnd::Finished);
  EXPECT_EQ(more.first_step, 2);
  EXPECT_EQ(more.metrics.size(), 1u);
  if (lead) {
    EXPECT_EQ(text_of(run + "/DONE"), "complete\nkind: grpo\nsteps: 3\n");
    EXPECT_EQ(metric_steps(run), (std::vector<int>{1, 2, 3}));
    // Without a checkpoint either, an old DONE says nothing about the step: the run is complete, whatever is asked.
    text_write(run + "/DONE", "complete\n");
    fs::remove_all(run + "/checkpoints");
  }
  world().barrier();
  EXPECT_EQ(app::grpo_train(grpo_config(dir, {"grpo.steps=9"}, np), world(), options()).end, app::RunEnd::AlreadyDone);
  // A recorded count with no checkpoint to continue from: asking for more is refused with the reason.
  if (lead) text_write(run + "/DONE", "complete\nkind: grpo\nsteps: 3\n");
  world().barrier();
  try {
    app::grpo_train(grpo_config(dir, {"grpo.steps=5"}, np), world(), options());
    ADD_FAILURE() << "extended a run without a checkpoint";
  } catch (const app::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("holds no checkpoint to continue from"), std::string::npos) << e.what();
  }
  world().barrier();
}

TEST(Resume, DamagedDoneIsNamed) {
  const int np = world().size();
  const std::string dir = scratch(world(), "bad_done");
  if (world().rank() == 0) {
    fs::create_directories(dir + "/r");
    text_write(dir + "/r/DONE", "garbage\n");
  }
  world().barrier();
  try {  // every rank throws the same error (rank 0 read the file)
    app::grpo_train(grpo_config(dir, {"grpo.steps=2"}, np), world(), options());
    ADD_FAILURE() << "a damaged DONE was accepted";
  } catch (const app::UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(dir + "/r/DONE: not the marker of a finished run"), std::string::npos) << what;
    EXPECT_NE(what.find("found 'garbage' on line 1"), std::string::npos) << what;
  }
  world().barrier();
}

TEST(Resume, SftExtendsByEpochs) {
  // 80 rows in batches of 40: 2 steps an epoch. Raising sft.epochs from 1 to 2 asks for 4 steps.
  const int np = world().size();
  const bool lead = world().rank() == 0;
  const std::string dir = scratch(world(), "sft_epochs");
  const auto cfg = [&](const char* epochs) {
    return sft_config(dir, {"data.train=" + shared() + "/toolrl/test.jsonl", "sft.steps=0", "sft.batch_size=40",
                            "sft.micro_batch_tokens=400", epochs}, np);
  };
  ASSERT_EQ(app::sft_train(cfg("sft.epochs=1"), world(), options()).end, app::RunEnd::Finished);
  if (lead) {
    EXPECT_EQ(text_of(dir + "/r/DONE"), "complete\nkind: sft\nsteps: 2\n");
  }
  world().barrier();
  const auto before = lead ? tree_state(dir + "/r") : std::map<std::string, std::string>{};
  EXPECT_EQ(app::sft_train(cfg("sft.epochs=1"), world(), options()).end, app::RunEnd::AlreadyDone);
  if (lead) {
    EXPECT_EQ(tree_state(dir + "/r"), before);
  }
  const app::TrainResult more = app::sft_train(cfg("sft.epochs=2"), world(), options());
  ASSERT_EQ(more.end, app::RunEnd::Finished);
  EXPECT_EQ(more.first_step, 2);
  EXPECT_EQ(more.metrics.size(), 2u);
  if (lead) {
    EXPECT_EQ(text_of(dir + "/r/DONE"), "complete\nkind: sft\nsteps: 4\n");
    EXPECT_EQ(metric_steps(dir + "/r"), (std::vector<int>{1, 2, 3, 4}));
  }
  EXPECT_EQ(app::sft_train(cfg("sft.epochs=2"), world(), options()).end, app::RunEnd::AlreadyDone);
  world().barrier();
}

}  // namespace
