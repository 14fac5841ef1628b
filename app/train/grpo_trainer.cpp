// The GRPO loop (docs/DESIGN.md section 1). GrpoTrainer::step, at the end of this file, reads as the step's
// phases: collect (generate, score, gather; dynamic sampling's filter), the step's batch, old and reference
// log-probs, reward shaping and advantages (pure functions in reward/advantage.hpp), one clipped-loss update per
// mini-batch, the statistics over the world, and in split mode the weights to the generators. The run around the
// steps (resume, checkpoints, stop signals, logging) is app/run_driver's.
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <stdexcept>


#include "app/cli/commands.hpp"
#include "app/report/metric_names.hpp"
#include "app/report/run_log.hpp"
#include "app/train/learner.hpp"
#include "app/train/memory_workload.hpp"
#include "app/train/run_data.hpp"
#include "app/train/run_driver.hpp"
#include "app/train/trainer.hpp"
#include "io/dataset.hpp"
#include "model/grpo_loss.hpp"
#include "model/torch_info.hpp"
#include "parallel/roles.hpp"
#include "parallel/rollout_transport.hpp"
#include "parallel/tensor_collectives.hpp"
#include "reward/advantage.hpp"
#include "reward/evaluate.hpp"

namespace toolgrpo::app {

double metric(const io::MetricsRow& row, const std::string& name) {
  for (const auto& [k, v] : row)
    if (k == name) return v;
  throw std::out_of_range("no metric named " + name);
}

namespace {

using Clock = std::chrono::steady_clock;
namespace mn = metric_names;

double field(const parallel::RolloutGroup& g, std::size_t s, int64_t f) {
  return g.values[s * static_cast<std::size_t>(g.fields) + static_cast<std::size_t>(f)];
}

// mean, std (population), min, max of `v` appended to `row` as NAME_mean ... NAME_max.
void add_stats(io::MetricsRow& row, const std::string& name, const std::vector<double>& v) {
  double sum = 0, sq = 0, lo = v.empty() ? 0 : v[0], hi = lo;
  for (double x : v) sum += x, sq += x * x, lo = std::min(lo, x), hi = std::max(hi, x);
  const double n = std::max<double>(1, static_cast<double>(v.size())), mean = sum / n;
  using mn::Stat;
  row.insert(row.end(), {{mn::stat_name(name, Stat::Mean), mean},
                         {mn::stat_name(name, Stat::Std), std::sqrt(std::max(0.0, sq / n - mean * mean))},
                         {mn::stat_name(name, Stat::Min), lo},
                         {mn::stat_name(name, Stat::Max), hi}});
}

// GRPO on this rank: the three parts of a step (collect, train, sync) and the evaluation, over the run's state.
class GrpoTrainer final : public StepTrainer {
 public:
  GrpoTrainer(const Config& c, const parallel::Comm& world, const TrainOptions& opt, const RunData& data, RunState& s)
      : c_(c), world_(world), opt_(opt), data_(data), pol_(s.policy), seed_(static_cast<uint64_t>(c.run.seed)),
        roles_(parallel::roles_make(world, c.parallel.mode == ParallelMode::Split, static_cast<int>(c.parallel.generation_ranks))),
        reward_(opt.reward ? opt.reward : toolrl_reward(c.reward.variant)),
        eval_reward_(reward::reward_config_from_name(c.reward.variant)) {
    if (roles_.trains) {
      s.learner = std::make_unique<Learner>(policy_parameters(pol_), c.grpo.weight_decay, roles_.training,
                                            c.parallel.shard_optimizer);
      if (c.grpo.kl_coef > 0) ref_w_ = reference_weights(s);
    }
    if (roles_.sync.valid()) {  // split mode: the weight broadcast's transport chosen (and NCCL made) at start-up
      sync_ = std::make_unique<parallel::WeightBroadcaster>(roles_.sync, 0);
      sync_->start(pol_.device);
    }
    lcfg_.clip_low = c.grpo.clip_low;
    lcfg_.clip_high = c.grpo.clip_high;
    lcfg_.dual_clip_c = c.grpo.dual_clip_c;
    lcfg_.agg = c.grpo.loss_agg;
    lcfg_.entropy_coef = c.grpo.entropy_coef;
    if (kl_in_loss()) {
      lcfg_.kl_coef = c.grpo.kl_coef;
      lcfg_.kl = c.grpo.kl_type;
    }
    shaping_.overlong_penalty = c.grpo.overlong == Overlong::Penalty;
    shaping_.max_new_tokens = c.rollout.max_new_tokens;
    shaping_.overlong_buffer = c.grpo.overlong_buffer;
    shaping_.overlong_scale = c.grpo.overlong_penalty;
    if (c.grpo.kl_where == KlWhere::Reward) shaping_.kl_coef = c.grpo.kl_coef;
    total_ = steps_asked(c, "grpo", static_cast<int64_t>(data.train.rows.size()));
  }

  int64_t total_steps() const override { return total_; }
  bool holds_state() const override { return roles_.trains && roles_.training.rank() == 0; }

  MemoryWorkload memory_workload() const override {
    PromptSizes p;
    p.train_longest = longest_prompt_tokens(pol_, data_.train, c_.rollout.max_prompt_tokens);
    p.eval_prompts = static_cast<int64_t>(data_.eval.rows.size());
    p.eval_longest = p.eval_prompts > 0 ? longest_prompt_tokens(pol_, data_.eval, c_.rollout.max_prompt_tokens) : 0;
    const GrpoRank r{roles_.trains, roles_.generates, training_ranks(), std::max(1, generation_ranks())};
    return grpo_memory_workload(c_, r, p, ref_w_.embed.defined());
  }
  std::string memory_remedies() const override {
    return "lower grpo.micro_batch_tokens (now " + std::to_string(c_.grpo.micro_batch_tokens) + ")" +
           (c_.grpo.activation_checkpointing ? "" : ", set grpo.activation_checkpointing=true") +
           ", rollout.max_prompt_tokens or rollout.max_new_tokens" +
           (c_.grpo.kl_coef > 0 ? "; grpo.kl_coef=0 (no reference copy)" : "");
  }
  int generation_ranks() const override { return roles_.split ? static_cast<int>(c_.parallel.generation_ranks) : world_.size(); }
  int training_ranks() const override { return roles_.split ? world_.size() - generation_ranks() : world_.size(); }

  std::optional<io::MetricsRow> step(RunState& s, const StopPoll& stop) override;
  std::string step_line(const io::MetricsRow& row, int64_t total) const override;
  std::string eval_line(const io::MetricsRow& e) const override {
    return "eval after step " + format_fixed(metric(e, mn::kStep), 0) + ": reward " +
           format_fixed(metric(e, mn::mean_of(mn::kEvalRewardTotal)), 4) + " (format " +
           format_fixed(metric(e, mn::mean_of(mn::kEvalRewardFormat)), 3) + " correctness " +
           format_fixed(metric(e, mn::mean_of(mn::kEvalRewardCorrectness)), 3) + "), exact calls " +
           format_fixed(metric(e, mn::kEvalExactCallAccuracy), 3) + ", format " +
           format_fixed(metric(e, mn::kEvalFormatAccuracy), 3) + " on " + format_fixed(metric(e, mn::kPrompts), 0) +
           " prompts";
  }

  // What the generation rounds of a step produced (the same on every rank after the all-gather).
  struct Rollouts {
    std::vector<parallel::RolloutGroup> kept;  // at most prompts_per_step groups to train on
    std::vector<double> total, format, correctness, length, response_length;  // every generated sample
    int64_t groups = 0, zero_sigma = 0, truncated = 0;
    double seconds_generate = 0, seconds_score = 0;
  };

  // Generation rounds: sample, score, gather; with dynamic sampling, groups with equal rewards are dropped and
  // more prompts drawn until prompts_per_step groups are kept or the rounds run out.
  // Returns nullopt when a stop signal arrived on any rank (checked after each round's generation).
  std::optional<Rollouts> collect(int64_t step, io::DataCursor& cursor, const StopPoll& stop) {
    const int64_t P = c_.rollout.prompts_per_step;
    const int64_t max_rounds = c_.grpo.dynamic_sampling ? c_.grpo.dynamic_sampling_rounds : 1;
    Rollouts out;
    RolloutTimes times;
    for (int64_t round = 0; round < max_rounds && static_cast<int64_t>(out.kept.size()) < P; ++round) {
      const std::vector<int64_t> rows = io::take_rows(data_.train.rows.size(), seed_, cursor, P);
      if (round == 0) maybe_signal(step, SignalPhase::Generate);
      std::vector<parallel::RolloutGroup> mine;
      if (roles_.split && roles_.trains) world_.idle_barrier();  // trainers sleep while the generators work
      if (roles_.generates) {
        const auto [b, e] = io::shard_range(P, roles_.generation.rank(), roles_.generation.size());
        RolloutWork work = work_for(&data_.train, step, false, stop);
        work.progress_label = "step " + std::to_string(step + 1) + "/" + std::to_string(total_) + " generate" +
                              (round > 0 ? " (round " + std::to_string(round + 1) + ")" : "");
        work.rows.assign(rows.begin() + b, rows.begin() + e);
        work.first_index = round * P + b;
        mine = rollouts_generate(pol_, c_.rollout, seed_, work, reward_, times);
        if (roles_.split) world_.idle_barrier();
      }
      if (stop.any()) return std::nullopt;
      for (auto& g : parallel::rollouts_allgather(mine, world_)) {
        const std::size_t first = out.total.size();
        for (std::size_t s = 0; s < g.responses.size(); ++s) {
          out.total.push_back(field(g, s, kTotal));
          out.format.push_back(field(g, s, kFormat));
          out.correctness.push_back(field(g, s, kCorrectness));
          out.length.push_back(field(g, s, kLength));
          out.response_length.push_back(static_cast<double>(g.responses[s].size()));
          out.truncated += g.truncated[s];
        }
        const bool spread = reward::group_has_spread(out.total.data() + first, out.total.size() - first);
        ++out.groups;
        out.zero_sigma += !spread;
        if (spread || !c_.grpo.dynamic_sampling) out.kept.push_back(std::move(g));  // dynamic sampling's filter
      }
    }
    if (static_cast<int64_t>(out.kept.size()) > P) out.kept.resize(static_cast<std::size_t>(P));
    out.seconds_generate = world_.allreduce_max(times.generate);
    out.seconds_score = world_.allreduce_max(times.score);
    return out;
  }

  // Sums over the ranks of what the updates of a step saw.
  struct Updates {
    double pg_loss = 0, clip_fraction = 0, entropy = 0, kl_loss = 0, approx_kl = 0;  // summed over mini-batches
    double kl_sum = 0, kl_tokens = 0;  // per-token KL against the reference, over the trained tokens
    double gap_sum = 0, gap_tokens = 0, gap_max = 0;  // |sampler - recomputed old log-prob| over trained tokens
    double grad_norm = 0;
    int64_t count = 0;  // mini-batches
  };

  // A step's sequences on a trainer: every kept sample (in group order), what the reward gave it, this rank's
  // share of each mini-batch, and the log-probs the phases compute for this rank's sequences.
  struct StepBatch {
    std::vector<SeqRef> seqs;
    std::vector<const std::vector<float>*> sampled;  // the sampler's log-probs of each sequence, or null
    reward::SampleScores scores;
    int64_t per_mini_batch = 0;                      // sequences per mini-batch (the last may hold fewer)
    std::vector<std::vector<std::size_t>> shares;    // this rank's sequences of each mini-batch, split by tokens
    std::vector<std::size_t> mine;                   // all of this rank's sequences, sorted
    std::vector<std::vector<float>> old_lp, ref_lp;  // per sequence; filled for this rank's only
  };

  // Phase 2: the kept groups as sequences with their scores, and the mini-batches split over the trainers by
  // tokens (with prefix sharing a prompt's samples stay together).
  StepBatch batch_of(const std::vector<parallel::RolloutGroup>& kept) const {
    StepBatch b;
    reward::SampleScores& r = b.scores;
    for (const auto& g : kept)
      for (std::size_t s = 0; s < g.responses.size(); ++s) {
        b.seqs.push_back({&g.prompt, &g.responses[s], !(c_.grpo.overlong == Overlong::Filter && g.truncated[s])});
        b.sampled.push_back(s < g.logprobs.size() ? &g.logprobs[s] : nullptr);
        r.total.push_back(field(g, s, kTotal));
        r.format.push_back(field(g, s, kFormat));
        r.correctness.push_back(field(g, s, kCorrectness));
        r.length.push_back(field(g, s, kLength));
        r.valid.push_back(field(g, s, kValid) != 0);
        r.response_tokens.push_back(static_cast<int64_t>(g.responses[s].size()));
      }
    const int64_t N = static_cast<int64_t>(b.seqs.size());
    const parallel::Comm& tc = roles_.training;
    const int64_t mini_batches = std::min<int64_t>(c_.grpo.mini_batches, N);
    b.per_mini_batch = (N + mini_batches - 1) / mini_batches;
    for (int64_t s0 = 0; s0 < N; s0 += b.per_mini_batch) {
      std::vector<std::size_t> items(static_cast<std::size_t>(std::min(N, s0 + b.per_mini_batch) - s0));
      std::iota(items.begin(), items.end(), static_cast<std::size_t>(s0));
      b.shares.push_back(rank_share(b.seqs, items, tc.size(), tc.rank(), c_.grpo.prefix_sharing));
      b.mine.insert(b.mine.end(), b.shares.back().begin(), b.shares.back().end());
    }
    std::sort(b.mine.begin(), b.mine.end());
    b.old_lp.resize(static_cast<std::size_t>(N));
    b.ref_lp.resize(static_cast<std::size_t>(N));
    return b;
  }

  // Phase 3: the old log-probs, recomputed under the weights that sampled (the ratio's denominator), and how far
  // the sampler's own log-probs are from them.
  void old_logprobs(StepBatch& b, Updates& u) const {
    target_logprobs(policy_forward_weights(pol_), b.seqs, b.mine, b.old_lp);
    for (std::size_t j : b.mine)
      if (b.seqs[j].trained && b.sampled[j] != nullptr)
        for (std::size_t k = 0; k < b.old_lp[j].size() && k < b.sampled[j]->size(); ++k) {
          const double d = std::abs(static_cast<double>(b.old_lp[j][k]) - (*b.sampled[j])[k]);
          u.gap_sum += d, u.gap_tokens += 1, u.gap_max = std::max(u.gap_max, d);
        }
  }

  // Phase 4: with a KL term, the reference log-probs and each sequence's summed KL (grpo.kl_type). For the KL in
  // the reward every trainer needs every sequence's KL: summed over the trainers. Empty without a KL term.
  std::vector<double> reference_kl(StepBatch& b, Updates& u) const {
    if (c_.grpo.kl_coef <= 0) return {};
    target_logprobs(ref_w_, b.seqs, b.mine, b.ref_lp);
    std::vector<double> kl_seq(b.seqs.size(), 0.0);
    for (std::size_t j : b.mine) {
      const at::Tensor k =
          model::kl_penalty(at::tensor(b.old_lp[j]), at::tensor(b.ref_lp[j]), c_.grpo.kl_type).to(at::kDouble);
      kl_seq[j] = k.sum().item<double>();
      if (b.seqs[j].trained) u.kl_sum += kl_seq[j], u.kl_tokens += static_cast<double>(b.old_lp[j].size());
    }
    if (c_.grpo.kl_where == KlWhere::Reward) roles_.training.allreduce_sum(kl_seq);
    return kl_seq;
  }

  // Phase 7: one clipped-loss update per mini-batch, this rank's share of it in micro-batches of at most
  // grpo.micro_batch_tokens; the gradients are averaged over the trainers by the learner.
  void update(const StepBatch& b, const std::vector<double>& adv, double lr, Learner& learner, Updates& u) {
    const int64_t N = static_cast<int64_t>(b.seqs.size());
    for (int64_t s0 = 0; s0 < N; s0 += b.per_mini_batch, ++u.count) {
      const int64_t s1 = std::min(N, s0 + b.per_mini_batch);
      model::LossNorm norm;  // the whole mini-batch's counts, whichever rank and micro-batch a sequence is in
      for (int64_t j = s0; j < s1; ++j)
        if (b.seqs[static_cast<std::size_t>(j)].trained) {
          norm.tokens += static_cast<double>(b.seqs[static_cast<std::size_t>(j)].target->size());
          norm.sequences += 1;
        }
      norm.tokens = std::max(1.0, norm.tokens);
      norm.sequences = std::max(1.0, norm.sequences);
      norm.max_len = static_cast<double>(c_.rollout.max_new_tokens);
      learner.zero_grad();
      // A sequence with advantage 0 adds exactly 0 to the policy-gradient loss's gradient; without a KL or
      // entropy term in the loss its forward and backward are skipped (it still counts in the normaliser).
      std::vector<std::size_t> work = b.shares[static_cast<std::size_t>(u.count)];
      if (c_.grpo.skip_zero_advantage && !kl_in_loss() && c_.grpo.entropy_coef == 0)
        work.erase(std::remove_if(work.begin(), work.end(), [&](std::size_t j) { return adv[j] == 0.0; }),
                   work.end());
      for_each_micro_batch(
          b.seqs, work, c_.grpo.micro_batch_tokens, pol_.device,
          [&](const std::vector<std::size_t>& idx, const std::vector<SeqRef>& part, const SequenceBatch& mb) {
            std::vector<const std::vector<float>*> old_v, ref_v;
            std::vector<float> adv_v;
            for (std::size_t j : idx) {
              old_v.push_back(&b.old_lp[j]);
              ref_v.push_back(&b.ref_lp[j]);
              adv_v.push_back(static_cast<float>(adv[j]));
            }
            model::LogprobOptions o;
            o.with_entropy = c_.grpo.entropy_coef != 0;
            o.temperature = c_.rollout.temperature;  // the distribution the responses were sampled from
            o.checkpoint_layers = c_.grpo.activation_checkpointing;
            // the trained response tokens (packed rows give every response token; the loss masks the rest)
            const model::TokenLogprobs lp =
                batch_logprobs(pol_.cfg, policy_forward_weights(pol_), mb, o,
                               c_.grpo.response_only_head ? mb.target_mask : at::Tensor());
            const model::PolicyLoss l = model::grpo_policy_loss(
                lp.logprobs, target_values_pack(part, old_v, pol_.device), at::tensor(adv_v).to(pol_.device),
                mb.target_mask, lcfg_, kl_in_loss() ? target_values_pack(part, ref_v, pol_.device) : at::Tensor(),
                lp.entropy, norm);
            l.loss.backward();
            u.pg_loss += l.pg_loss, u.clip_fraction += l.clip_fraction, u.entropy += l.entropy;
            u.kl_loss += l.kl, u.approx_kl += l.approx_kl;
          },
          c_.grpo.prefix_sharing);
      memory_phase_end(world_.rank(), "forward and backward");
      policy_grads_to_master(pol_);
      u.grad_norm = learner.update(lr, c_.grpo.max_grad_norm);
      policy_refresh_compute(pol_);
      memory_phase_end(world_.rank(), "optimizer step");
    }
  }

  // Phase 8: the updates' statistics summed (the maxima: maximised) over the world, so every rank logs the same.
  Updates reduced(Updates u) const {
    std::vector<double> sums = {u.pg_loss, u.clip_fraction, u.entropy, u.kl_loss, u.approx_kl, u.kl_sum, u.kl_tokens,
                                u.gap_sum, u.gap_tokens};
    world_.allreduce_sum(sums);
    u.pg_loss = sums[0], u.clip_fraction = sums[1], u.entropy = sums[2], u.kl_loss = sums[3], u.approx_kl = sums[4];
    u.kl_sum = sums[5], u.kl_tokens = sums[6], u.gap_sum = sums[7], u.gap_tokens = sums[8];
    u.gap_max = world_.allreduce_max(u.gap_max);
    u.grad_norm = world_.allreduce_max(u.grad_norm);
    u.count = static_cast<int64_t>(world_.allreduce_max(static_cast<double>(u.count)));
    return u;
  }

  // Split mode: trainer 0 sends the new weights to the generators, one bucketed broadcast (NCCL on the devices
  // when both sides hold the weights on GPUs, MPI through host memory otherwise).
  void sync() {
    if (sync_) {
      sync_->broadcast(policy_parameters(pol_));
      policy_refresh_compute(pol_);
    }
  }

  // Greedy evaluation on data.eval after s.step steps, one sample per prompt, on the generating ranks.
  std::optional<io::MetricsRow> evaluate(const RunState& s, const StopPoll& stop) override {
    const int64_t step = s.step - 1;  // the index of the step just completed (the reward schedule's step)
    maybe_signal(step, SignalPhase::Eval);
    RolloutTimes times;
    std::vector<parallel::RolloutGroup> mine;
    const int64_t E = static_cast<int64_t>(data_.eval.rows.size());
    if (roles_.generates) {
      const auto [b, e] = io::shard_range(E, roles_.generation.rank(), roles_.generation.size());
      RolloutWork work = work_for(&data_.eval, step, true, stop);
      work.progress_label = "eval after step " + std::to_string(s.step);
      for (int64_t r = b; r < e; ++r) work.rows.push_back(r);
      work.first_index = b;
      mine = rollouts_generate(pol_, c_.rollout, seed_, work, reward_, times);
    }
    if (stop.any()) return std::nullopt;
    std::vector<double> total, format, correctness, length;
    std::vector<reward::EvalRecord> records;
    for (const auto& g : parallel::rollouts_allgather(mine, world_)) {
      total.push_back(field(g, 0, kTotal));
      format.push_back(field(g, 0, kFormat));
      correctness.push_back(field(g, 0, kCorrectness));
      length.push_back(static_cast<double>(g.responses[0].size()));
      const std::string text = response_text(pol_, g.responses[0]);
      const reward::GroundTruth gt(data_.eval.rows[static_cast<std::size_t>(g.index)].ground_truth);
      try {
        records.push_back(reward::evaluate_output(text, gt, eval_reward_, step));
      } catch (const std::invalid_argument&) {  // a ground truth whose call block does not parse: not counted
      }
    }
    const reward::EvalSummary calls = reward::eval_summarize(records);
    io::MetricsRow row = {{mn::kStep, static_cast<double>(s.step)}, {mn::kPrompts, static_cast<double>(E)}};
    add_stats(row, mn::kEvalRewardTotal, total);
    add_stats(row, mn::kEvalRewardFormat, format);
    add_stats(row, mn::kEvalRewardCorrectness, correctness);
    add_stats(row, mn::kEvalResponseLength, length);
    row.emplace_back(mn::kEvalExactCallAccuracy, calls.exact_call_accuracy);
    row.emplace_back(mn::kEvalNameAccuracy, calls.name_accuracy);
    row.emplace_back(mn::kEvalFormatAccuracy, calls.format_accuracy);
    return row;
  }

 private:
  bool kl_in_loss() const { return c_.grpo.kl_coef > 0 && c_.grpo.kl_where == KlWhere::Loss; }

  // Log-probs under `w` of every target token of `seqs[i]` for i in `which` (trained or not; no gradient), with
  // the training pass's settings: its token budget, prefix sharing, head and sampling temperature.
  void target_logprobs(const model::DecoderWeights& w, const std::vector<SeqRef>& seqs,
                       const std::vector<std::size_t>& which, std::vector<std::vector<float>>& out) const {
    at::NoGradGuard no_grad;
    for_each_micro_batch(
        seqs, which, c_.grpo.micro_batch_tokens, pol_.device,
        [&](const std::vector<std::size_t>& idx, const std::vector<SeqRef>& part, const SequenceBatch& b) {
          model::LogprobOptions o;
          o.temperature = c_.rollout.temperature;
          const at::Tensor only_at = c_.grpo.response_only_head ? b.target_any : at::Tensor();
          const at::Tensor lp = batch_logprobs(pol_.cfg, w, b, o, only_at).logprobs;
          std::vector<std::vector<float>> v = target_values_unpack(part, lp);
          for (std::size_t k = 0; k < idx.size(); ++k) out[idx[k]] = std::move(v[k]);
        },
        c_.grpo.prefix_sharing);
  }

  RolloutWork work_for(const io::Dataset* data, int64_t step, bool greedy, const StopPoll& stop) const {
    RolloutWork w;
    w.cancel = stop.flag;
    w.data = data;
    w.step = step;
    w.group_size = greedy ? 1 : c_.rollout.group_size;
    w.greedy = greedy;
    w.workers = std::max(1, opt_.threads);
    if (world_.rank() == 0 && opt_.print) w.progress = opt_.progress;
    return w;
  }

  void maybe_signal(int64_t step, SignalPhase phase) const { signal_if_asked(opt_, world_.rank(), step, phase); }

  // The KL reference: the run's starting weights. A fresh run clones them; a resumed one reloads them from where
  // they came from and checks that they are the same weights.
  model::DecoderWeights reference_weights(const RunState& s) const {
    const ModelOrigin& r = s.reference;
    const ModelOrigin& p = pol_.origin;
    if (r.kind == p.kind && r.path == p.path && r.seed == p.seed && r.checksum == p.checksum)
      return model::decoder_weights_clone(policy_forward_weights(pol_));
    const model::DecoderWeights w = origin_weights_load(r, pol_.cfg, pol_.device);
    const uint32_t crc = weights_checksum(pol_.cfg, w);
    if (crc != r.checksum)
      throw UsageError("reference model (" + std::string(origin_kind_name(r.kind)) + " " + r.path + "): its weights have CRC-32C " + std::to_string(crc) +
                       ", the run started from weights with CRC-32C " + std::to_string(r.checksum) +
                       "; the KL reference must be the run's starting model (restore it, or start a new run)");
    return policy_forward_form(pol_, w);
  }

  const Config& c_;
  const parallel::Comm& world_;
  const TrainOptions& opt_;
  const RunData& data_;
  const Policy& pol_;
  const uint64_t seed_;
  const parallel::Roles roles_;
  const RewardFn reward_;
  const reward::RewardConfig eval_reward_;  // the ToolRL variant the evaluation's tool-call checks use
  model::DecoderWeights ref_w_;
  std::unique_ptr<parallel::WeightBroadcaster> sync_;  // split mode, on trainer 0 and the generators
  model::PolicyLossConfig lcfg_;
  reward::RewardShaping shaping_;  // grpo.overlong: penalty and grpo.kl_where: reward
  int64_t total_ = 0;
};

io::MetricsRow step_row(int64_t step, const GrpoTrainer::Rollouts& r, const GrpoTrainer::Updates& u, double lr,
                        double seconds_train, double seconds_sync) {
  const double n = std::max<double>(1, static_cast<double>(u.count));
  double tokens = 0;
  for (const auto& g : r.kept) {
    tokens += static_cast<double>(g.prompt.size());
    for (const auto& resp : g.responses) tokens += static_cast<double>(resp.size());
  }
  const double step_s = r.seconds_generate + r.seconds_score + seconds_train + seconds_sync;
  io::MetricsRow row = {{mn::kStep, static_cast<double>(step + 1)}};
  add_stats(row, mn::kRewardTotal, r.total);
  add_stats(row, mn::kRewardFormat, r.format);
  add_stats(row, mn::kRewardCorrectness, r.correctness);
  add_stats(row, mn::kRewardLength, r.length);
  add_stats(row, mn::kResponseLength, r.response_length);
  row.insert(row.end(), {
      {mn::kZeroStdGroupFraction, static_cast<double>(r.zero_sigma) / std::max<double>(1, static_cast<double>(r.groups))},
      {mn::kTruncatedFraction, static_cast<double>(r.truncated) / std::max<double>(1, static_cast<double>(r.total.size()))},
      {mn::kGroupsGenerated, static_cast<double>(r.groups)}, {mn::kGroupsTrained, static_cast<double>(r.kept.size())},
      {mn::kKl, u.kl_sum / std::max(1.0, u.kl_tokens)}, {mn::kEntropy, u.entropy / n},
      {mn::kClipFraction, u.clip_fraction / n}, {mn::kApproxKl, u.approx_kl / n}, {mn::kPgLoss, u.pg_loss / n},
      {mn::kLogprobGapMean, u.gap_sum / std::max(1.0, u.gap_tokens)}, {mn::kLogprobGapMax, u.gap_max},
      {mn::kGradNorm, u.grad_norm}, {mn::kLr, lr}, {mn::kTokensPerS, tokens / std::max(1e-9, step_s)},
      {mn::kSecondsGenerate, r.seconds_generate}, {mn::kSecondsScore, r.seconds_score},
      {mn::kSecondsTrain, seconds_train}, {mn::kSecondsSync, seconds_sync}, {mn::kSecondsStep, step_s}});
  return row;
}

std::string progress_line(const io::MetricsRow& m, int64_t total) {
  const auto f = [&](const std::string& name, int digits) {
    const double v = metric(m, name);
    // kl and entropy are null (NaN) when the run does not compute them (run_driver.cpp): "-", not "nan" or 0.
    if (std::isnan(v) && (name == mn::kKl || name == mn::kEntropy)) return std::string(mn::kNotComputed);
    return format_fixed(v, digits);
  };
  return "step " + f(mn::kStep, 0) + "/" + std::to_string(total) + " reward " + f(mn::mean_of(mn::kRewardTotal), 4) +
         " (format " + f(mn::mean_of(mn::kRewardFormat), 3) + " correctness " +
         f(mn::mean_of(mn::kRewardCorrectness), 3) + ") len " + f(mn::mean_of(mn::kResponseLength), 1) + " kl " +
         f(mn::kKl, 4) + " entropy " + f(mn::kEntropy, 3) + " clip " + f(mn::kClipFraction, 3) + " grad " +
         f(mn::kGradNorm, 3) + " lr " + format_sci(metric(m, mn::kLr)) + " " + f(mn::kTokensPerS, 0) + " tok/s | gen " +
         f(mn::kSecondsGenerate, 2) + "s score " + f(mn::kSecondsScore, 3) + "s train " + f(mn::kSecondsTrain, 2) +
         "s sync " + f(mn::kSecondsSync, 3) + "s | eta " + f(mn::kEtaSeconds, 0) + "s";
}

// One GRPO step, phase by phase (docs/DESIGN.md section 1 has the formulas). Every rank runs collect, the
// statistics and sync; phases 2-7 run on the training ranks only (in split mode the generators wait meanwhile).
std::optional<io::MetricsRow> GrpoTrainer::step(RunState& s, const StopPoll& stop) {
  // 1. Collect: the generators sample and score G responses per prompt; all groups reach every rank.
  const std::optional<Rollouts> rollouts = collect(s.step, s.cursor, stop);
  memory_phase_end(world_.rank(), "generation");
  if (!rollouts) return std::nullopt;
  const double lr = model::lr_at(c_.grpo.schedule, c_.grpo.lr, s.step, c_.grpo.warmup_steps, total_);
  auto t0 = Clock::now();
  maybe_signal(s.step, SignalPhase::Train);
  Updates u;
  if (roles_.trains && !rollouts->kept.empty()) {
    StepBatch b = batch_of(rollouts->kept);  // 2. sequences, scores and this rank's share of each mini-batch
    old_logprobs(b, u);                      // 3. old log-probs (the ratio's denominator)
    memory_phase_end(world_.rank(), "old log-probs");
    const std::vector<double> kl = reference_kl(b, u);                                  // 4. KL to the reference
    memory_phase_end(world_.rank(), "reference log-probs");
    const std::vector<double> shaped = reward::shaped_rewards(b.scores, shaping_, kl);  // 5. reward shaping
    const std::vector<double> adv = reward::step_advantages(  // 6. group advantages (grpo or gdpo)
        b.scores, shaped, c_.grpo.advantage, static_cast<int>(c_.rollout.group_size), c_.grpo.adv_std);
    update(b, adv, lr, *s.learner, u);  // 7. one clipped-loss update per mini-batch
  }
  if (roles_.split) world_.idle_barrier();  // generators sleep while the trainers work
  const Updates updates = reduced(u);       // 8. statistics over the world
  const double seconds_train = world_.allreduce_max(seconds_since(t0));
  t0 = Clock::now();
  sync();  // 9. split mode: the new weights to the generators
  memory_phase_end(world_.rank(), "weight sync");
  const double seconds_sync = world_.allreduce_max(seconds_since(t0));
  return step_row(s.step, *rollouts, updates, lr, seconds_train, seconds_sync);
}

std::string GrpoTrainer::step_line(const io::MetricsRow& row, int64_t total) const { return progress_line(row, total); }

}  // namespace

TrainResult grpo_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt) {
  const bool trains = c.parallel.mode != ParallelMode::Split || world.rank() >= c.parallel.generation_ranks;
  return run_driver(c, world, opt, "grpo", trains, [&](RunState& s, const RunData& data) {
    return std::make_unique<GrpoTrainer>(c, world, opt, data, s);
  });
}

}  // namespace toolgrpo::app
