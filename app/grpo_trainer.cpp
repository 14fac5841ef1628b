// The GRPO loop (DESIGN.md section 1). Per step: generators sample G responses for their shard of the step's
// prompts and score them; the groups reach every rank in one all-gather; with dynamic sampling, groups whose
// rewards are all equal are dropped and more prompts are drawn. Trainers then split each mini-batch by tokens,
// recompute old (and reference) log-probs, compute group advantages, and update with the clipped loss; in split
// mode trainer 0 broadcasts the new weights to the generators. World rank 0 logs.
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "app/learner.hpp"
#include "app/run_data.hpp"
#include "app/run_log.hpp"
#include "app/trainer.hpp"
#include "io/dataset.hpp"
#include "model/grpo_loss.hpp"
#include "model/torch_info.hpp"
#include "parallel/roles.hpp"
#include "parallel/rollout_transport.hpp"
#include "parallel/tensor_collectives.hpp"
#include "reward/advantage.hpp"

namespace toolgrpo::app {

double metric(const io::MetricsRow& row, const std::string& name) {
  for (const auto& [k, v] : row)
    if (k == name) return v;
  throw std::out_of_range("no metric named " + name);
}

namespace {

using Clock = std::chrono::steady_clock;

double field(const parallel::RolloutGroup& g, std::size_t s, int64_t f) {
  return g.values[s * static_cast<std::size_t>(g.fields) + static_cast<std::size_t>(f)];
}

// mean, std (population), min, max of `v` appended to `row` as NAME_mean ... NAME_max.
void add_stats(io::MetricsRow& row, const std::string& name, const std::vector<double>& v) {
  double sum = 0, sq = 0, lo = v.empty() ? 0 : v[0], hi = lo;
  for (double x : v) sum += x, sq += x * x, lo = std::min(lo, x), hi = std::max(hi, x);
  const double n = std::max<double>(1, static_cast<double>(v.size())), mean = sum / n;
  row.insert(row.end(), {{name + "_mean", mean}, {name + "_std", std::sqrt(std::max(0.0, sq / n - mean * mean))},
                         {name + "_min", lo}, {name + "_max", hi}});
}

// Log-probs of the target tokens of `seqs[i]` for i in `which` (no gradient), in micro-batches of `budget`.
void target_logprobs(const Policy& pol, const model::DecoderWeights& w, const std::vector<SeqRef>& seqs,
                     const std::vector<std::size_t>& which, int64_t budget, std::vector<std::vector<float>>& out) {
  at::NoGradGuard no_grad;
  std::vector<int64_t> lengths;
  for (std::size_t i : which) lengths.push_back(seqs[i].length());
  for (const auto& mb : micro_batches(lengths, budget)) {
    std::vector<SeqRef> part;
    for (std::size_t k : mb) part.push_back(seqs[which[k]]);
    const SequenceBatch b = sequences_pack(part, pol.device);
    const at::Tensor lp = model::token_logprobs(pol.cfg, w, b.ids, b.attention).logprobs;
    std::vector<std::vector<float>> v = target_values_unpack(part, lp);
    for (std::size_t k = 0; k < mb.size(); ++k) out[which[mb[k]]] = std::move(v[k]);
  }
}

// DAPO's soft over-long penalty: 0 up to limit - buffer tokens, then down linearly to -penalty at the limit.
double overlong_penalty(int64_t len, int64_t limit, int64_t buffer, double penalty) {
  if (buffer <= 0 || len <= limit - buffer) return 0.0;
  return -penalty * std::min(1.0, static_cast<double>(len - (limit - buffer)) / static_cast<double>(buffer));
}

}  // namespace

TrainResult grpo_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt) {
  const RunData run_data = run_data_load(c);
  const io::Dataset& data = run_data.train;
  const io::Dataset& eval_data = run_data.eval;
  const parallel::Roles roles =
      parallel::roles_make(world, c.parallel.mode == "split", static_cast<int>(c.parallel.generation_ranks));
  model::cpu_threads_set(opt.threads);
  model::cpu_allocator_keep_memory();
  const uint64_t seed = static_cast<uint64_t>(c.run.seed);
  TrainResult result;
  Policy& pol = result.policy;
  pol = policy_load(c.model, seed, opt.local_rank);
  RunLog log(c, "train", world.rank() == 0, opt.save, opt.print);
  const RewardFn reward = opt.reward ? opt.reward : toolrl_reward(c.reward.variant);
  if (c.checkpoint.every > 0)
    log.message("train: note: checkpoint.every is set, but HDF5 checkpoints are not implemented yet; only the final "
                "weights are written");

  std::unique_ptr<Learner> learner;
  model::DecoderWeights ref_w;  // the frozen reference policy of the KL term: the weights the run starts from
  if (roles.trains) {
    learner = std::make_unique<Learner>(policy_parameters(pol), c.grpo.weight_decay, roles.training);
    if (c.grpo.kl_coef > 0) ref_w = model::decoder_weights_clone(pol.w);
  }
  model::PolicyLossConfig lcfg;
  lcfg.clip_low = c.grpo.clip_low;
  lcfg.clip_high = c.grpo.clip_high;
  lcfg.dual_clip_c = c.grpo.dual_clip_c;
  lcfg.agg = model::loss_agg_from_name(c.grpo.loss_agg);
  lcfg.entropy_coef = c.grpo.entropy_coef;
  const bool kl_in_loss = c.grpo.kl_coef > 0 && c.grpo.kl_where == "loss";
  const model::KlEstimator kl_kind = model::kl_estimator_from_name(c.grpo.kl_type);
  if (kl_in_loss) {
    lcfg.kl_coef = c.grpo.kl_coef;
    lcfg.kl = kl_kind;
  }
  const reward::AdvantageStd adv_mode = reward::advantage_std_from_name(c.grpo.adv_std);
  const int64_t P = c.rollout.prompts_per_step, G = c.rollout.group_size;
  const int64_t steps_per_epoch = std::max<int64_t>(1, static_cast<int64_t>(data.rows.size()) / P);
  const int64_t total = c.grpo.steps > 0 ? c.grpo.steps : steps_per_epoch * c.grpo.epochs;
  const int64_t overlong_buffer = c.grpo.overlong_buffer > 0 ? c.grpo.overlong_buffer : c.rollout.max_new_tokens / 4;
  const int64_t budget = c.grpo.micro_batch_tokens;
  io::DataCursor cursor;
  const auto t_start = Clock::now();

  for (int64_t step = 0; step < total; ++step) {
    if (opt.fail_rank == world.rank() && opt.fail_step == step)
      throw std::runtime_error("injected fault on rank " + std::to_string(world.rank()) + " at step " + std::to_string(step + 1));
    // ---- generation rounds: sample, score, gather; dynamic sampling drops groups with equal rewards ----
    RolloutTimes times;
    std::vector<parallel::RolloutGroup> kept;
    std::vector<double> r_total, r_format, r_correct, r_length, resp_len;
    int64_t groups_seen = 0, zero_sigma = 0, truncated = 0, rounds = 0;
    const int64_t max_rounds = c.grpo.dynamic_sampling ? c.grpo.dynamic_sampling_rounds : 1;
    while (rounds < max_rounds && static_cast<int64_t>(kept.size()) < P) {
      const std::vector<int64_t> rows = io::take_rows(data.rows.size(), seed, cursor, P);
      std::vector<parallel::RolloutGroup> mine;
      if (roles.split && roles.trains) world.idle_barrier();  // trainers sleep while the generators work
      if (roles.generates) {
        const auto [b, e] = io::shard_range(P, roles.generation.rank(), roles.generation.size());
        RolloutWork work;
        work.data = &data;
        work.rows.assign(rows.begin() + b, rows.begin() + e);
        work.first_index = rounds * P + b;
        work.step = step;
        work.group_size = G;
        work.workers = std::max(1, opt.threads);
        mine = rollouts_generate(pol, c.rollout, seed, work, reward, times);
        if (roles.split) world.idle_barrier();
      }
      for (auto& g : parallel::rollouts_allgather(mine, world)) {
        bool same = true;
        for (std::size_t s = 0; s < g.responses.size(); ++s) {
          r_total.push_back(field(g, s, kTotal));
          r_format.push_back(field(g, s, kFormat));
          r_correct.push_back(field(g, s, kCorrectness));
          r_length.push_back(field(g, s, kLength));
          resp_len.push_back(static_cast<double>(g.responses[s].size()));
          truncated += g.truncated[s];
          same = same && field(g, s, kTotal) == field(g, 0, kTotal);
        }
        ++groups_seen;
        zero_sigma += same;
        if (!(c.grpo.dynamic_sampling && same)) kept.push_back(std::move(g));
      }
      ++rounds;
    }
    if (static_cast<int64_t>(kept.size()) > P) kept.resize(static_cast<std::size_t>(P));
    const double t_gen = world.allreduce_max(times.generate), t_score = world.allreduce_max(times.score);

    // ---- training ----
    const auto t_train0 = Clock::now();
    const int64_t N = static_cast<int64_t>(kept.size()) * G;
    std::vector<SeqRef> seqs;
    std::vector<double> totals;
    for (const auto& g : kept)
      for (std::size_t s = 0; s < g.responses.size(); ++s) {
        const int64_t len = static_cast<int64_t>(g.responses[s].size());
        seqs.push_back({&g.prompt, &g.responses[s], !(c.grpo.overlong == "filter" && g.truncated[s])});
        double t = field(g, s, kValid) != 0 ? field(g, s, kTotal) : 0.0;
        if (c.grpo.overlong == "penalty") t += overlong_penalty(len, c.rollout.max_new_tokens, overlong_buffer, c.grpo.overlong_penalty);
        totals.push_back(t);
      }
    const double lr = model::lr_at(c.grpo.schedule, c.grpo.lr, step, c.grpo.warmup_steps, total);
    // Sums over ranks: pg loss, clip fraction, entropy, KL (loss), approx KL, KL tokens sum, KL tokens count.
    std::vector<double> st(7, 0.0);
    double grad_norm = 0;
    int64_t updates = 0;
    if (roles.trains && N > 0) {
      const parallel::Comm& tc = roles.training;
      const int64_t mb = std::min<int64_t>(c.grpo.mini_batches, N), per = (N + mb - 1) / mb;
      std::vector<int> owner(static_cast<std::size_t>(N));
      for (int64_t s0 = 0; s0 < N; s0 += per) {  // each mini-batch split over the trainers by tokens
        const int64_t n = std::min(per, N - s0);
        std::vector<int64_t> cost;
        for (int64_t j = s0; j < s0 + n; ++j) cost.push_back(seqs[static_cast<std::size_t>(j)].length());
        const std::vector<int> part = parallel::balance_by_tokens(cost, tc.size());
        std::copy(part.begin(), part.end(), owner.begin() + s0);
      }
      std::vector<std::size_t> my;
      for (int64_t j = 0; j < N; ++j)
        if (owner[static_cast<std::size_t>(j)] == tc.rank()) my.push_back(static_cast<std::size_t>(j));
      std::vector<std::vector<float>> old_lp(static_cast<std::size_t>(N)), ref_lp(static_cast<std::size_t>(N));
      target_logprobs(pol, pol.w, seqs, my, budget, old_lp);
      if (c.grpo.kl_coef > 0) {
        target_logprobs(pol, ref_w, seqs, my, budget, ref_lp);
        std::vector<double> kl_seq(static_cast<std::size_t>(N), 0.0);
        for (std::size_t j : my) {
          const at::Tensor o = at::tensor(old_lp[j]), r = at::tensor(ref_lp[j]);
          const at::Tensor k = model::kl_penalty(o, r, kl_kind).to(at::kDouble);
          kl_seq[j] = k.sum().item<double>();
          if (seqs[j].trained) st[5] += kl_seq[j], st[6] += static_cast<double>(old_lp[j].size());
        }
        if (c.grpo.kl_where == "reward") {  // each response's summed KL is subtracted from its reward
          tc.allreduce_sum(kl_seq);
          for (int64_t j = 0; j < N; ++j) totals[static_cast<std::size_t>(j)] -= c.grpo.kl_coef * kl_seq[static_cast<std::size_t>(j)];
        }
      }
      const std::vector<double> adv = reward::group_advantages(totals, static_cast<int>(G), adv_mode);
      for (int64_t s0 = 0; s0 < N; s0 += per, ++updates) {
        const int64_t n = std::min(per, N - s0);
        model::LossNorm norm;
        for (int64_t j = s0; j < s0 + n; ++j)
          if (seqs[static_cast<std::size_t>(j)].trained) {
            norm.tokens += static_cast<double>(seqs[static_cast<std::size_t>(j)].target->size());
            norm.sequences += 1;
          }
        norm.tokens = std::max(1.0, norm.tokens);
        norm.sequences = std::max(1.0, norm.sequences);
        norm.max_len = static_cast<double>(c.rollout.max_new_tokens);
        std::vector<std::size_t> mine;
        for (int64_t j = s0; j < s0 + n; ++j)
          if (owner[static_cast<std::size_t>(j)] == tc.rank()) mine.push_back(static_cast<std::size_t>(j));
        std::stable_sort(mine.begin(), mine.end(), [&](std::size_t a, std::size_t b) { return seqs[a].length() > seqs[b].length(); });
        std::vector<int64_t> lengths;
        for (std::size_t j : mine) lengths.push_back(seqs[j].length());
        learner->zero_grad();
        for (const auto& micro : micro_batches(lengths, budget)) {
          std::vector<SeqRef> part;
          std::vector<const std::vector<float>*> old_v, ref_v;
          std::vector<float> adv_v;
          for (std::size_t k : micro) {
            const std::size_t j = mine[k];
            part.push_back(seqs[j]);
            old_v.push_back(&old_lp[j]);
            ref_v.push_back(&ref_lp[j]);
            adv_v.push_back(static_cast<float>(adv[j]));
          }
          const SequenceBatch b = sequences_pack(part, pol.device);
          const model::TokenLogprobs lp =
              model::token_logprobs(pol.cfg, pol.w, b.ids, b.attention, {}, c.grpo.entropy_coef != 0);
          const model::PolicyLoss l = model::grpo_policy_loss(
              lp.logprobs, target_values_pack(part, old_v, pol.device), at::tensor(adv_v).to(pol.device), b.target_mask,
              lcfg, kl_in_loss ? target_values_pack(part, ref_v, pol.device) : at::Tensor(), lp.entropy, norm);
          l.loss.backward();
          st[0] += l.pg_loss, st[1] += l.clip_fraction, st[2] += l.entropy, st[3] += l.kl, st[4] += l.approx_kl;
        }
        grad_norm = learner->update(lr, c.grpo.max_grad_norm);
      }
    }
    const double t_train = world.allreduce_max(seconds_since(t_train0));
    // ---- weight sync (split mode): trainer 0 -> generators, one bucketed broadcast ----
    const auto t_sync0 = Clock::now();
    if (roles.sync.valid()) parallel::broadcast_flat(policy_parameters(pol), 0, roles.sync);
    const double t_sync = world.allreduce_max(seconds_since(t_sync0));

    // ---- metrics (identical on every rank; world rank 0 writes and prints) ----
    world.allreduce_sum(st);
    grad_norm = world.allreduce_max(grad_norm);
    updates = static_cast<int64_t>(world.allreduce_max(static_cast<double>(updates)));
    const double u = std::max<double>(1, static_cast<double>(updates));
    const double kl = c.grpo.kl_coef > 0 ? st[5] / std::max(1.0, st[6]) : 0.0;
    double response_tokens = 0, prompt_tokens = 0;
    for (const auto& g : kept) {
      prompt_tokens += static_cast<double>(g.prompt.size());
      for (const auto& r : g.responses) response_tokens += static_cast<double>(r.size());
    }
    const double step_s = t_gen + t_score + t_train + t_sync;
    const double elapsed = seconds_since(t_start);
    const double eta = elapsed / static_cast<double>(step + 1) * static_cast<double>(total - step - 1);
    io::MetricsRow row = {{"step", static_cast<double>(step + 1)}};
    add_stats(row, "reward_total", r_total);
    add_stats(row, "reward_format", r_format);
    add_stats(row, "reward_correctness", r_correct);
    add_stats(row, "reward_length", r_length);
    add_stats(row, "response_length", resp_len);
    row.insert(row.end(), {
        {"zero_std_group_fraction", static_cast<double>(zero_sigma) / std::max<double>(1, static_cast<double>(groups_seen))},
        {"truncated_fraction", static_cast<double>(truncated) / std::max<double>(1, static_cast<double>(resp_len.size()))},
        {"groups_generated", static_cast<double>(groups_seen)}, {"groups_trained", static_cast<double>(kept.size())},
        {"kl", kl}, {"entropy", st[2] / u}, {"clip_fraction", st[1] / u}, {"approx_kl", st[4] / u},
        {"pg_loss", st[0] / u}, {"grad_norm", grad_norm}, {"lr", lr},
        {"tokens_per_s", (response_tokens + prompt_tokens) / std::max(1e-9, step_s)},
        {"seconds_generate", t_gen}, {"seconds_score", t_score}, {"seconds_train", t_train}, {"seconds_sync", t_sync},
        {"seconds_step", step_s}, {"eta_seconds", eta}});
    std::string line;
    if ((step + 1) % c.log.every == 0 || step + 1 == total)
      line = "step " + std::to_string(step + 1) + "/" + std::to_string(total) + " reward " + format_fixed(metric(row, "reward_total_mean"), 4) +
             " (format " + format_fixed(metric(row, "reward_format_mean"), 3) + " correctness " + format_fixed(metric(row, "reward_correctness_mean"), 3) +
             ") len " + format_fixed(metric(row, "response_length_mean"), 1) + " kl " + format_fixed(kl, 4) + " entropy " + format_fixed(st[2] / u, 3) +
             " clip " + format_fixed(st[1] / u, 3) + " grad " + format_fixed(grad_norm, 3) + " lr " + format_sci(lr) + " " +
             format_fixed(metric(row, "tokens_per_s"), 0) + " tok/s | gen " + format_fixed(t_gen, 2) + "s score " + format_fixed(t_score, 3) +
             "s train " + format_fixed(t_train, 2) + "s sync " + format_fixed(t_sync, 3) + "s | eta " + format_fixed(eta, 0) + "s";
    log.step(row, line);
    result.metrics.push_back(std::move(row));

    // ---- evaluation on data.eval: greedy, one sample per prompt ----
    if (!eval_data.rows.empty() && ((step + 1) % c.log.eval_every == 0 || step + 1 == total)) {
      RolloutTimes et;
      std::vector<parallel::RolloutGroup> mine;
      const int64_t E = static_cast<int64_t>(eval_data.rows.size());
      if (roles.generates) {
        const auto [b, e] = io::shard_range(E, roles.generation.rank(), roles.generation.size());
        RolloutWork work;
        work.data = &eval_data;
        for (int64_t r = b; r < e; ++r) work.rows.push_back(r);
        work.first_index = b;
        work.step = step;
        work.greedy = true;
        work.workers = std::max(1, opt.threads);
        mine = rollouts_generate(pol, c.rollout, seed, work, reward, et);
      }
      std::vector<double> e_total, e_format, e_correct, e_len;
      for (const auto& g : parallel::rollouts_allgather(mine, world)) {
        e_total.push_back(field(g, 0, kTotal));
        e_format.push_back(field(g, 0, kFormat));
        e_correct.push_back(field(g, 0, kCorrectness));
        e_len.push_back(static_cast<double>(g.responses[0].size()));
      }
      io::MetricsRow erow = {{"step", static_cast<double>(step + 1)}, {"prompts", static_cast<double>(E)}};
      add_stats(erow, "eval_reward_total", e_total);
      add_stats(erow, "eval_reward_format", e_format);
      add_stats(erow, "eval_reward_correctness", e_correct);
      add_stats(erow, "eval_response_length", e_len);
      log.eval(erow, "eval after step " + std::to_string(step + 1) + ": reward " + format_fixed(metric(erow, "eval_reward_total_mean"), 4) +
                         " (format " + format_fixed(metric(erow, "eval_reward_format_mean"), 3) + " correctness " +
                         format_fixed(metric(erow, "eval_reward_correctness_mean"), 3) + ") on " + std::to_string(E) + " prompts");
      result.eval.push_back(std::move(erow));
    }
  }
  log.save_policy(pol);
  log.message("train: " + std::to_string(total) + " steps in " + format_fixed(seconds_since(t_start), 1) + " s; run directory " + log.dir());
  return result;
}

}  // namespace toolgrpo::app
