// The SFT loop: cross-entropy on the ground-truth answer (closed by the chat format's end-of-turn token) after
// the ToolRL prompt, the prompt masked out. Every rank trains: each step's examples are split over the ranks by
// tokens, the loss is the summed token NLL over the whole batch's answer tokens, and gradients are summed as one
// flat bucket, so np ranks update exactly as one rank would. World rank 0 logs.
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "app/learner.hpp"
#include "app/run_data.hpp"
#include "app/run_log.hpp"
#include "app/trainer.hpp"
#include "io/dataset.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {
namespace {

using Clock = std::chrono::steady_clock;

struct Example {
  std::vector<int64_t> prompt, answer;
};

std::vector<Example> examples_make(const Policy& pol, const io::Dataset& data, int64_t max_tokens) {
  const std::string end = pol.chat == model::ChatFormat::Llama3 ? "<|eot_id|>" : "<|im_end|>";
  const std::vector<int64_t> end_ids = pol.tok->encode(end);
  std::vector<Example> out;
  for (const auto& row : data.rows) {
    Example e;
    e.prompt = prompt_ids(pol, row, max_tokens - 1);
    e.answer = pol.tok->encode(row.ground_truth);
    e.answer.insert(e.answer.end(), end_ids.begin(), end_ids.end());
    if (static_cast<int64_t>(e.answer.size()) > max_tokens - 1) e.answer.resize(static_cast<std::size_t>(max_tokens - 1));
    const int64_t over = static_cast<int64_t>(e.prompt.size() + e.answer.size()) - max_tokens;
    if (over > 0) e.prompt.erase(e.prompt.begin(), e.prompt.begin() + over);  // keep the prompt's end
    out.push_back(std::move(e));
  }
  return out;
}

// Summed NLL of the answer tokens of `seqs[i]`, i in `which`, divided by `norm`; with `train`, also backward.
double nll(const Policy& pol, const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& which,
           int64_t budget, double norm, bool train) {
  double sum = 0;
  for_each_micro_batch(
      seqs, which, budget, pol.device,
      [&](const std::vector<std::size_t>&, const std::vector<SeqRef>&, const SequenceBatch& b) {
        at::AutoGradMode grad_mode(train);
        const at::Tensor lp = model::token_logprobs(pol.cfg, pol.w, b.ids, b.attention).logprobs;
        const at::Tensor loss = -(lp * b.target_mask).sum() / norm;
        if (train) loss.backward();
        sum += loss.item<double>();
      });
  return sum;
}

// The answer tokens of `rows`.
double answer_tokens(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& rows) {
  double n = 0;
  for (std::size_t r : rows) n += static_cast<double>(seqs[r].target->size());
  return n;
}

std::vector<SeqRef> refs_of(const std::vector<Example>& ex) {
  std::vector<SeqRef> out;
  for (const auto& e : ex) out.push_back({&e.prompt, &e.answer, true});
  return out;
}

}  // namespace

TrainResult sft_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt) {
  const RunData data = run_data_load(c);
  model::cpu_threads_set(opt.threads);
  model::cpu_allocator_keep_memory();
  const uint64_t seed = static_cast<uint64_t>(c.run.seed);
  TrainResult result;
  Policy& pol = result.policy;
  pol = policy_load(c.model, seed, opt.local_rank);
  RunLog log(c, "sft", world.rank() == 0, opt.save, opt.print);
  const std::vector<Example> train = examples_make(pol, data.train, c.sft.max_seq_tokens);
  const std::vector<SeqRef> seqs = refs_of(train);
  const std::vector<Example> eval = examples_make(pol, data.eval, c.sft.max_seq_tokens);
  const std::vector<SeqRef> eval_seqs = refs_of(eval);
  Learner learner(policy_parameters(pol), c.sft.weight_decay, world);
  const int64_t B = c.sft.batch_size;
  const int64_t steps_per_epoch = std::max<int64_t>(1, static_cast<int64_t>(train.size()) / B);
  const int64_t total = c.sft.steps > 0 ? c.sft.steps : steps_per_epoch * c.sft.epochs;
  io::DataCursor cursor;
  const auto t_start = Clock::now();

  for (int64_t step = 0; step < total; ++step) {
    if (opt.fail_rank == world.rank() && opt.fail_step == step)
      throw std::runtime_error("injected fault on rank " + std::to_string(world.rank()) + " at step " + std::to_string(step + 1));
    const auto t0 = Clock::now();
    std::vector<std::size_t> rows;
    for (int64_t r : io::take_rows(train.size(), seed, cursor, B)) rows.push_back(static_cast<std::size_t>(r));
    const double tokens = answer_tokens(seqs, rows);
    const std::vector<std::size_t> mine = rank_share(seqs, rows, world.size(), world.rank());
    const double lr = model::lr_at(c.sft.schedule, c.sft.lr, step, c.sft.warmup_steps, total);
    learner.zero_grad();
    const double loss = world.allreduce_sum(nll(pol, seqs, mine, c.sft.micro_batch_tokens, std::max(1.0, tokens), true));
    const double grad_norm = learner.update(lr, c.sft.max_grad_norm);
    const double seconds = world.allreduce_max(seconds_since(t0));
    double seq_tokens = 0;
    for (std::size_t r : rows) seq_tokens += static_cast<double>(seqs[r].length());
    const double eta = seconds_since(t_start) / static_cast<double>(step + 1) * static_cast<double>(total - step - 1);
    io::MetricsRow row = {{"step", static_cast<double>(step + 1)}, {"loss", loss}, {"answer_tokens", tokens},
                          {"grad_norm", grad_norm}, {"lr", lr}, {"tokens_per_s", seq_tokens / std::max(1e-9, seconds)},
                          {"seconds_step", seconds}, {"eta_seconds", eta}};
    std::string line;
    if ((step + 1) % c.log.every == 0 || step + 1 == total)
      line = "sft step " + std::to_string(step + 1) + "/" + std::to_string(total) + " loss " + format_fixed(loss, 4) + " grad " +
             format_fixed(grad_norm, 3) + " lr " + format_sci(lr) + " " + format_fixed(metric(row, "tokens_per_s"), 0) +
             " tok/s " + format_fixed(seconds, 2) + "s | eta " + format_fixed(eta, 0) + "s";
    log.step(row, line);
    result.metrics.push_back(std::move(row));
    if (!eval.empty() && ((step + 1) % c.log.eval_every == 0 || step + 1 == total)) {
      std::vector<std::size_t> all(eval.size());
      for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
      const double eval_tokens = answer_tokens(eval_seqs, all);
      const std::vector<std::size_t> share = rank_share(eval_seqs, all, world.size(), world.rank());
      const double eval_loss =
          world.allreduce_sum(nll(pol, eval_seqs, share, c.sft.micro_batch_tokens, std::max(1.0, eval_tokens), false));
      io::MetricsRow erow = {{"step", static_cast<double>(step + 1)}, {"examples", static_cast<double>(eval.size())},
                             {"eval_loss", eval_loss}, {"eval_answer_tokens", eval_tokens}};
      log.eval(erow, "eval after step " + std::to_string(step + 1) + ": loss " + format_fixed(eval_loss, 4) + " on " +
                         std::to_string(eval.size()) + " examples");
      result.eval.push_back(std::move(erow));
    }
  }
  log.save_policy(pol);
  log.message("sft: " + std::to_string(total) + " steps in " + format_fixed(seconds_since(t_start), 1) + " s; run directory " + log.dir());
  return result;
}

}  // namespace toolgrpo::app
