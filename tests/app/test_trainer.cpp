// The GRPO and SFT loops run in-process at np 1, 2 and 4 (tests/parallel/mpi_main.cpp owns MPI):
// - equivalence: colocated on the whole world == the same run on each rank alone (relative weight difference
//   <= 1e-6), split == colocated (<= 1e-5), SFT likewise;
// - determinism: the same config twice gives identical metrics and bit-identical weights;
// - learning signal: a toy reward a tiny random model can learn (share of lowercase ASCII letters in the
//   response) rises clearly within 30 GRPO steps; SFT lowers its loss.
#include <gtest/gtest.h>

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/config/config.hpp"
#include "app/train/trainer.hpp"
#include "tests/app/train_test_util.hpp"
#include "tests/parallel/mpi_test_env.hpp"

using namespace toolgrpo;
using namespace toolgrpo::testing;

namespace {

// A small GRPO run on the shared ToolRL prompts (cut to their last 24 tokens) with the toy reward.
app::Config small_config(const std::vector<std::string>& extra, int world) {
  std::vector<std::string> o = {"data.train=" + shared() + "/toolrl/sft.jsonl", "rollout.prompts_per_step=4",
                                "rollout.group_size=4", "rollout.max_prompt_tokens=24", "rollout.max_new_tokens=8",
                                "grpo.mini_batches=2", "grpo.micro_batch_tokens=16", "grpo.lr=3e-3",
                                "grpo.steps=3", "run.seed=5"};
  o.insert(o.end(), extra.begin(), extra.end());
  return app::config_parse("", "<test>", o, world);
}

// small_config's numbers, for the tolerances below.
constexpr int kSteps = 3;
constexpr double kLr = 3e-3;
constexpr int kSequencesPerMiniBatch = 4 * 4 / 2;  // prompts_per_step * group_size / mini_batches
constexpr int64_t kSequenceTokens = 24 + 8;       // max_prompt_tokens + max_new_tokens

// whole_backward (tests/app/train_test_util.hpp) for small_config's mini-batches.
double small_whole_backward(const app::Policy& p) {
  return whole_backward(p.cfg, kSequenceTokens, kSequencesPerMiniBatch * kSequenceTokens, kSequencesPerMiniBatch + 4);
}

// pg_loss is a mean over the step's response tokens of ratio * advantage, |A| <= sqrt(G - 1) for a group of G
// normalised advantages and the ratio clipped to <= 1 + clip_high (dual clip aside): two orders of that mean.
double pg_loss_tolerance() {
  const double tokens = 4 * 4 * 8, bound = std::sqrt(4.0 - 1) * 1.28;
  return fp32_reorder(tokens, bound);
}

app::TrainOptions quiet() {
  app::TrainOptions opt;
  opt.reward = letters_reward;
  opt.save = false;
  opt.print = false;
  return opt;
}

double weight_change(const app::Policy& trained, uint64_t seed) {
  const app::Config c = app::config_parse("", "<test>", {}, 1);
  const app::Policy start = app::policy_load(c.model, seed);
  return weight_difference(trained, start);
}

TEST(GrpoTrainer, WorldEqualsOneRankAlone) {
  const int np = world().size();
  if (np < 2) GTEST_SKIP() << "compares the whole world with one rank: needs 2 ranks or more";
  const parallel::Comm alone = world().split(world().rank(), 0);
  for (const char* agg : {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"}) {
    const std::vector<std::string> extra = {std::string("grpo.loss_agg=") + agg, "grpo.kl_coef=0.01",
                                            "grpo.entropy_coef=0.01", "grpo.overlong=filter"};
    const app::TrainResult one = app::grpo_train(small_config(extra, 1), alone, quiet());
    const app::TrainResult all = app::grpo_train(small_config(extra, np), world(), quiet());
    EXPECT_GT(weight_change(one.policy, 5), 1e-4) << "the run must move the weights for the comparison to mean something";
    const double d = weight_difference(all.policy, one.policy);
    if (world().rank() == 0) std::printf("GRPO %s np %d vs np 1: relative weight difference %.3g\n", agg, np, d);
    // One sequence per micro-batch: every rank count computes each sequence's gradient by the same kernels on
    // the same shapes; only the order of the sums over sequences and ranks differs.
    const double eps_g = order_only(kSequencesPerMiniBatch + np);
    EXPECT_LE(d, trajectory_tolerance(kSteps, kLr, eps_g, one.policy)) << agg << " at np " << np;
    ASSERT_EQ(all.metrics.size(), one.metrics.size());
    for (std::size_t s = 0; s < one.metrics.size(); ++s) {
      EXPECT_EQ(app::metric(all.metrics[s], "reward_total_mean"), app::metric(one.metrics[s], "reward_total_mean"));
      EXPECT_NEAR(app::metric(all.metrics[s], "pg_loss"), app::metric(one.metrics[s], "pg_loss"), pg_loss_tolerance());
      // The norm of gradients whose entries differ by at most eps_g of the largest: at most eps_g sqrt(N) times
      // the largest entry, itself at most the norm.
      const double norm = app::metric(one.metrics[s], "grad_norm");
      EXPECT_NEAR(app::metric(all.metrics[s], "grad_norm"), norm,
                  eps_g * std::sqrt(static_cast<double>(model::parameter_count(one.policy.cfg))) * norm);
    }
  }
}

TEST(GrpoTrainer, WorldEqualsOneRankAloneWithPaddedMicroBatches) {
  // Micro-batches of several sequences: which sequences share one (and so the padded GEMM shapes) differs with
  // the rank count, which changes rounding: whole backward passes differ, not only the order of their sums.
  const int np = world().size();
  if (np < 2) GTEST_SKIP() << "compares the whole world with one rank: needs 2 ranks or more";
  const parallel::Comm alone = world().split(world().rank(), 0);
  const app::TrainResult one = app::grpo_train(small_config({"grpo.micro_batch_tokens=96"}, 1), alone, quiet());
  const app::TrainResult all = app::grpo_train(small_config({"grpo.micro_batch_tokens=96"}, np), world(), quiet());
  EXPECT_GT(weight_change(one.policy, 5), 1e-4) << "the run must move the weights for the comparison to mean something";
  EXPECT_GT(weight_change(all.policy, 5), 1e-4);
  EXPECT_LE(weight_difference(all.policy, one.policy),
            trajectory_tolerance(kSteps, kLr, small_whole_backward(one.policy), one.policy));
}

TEST(GrpoTrainer, SplitEqualsColocated) {
  const int np = world().size();
  if (np < 2) GTEST_SKIP() << "split mode needs 2 ranks";
  const std::vector<std::string> base = {"grpo.kl_coef=0.01", "grpo.kl_where=reward"};
  const app::TrainResult colocated = app::grpo_train(small_config(base, np), world(), quiet());
  std::vector<std::string> split = base;
  split.insert(split.end(), {"parallel.mode=split", "parallel.generation_ranks=" + std::to_string(np / 2)});
  const app::TrainResult s = app::grpo_train(small_config(split, np), world(), quiet());
  EXPECT_GT(weight_change(s.policy, 5), 1e-4) << "the run must move the weights for the comparison to mean something";
  ASSERT_EQ(s.metrics.size(), colocated.metrics.size());
  const double d = weight_difference(s.policy, colocated.policy);
  if (world().rank() == 0) std::printf("GRPO split vs colocated at np %d: relative weight difference %.3g\n", np, d);
  // Fewer training ranks hold more sequences each: their micro-batches are other shapes.
  EXPECT_LE(d, trajectory_tolerance(kSteps, kLr, small_whole_backward(colocated.policy), colocated.policy));
  for (std::size_t k = 0; k < s.metrics.size(); ++k)
    EXPECT_EQ(app::metric(s.metrics[k], "reward_total_mean"), app::metric(colocated.metrics[k], "reward_total_mean"));
}

TEST(GrpoTrainer, ComponentAdvantagesWithOneComponentAreGrpos) {
  // The toy reward has only a correctness part (format and length 0, no KL in the reward): normalising each
  // component on its own and summing (gdpo) is then exactly the summed reward's normalisation, bit for bit.
  const int np = world().size();
  const app::TrainResult grpo = app::grpo_train(small_config({}, np), world(), quiet());
  const app::TrainResult gdpo = app::grpo_train(small_config({"grpo.advantage=gdpo"}, np), world(), quiet());
  EXPECT_GT(weight_change(gdpo.policy, 5), 1e-4);
  EXPECT_EQ(weight_difference(gdpo.policy, grpo.policy), 0.0);
  // With the KL in the reward it is a second component, normalised on its own: the runs part.
  const std::vector<std::string> kl = {"grpo.kl_coef=0.05", "grpo.kl_where=reward"};
  std::vector<std::string> kl_gdpo = kl;
  kl_gdpo.push_back("grpo.advantage=gdpo");
  const app::TrainResult a = app::grpo_train(small_config(kl, np), world(), quiet());
  const app::TrainResult b = app::grpo_train(small_config(kl_gdpo, np), world(), quiet());
  EXPECT_GT(weight_difference(b.policy, a.policy), 1e-6);
}

TEST(GrpoTrainer, SameSeedSameRun) {
  const int np = world().size();
  const std::vector<std::string> extra = {"grpo.dynamic_sampling=true", "grpo.overlong=penalty"};
  const app::TrainResult a = app::grpo_train(small_config(extra, np), world(), quiet());
  const app::TrainResult b = app::grpo_train(small_config(extra, np), world(), quiet());
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (std::size_t s = 0; s < a.metrics.size(); ++s)
    for (std::size_t k = 0; k < a.metrics[s].size(); ++k)
      if (!timing(a.metrics[s][k].first)) {
        EXPECT_EQ(a.metrics[s][k].second, b.metrics[s][k].second) << a.metrics[s][k].first;
      }
  const auto pa = app::policy_parameters(a.policy), pb = app::policy_parameters(b.policy);
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i], pb[i]));
  // A different seed gives different samples.
  std::vector<std::string> other = extra;
  other.push_back("run.seed=6");
  const app::TrainResult c = app::grpo_train(small_config(other, np), world(), quiet());
  EXPECT_NE(app::metric(c.metrics[0], "reward_total_mean"), app::metric(a.metrics[0], "reward_total_mean"));
}

TEST(GrpoTrainer, DynamicSamplingKeepsOnlyGroupsWithSignal) {
  // With the ToolRL reward most of a random model's groups have equal rewards (format 0): dynamic sampling drops
  // them, draws up to 3 rounds of prompts, and trains on at most prompts_per_step groups that have signal.
  const int np = world().size();
  app::TrainOptions opt = quiet();
  opt.reward = nullptr;
  const app::TrainResult r = app::grpo_train(
      small_config({"grpo.dynamic_sampling=true", "grpo.dynamic_sampling_rounds=3", "grpo.steps=1"}, np), world(), opt);
  const auto& m = r.metrics[0];
  const double generated = app::metric(m, "groups_generated"), trained = app::metric(m, "groups_trained");
  const double with_signal = std::round(generated * (1 - app::metric(m, "zero_std_group_fraction")));
  EXPECT_GT(app::metric(m, "zero_std_group_fraction"), 0);
  EXPECT_EQ(std::fmod(generated, 4), 0);  // whole rounds of 4 prompts
  EXPECT_LE(generated, 12);
  EXPECT_EQ(trained, std::min(4.0, with_signal));
  if (generated < 12) {
    EXPECT_EQ(trained, 4);  // it stopped early only because it had enough
  }
}

TEST(GrpoTrainer, ToyRewardIsLearned) {
  // 30 steps, 8 prompts x 8 samples of 8 tokens. Threshold: the mean of the last 5 steps is >= 0.5 and at least
  // 0.3 above the mean of the first 5 (a random model writes about 8% letters).
  const int np = world().size();
  if (np > 2) GTEST_SKIP() << "run at np 1 and 2 only (time)";
  const app::Config c = small_config({"rollout.prompts_per_step=8", "rollout.group_size=8", "grpo.steps=30",
                                      "grpo.lr=1e-2", "grpo.micro_batch_tokens=4096"}, np);
  const app::TrainResult r = app::grpo_train(c, world(), quiet());
  double first = 0, last = 0;
  std::string curve;
  for (std::size_t s = 0; s < r.metrics.size(); ++s) {
    const double v = app::metric(r.metrics[s], "reward_total_mean");
    if (s < 5) first += v / 5;
    if (s >= r.metrics.size() - 5) last += v / 5;
    char b[32];
    std::snprintf(b, sizeof b, "%s%.3f", s ? " " : "", v);
    curve += b;
  }
  if (world().rank() == 0) std::printf("toy reward curve (np %d): %s\n", np, curve.c_str());
  EXPECT_GE(last, 0.5) << curve;
  EXPECT_GE(last - first, 0.3) << curve;
}

app::Config sft_config(const std::vector<std::string>& extra, int world) {
  std::vector<std::string> o = {"data.train=" + shared() + "/toolrl/sft.jsonl", "sft.batch_size=4",
                                "sft.max_seq_tokens=96", "sft.micro_batch_tokens=200", "sft.lr=3e-3", "sft.steps=3",
                                "run.seed=3"};
  o.insert(o.end(), extra.begin(), extra.end());
  return app::config_parse("", "<test>", o, world);
}

TEST(SftTrainer, WorldEqualsOneRankAlone) {
  if (world().size() < 2) GTEST_SKIP() << "compares the whole world with one rank: needs 2 ranks or more";
  const parallel::Comm alone = world().split(world().rank(), 0);
  const app::TrainResult one = app::sft_train(sft_config({}, 1), alone, quiet());
  const app::TrainResult all = app::sft_train(sft_config({}, world().size()), world(), quiet());
  EXPECT_GT(weight_change(one.policy, 3), 1e-4);
  const double d = weight_difference(all.policy, one.policy);
  if (world().rank() == 0) std::printf("SFT np %d vs np 1: relative weight difference %.3g\n", world().size(), d);
  // Batches of 4 sequences of up to 96 tokens packed into micro-batches of up to 200 tokens: which sequences
  // share a micro-batch (and so the padded shapes) depends on how many each rank holds: whole backward passes.
  const int np = world().size();
  const double eps_g = whole_backward(one.policy.cfg, 96, 4 * 96, 4 + np);
  EXPECT_LE(d, trajectory_tolerance(3, 3e-3, eps_g, one.policy));
  // The loss: the mean over the batch's tokens of -log p, each within the forward bound of two implementations
  // (the weights themselves differ by the trajectory's rounding, a smaller effect at these step counts).
  const DecoderBounds fwd = decoder_bounds(one.policy.cfg, one.policy.w, 96);
  for (std::size_t s = 0; s < one.metrics.size(); ++s) {
    const double loss = app::metric(one.metrics[s], "loss");
    EXPECT_NEAR(app::metric(all.metrics[s], "loss"), loss, two_sided(fp32_mean_error(4 * 96, fwd.logprobs, loss)));
  }
}

TEST(SftTrainer, LossFallsAndEvalIsReported) {
  if (world().size() > 2) GTEST_SKIP() << "run at np 1 and 2 only (time)";
  const app::Config c = sft_config({"sft.steps=20", "data.eval=" + shared() + "/toolrl/test.jsonl",
                                    "data.eval_prompts=8", "log.eval_every=10"}, world().size());
  const app::TrainResult r = app::sft_train(c, world(), quiet());
  // A random byte-level model starts near ln(320) = 5.77 nats per token; byte statistics alone bring it well down.
  EXPECT_NEAR(app::metric(r.metrics.front(), "loss"), std::log(320.0), 0.3);
  EXPECT_LT(app::metric(r.metrics.back(), "loss"), app::metric(r.metrics.front(), "loss") - 1.0);
  ASSERT_EQ(r.eval.size(), 2u);
  const double first = app::metric(r.eval[0], "eval_loss"), second = app::metric(r.eval[1], "eval_loss");
  if (world().rank() == 0) std::printf("SFT eval_loss at step 10: %.4f, at step 20: %.4f\n", first, second);
  EXPECT_LT(second, first - 0.05) << "ten more SFT steps must lower the held-out loss";
}

}  // namespace

namespace {

// Activation checkpointing changes what backward keeps, not what it computes: GRPO and SFT runs with it end at
// the weights of runs without it (and the weights moved). The same for skipping zero-advantage sequences.
TEST(Trainers, MemoryAndWorkSavingsGiveTheSameWeights) {
  const int np = world().size();
  const app::TrainResult grpo = app::grpo_train(small_config({}, np), world(), quiet());
  const app::TrainResult grpo_ck =
      app::grpo_train(small_config({"grpo.activation_checkpointing=true"}, np), world(), quiet());
  EXPECT_GT(weight_change(grpo.policy, 5), 1e-4);
  const auto report = [&](const char* what, double d) {
    if (world().rank() == 0) std::printf("%s np %d: relative weight difference %.3g\n", what, np, d);
    return d;
  };
  // A recomputed layer runs the same kernels on the same shapes as the stored one: bit-identical weights.
  EXPECT_EQ(report("GRPO activation checkpointing", weight_difference(grpo_ck.policy, grpo.policy)), 0.0);
  // Skipping the zero-advantage sequences (the default) ends at the weights of training on them: their loss
  // terms are advantage 0 times the ratio, gradients of exactly 0, and with one sequence per micro-batch the
  // others keep their shapes, so only the order of the remaining sums can change.
  const app::TrainResult all_seqs =
      app::grpo_train(small_config({"grpo.skip_zero_advantage=false"}, np), world(), quiet());
  EXPECT_LE(report("GRPO skip_zero_advantage", weight_difference(all_seqs.policy, grpo.policy)),
            trajectory_tolerance(kSteps, kLr, order_only(kSequencesPerMiniBatch + np), grpo.policy));
  // The head over every position (response_only_head=false, unshared rows) ends at the same weights, through
  // other shapes end to end.
  const app::TrainResult full_head = app::grpo_train(
      small_config({"grpo.response_only_head=false", "grpo.prefix_sharing=false"}, np), world(), quiet());
  EXPECT_LE(report("GRPO full head", weight_difference(full_head.policy, grpo.policy)),
            trajectory_tolerance(kSteps, kLr, small_whole_backward(grpo.policy), grpo.policy));
  double zero_groups = 0;  // there were sequences to skip
  for (const auto& m : grpo.metrics) zero_groups += app::metric(m, "zero_std_group_fraction");
  EXPECT_GT(zero_groups, 0.0);
  // The AdamW moments split over the ranks (parallel.shard_optimizer) give the replicated optimizer's
  // weights.
  // The sharded optimizer adds the ranks' gradients by a reduce-scatter instead of an all-reduce (another order
  // of np terms) and sums the clipping norm's squares by shards: order_only.
  const app::TrainResult grpo_sh =
      app::grpo_train(small_config({"parallel.shard_optimizer=true"}, np), world(), quiet());
  EXPECT_LE(report("GRPO shard_optimizer", weight_difference(grpo_sh.policy, grpo.policy)),
            trajectory_tolerance(kSteps, kLr, order_only(np + 1), grpo.policy));
  const app::TrainResult sft = app::sft_train(sft_config({}, np), world(), quiet());
  const app::TrainResult sft_ck = app::sft_train(sft_config({"sft.activation_checkpointing=true"}, np), world(), quiet());
  EXPECT_GT(weight_change(sft.policy, 3), 1e-4);
  EXPECT_EQ(report("SFT activation checkpointing", weight_difference(sft_ck.policy, sft.policy)), 0.0);
  const app::TrainResult sft_sh =
      app::sft_train(sft_config({"parallel.shard_optimizer=true"}, np), world(), quiet());
  EXPECT_LE(report("SFT shard_optimizer", weight_difference(sft_sh.policy, sft.policy)),
            trajectory_tolerance(3, 3e-3, order_only(np + 1), sft.policy));
}

// ||a - b|| / ||b - start||: how far two runs' weights are apart, relative to how far the second one moved.
double update_difference(const app::Policy& a, const app::Policy& b, const app::Policy& start) {
  const auto pa = app::policy_parameters(a), pb = app::policy_parameters(b),
             ps = app::policy_parameters(start);
  double diff = 0, moved = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    diff += std::pow((pa[i] - pb[i]).norm().item<double>(), 2);
    moved += std::pow((pb[i] - ps[i]).norm().item<double>(), 2);
  }
  return std::sqrt(diff / moved);
}

// bf16 mixed precision (model.dtype: bf16): bf16 layers for every forward and backward pass, fp32 master
// weights, gradients, AdamW moments and vocabulary head. SFT on the same batches moves the weights as the
// fp32 run does: the two updates differ by at most 10% of the fp32 update (bf16 keeps 8 bits of mantissa:
// each activation is off by up to 0.4%). GRPO, whose samples can differ where bf16 logits cross a sampling
// threshold, moves the weights by a similar amount and its sampler and trainer agree on the log-probs (both
// run the bf16 copy).
TEST(Trainers, Bf16MixedPrecisionTracksFp32) {
  const int np = world().size();
  const app::Config c = sft_config({}, np);
  const app::Policy start = app::policy_load(c.model, 3);
  const app::TrainResult fp32 = app::sft_train(sft_config({}, np), world(), quiet());
  const app::TrainResult bf16 = app::sft_train(sft_config({"model.dtype=bf16"}, np), world(), quiet());
  ASSERT_TRUE(bf16.policy.compute.embed.defined());
  EXPECT_EQ(bf16.policy.compute.layers[0].q_proj.scalar_type(), at::kBFloat16);
  EXPECT_EQ(bf16.policy.w.layers[0].q_proj.scalar_type(), at::kFloat);  // the master weights
  EXPECT_EQ(bf16.policy.compute.lm_head.scalar_type(), at::kFloat);
  EXPECT_GT(weight_change(bf16.policy, 3), 1e-4);
  // The bf16 copy is the master weights rounded.
  EXPECT_TRUE(
      at::equal(bf16.policy.compute.layers[0].q_proj, bf16.policy.w.layers[0].q_proj.to(at::kBFloat16)));
  const double d = update_difference(bf16.policy, fp32.policy, start);
  if (world().rank() == 0)
    std::printf("SFT bf16 vs fp32 np %d: update difference %.3g of the fp32 update\n", np, d);
  // Not a worst-case bound: each bf16 rounding (unit 2^-8 = 0.39%) of an activation or weight along the chain
  // (inputs and outputs of about 10 matmuls and norms per layer, 2 layers, forward and backward: ~40) could add up
  // to 16% in the worst case; independent roundings add in quadrature, sqrt(40) 0.39% = 2.5% of the gradient,
  // which AdamW passes to its update at most doubled (5%). 10% is twice that estimate; measured: 2-4%.
  EXPECT_LE(d, 0.10);
  for (std::size_t s = 0; s < fp32.metrics.size(); ++s)
    EXPECT_NEAR(app::metric(bf16.metrics[s], "loss"), app::metric(fp32.metrics[s], "loss"),
                0.02 * std::abs(app::metric(fp32.metrics[s], "loss")))
        << "step " << s;

  // GRPO's samples themselves differ where bf16 moves a sampling threshold, so the two runs train on other data
  // and no tolerance of the weights applies; what holds is the size of the update: AdamW steps each entry by
  // about lr whatever the gradient's scale, so the distance moved depends on how consistently the gradients'
  // signs repeat over the 3 steps, which the two runs share to within the sampling differences: the same size to
  // within a factor of 2 either way (a run whose bf16 gradients were broken, zero or random in sign, falls
  // outside: zero moves nothing, random signs about 1/sqrt(3) of a consistent run's distance or less).
  const app::TrainResult g32 = app::grpo_train(small_config({}, np), world(), quiet());
  const app::TrainResult g16 = app::grpo_train(small_config({"model.dtype=bf16"}, np), world(), quiet());
  const double moved32 = weight_change(g32.policy, 5), moved16 = weight_change(g16.policy, 5);
  if (world().rank() == 0)
    std::printf("GRPO np %d: weights moved %.3g (fp32) and %.3g (bf16)\n", np, moved32, moved16);
  EXPECT_GT(moved16, 0.5 * moved32);
  EXPECT_LT(moved16, 2.0 * moved32);
  for (const auto& m : g16.metrics) {
    // Sampler and trainer both run the bf16 copy, with other shapes (cached decoding against a full pass): a
    // statistical estimate as above, 2.5% relative on logits of size ~1 at most, and the gap is a mean.
    EXPECT_LE(app::metric(m, "logprob_gap_mean"), 1e-2);
    EXPECT_TRUE(std::isfinite(app::metric(m, "pg_loss")));
  }
}

// Prefix sharing (the default) forwards each group's prompt once; the runs end at the weights of the expanded
// batch (each sample's prompt forwarded again), with micro-batches that hold whole groups (96 tokens) or
// split them (40 tokens: two samples per packed row), with the KL in the loss, the entropy term and the KL in
// the reward.
TEST(Trainers, PrefixSharingGivesTheWeightsOfTheExpandedBatch) {
  const int np = world().size();
  const std::vector<std::vector<std::string>> cases = {
      {"grpo.micro_batch_tokens=96"},
      {"grpo.micro_batch_tokens=40", "grpo.kl_coef=0.01", "grpo.entropy_coef=0.01"},
      {"grpo.micro_batch_tokens=96", "grpo.kl_coef=0.01", "grpo.kl_where=reward",
       "grpo.skip_zero_advantage=false"}};
  for (const auto& extra : cases) {
    std::vector<std::string> off(extra);
    off.push_back("grpo.prefix_sharing=false");
    const app::TrainResult shared = app::grpo_train(small_config(extra, np), world(), quiet());
    const app::TrainResult expanded = app::grpo_train(small_config(off, np), world(), quiet());
    EXPECT_GT(weight_change(shared.policy, 5), 1e-4) << extra[0];
    const double d = weight_difference(shared.policy, expanded.policy);
    if (world().rank() == 0)
      std::printf("prefix sharing %s np %d: relative weight difference %.3g\n", extra.back().c_str(), np, d);
    // Packed rows are other shapes with other attention patterns end to end.
    EXPECT_LE(d, trajectory_tolerance(kSteps, kLr, small_whole_backward(expanded.policy), expanded.policy))
        << extra.back();
    ASSERT_EQ(shared.metrics.size(), expanded.metrics.size());
    // Each metric is a mean over the step's response tokens, computed by each run from its own log-probs, each
    // within the forward bound `lp` of two implementations: pg_loss = mean(-A exp(logp - old)) moves by at most
    // |A| (1 + clip_high) 2 lp (a difference of two log-probs in the exponent); the KL estimates (of the
    // log-prob differences d to the reference: d, d^2/2, e^-d - 1 + d) by 2 lp (1 + |value|); the entropy by
    // entropy_error; each mean adds its own rounding. grad_norm: entries differing by whole_backward of the
    // largest, over N entries, move the norm by at most that times sqrt(N) of the norm.
    const DecoderBounds fwd = decoder_bounds(expanded.policy.cfg, expanded.policy.w, kSequenceTokens);
    const double lp = fwd.logprobs;
    const double grad_eps = small_whole_backward(expanded.policy) *
                            std::sqrt(static_cast<double>(model::parameter_count(expanded.policy.cfg)));
    for (std::size_t s = 0; s < shared.metrics.size(); ++s)
      for (const std::string m : {"pg_loss", "kl", "entropy", "approx_kl", "grad_norm"}) {
        const double want = app::metric(expanded.metrics[s], m);
        double tol = 2 * lp * (1 + std::abs(want)) + pg_loss_tolerance();
        if (m == "pg_loss") tol = std::sqrt(4.0 - 1) * 1.28 * 2 * lp + pg_loss_tolerance();
        if (m == "entropy") tol = entropy_error(lp, fwd.vocab, want) + pg_loss_tolerance();
        if (m == "grad_norm") tol = grad_eps * std::abs(want);
        EXPECT_NEAR(app::metric(shared.metrics[s], m), want, tol) << m << " step " << s << " " << extra.back();
      }
  }
}

}  // namespace

namespace {

// The sampler's log-probs travel with the rollouts and are compared with the trainer's recomputed old
// log-probs: the trainer scores at the sampling temperature (softmax(logits / T), as the sampler), so at
// temperature 1 and at temperature 2 the two passes agree to float rounding (scored at temperature 1, the T =
// 2 samples would differ by about 0.5 nats per token).
TEST(GrpoTrainer, SamplerAndTrainerLogprobGapIsReported) {
  const int np = world().size();
  const app::TrainResult t1 = app::grpo_train(small_config({"grpo.steps=2"}, np), world(), quiet());
  // The sampler (cached decoding, token by token) and the trainer (a full pass) are two fp32 paths over at most
  // kSequenceTokens tokens: every gap is within their log-prob bound (at temperature 2 the logits are halved
  // before the log-softmax, which halves their part of it). Scored at the wrong temperature the T = 2 gaps
  // would be about 0.5 nats, far outside.
  const double bound = decoder_bounds(t1.policy.cfg, t1.policy.w, kSequenceTokens).logprobs;
  for (const auto& m : t1.metrics) {
    EXPECT_LE(app::metric(m, "logprob_gap_max"), bound);
    EXPECT_GE(app::metric(m, "logprob_gap_max"), app::metric(m, "logprob_gap_mean"));
  }
  const app::TrainResult t2 =
      app::grpo_train(small_config({"grpo.steps=2", "rollout.temperature=2"}, np), world(), quiet());
  for (const auto& m : t2.metrics) {
    EXPECT_LE(app::metric(m, "logprob_gap_max"), bound);
    EXPECT_GE(app::metric(m, "logprob_gap_max"), app::metric(m, "logprob_gap_mean"));
  }
}

}  // namespace
