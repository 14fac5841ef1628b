// The SFT loop: cross-entropy on the ground-truth answer (closed by the chat format's end-of-turn token) after
// the ToolRL prompt, the prompt masked out. Every rank trains: each step's examples are split over the ranks by
// tokens, the loss is the summed token NLL over the whole batch's answer tokens, and gradients are summed as one
// flat bucket, so np ranks update exactly as one rank would. The run around the steps is app/run_driver's.
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>


#include "app/report/metric_names.hpp"
#include "app/report/progress.hpp"
#include "app/report/run_log.hpp"
#include "app/train/learner.hpp"
#include "app/train/memory_workload.hpp"
#include "app/train/run_data.hpp"
#include "app/train/run_driver.hpp"
#include "app/train/trainer.hpp"
#include "io/dataset.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {
namespace {

using Clock = std::chrono::steady_clock;
namespace mn = metric_names;

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
// `progress`, when given, advances by each micro-batch's sequences.
double nll(const Policy& pol, const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& which,
           int64_t budget, double norm, bool train, bool checkpoint_layers, Progress* progress = nullptr) {
  double sum = 0;
  for_each_micro_batch(
      seqs, which, budget, pol.device,
      [&](const std::vector<std::size_t>& idx, const std::vector<SeqRef>&, const SequenceBatch& b) {
        at::AutoGradMode grad_mode(train);
        model::LogprobOptions o;
        o.only_at = b.target_mask;  // the answer tokens
        o.checkpoint_layers = checkpoint_layers;
        const at::Tensor lp =
            model::token_logprobs(pol.cfg, policy_forward_weights(pol), b.ids, b.attention, o).logprobs;
        const at::Tensor loss = -(lp * b.target_mask).sum() / norm;
        if (train) loss.backward();
        sum += loss.item<double>();
        if (progress != nullptr) progress->add(static_cast<int64_t>(idx.size()));
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

// SFT on this rank: every rank trains on its token share of each step's examples.
class SftTrainer final : public StepTrainer {
 public:
  SftTrainer(const Config& c, const parallel::Comm& world, const TrainOptions& opt, const RunData& data, RunState& s)
      : c_(c), world_(world), opt_(opt), pol_(s.policy), seed_(static_cast<uint64_t>(c.run.seed)),
        train_(examples_make(pol_, data.train, c.sft.max_seq_tokens)), seqs_(refs_of(train_)),
        eval_(examples_make(pol_, data.eval, c.sft.max_seq_tokens)), eval_seqs_(refs_of(eval_)) {
    s.learner = std::make_unique<Learner>(policy_parameters(pol_), c.sft.weight_decay, world,
                                          c.parallel.shard_optimizer);
    total_ = steps_asked(c, "sft", static_cast<int64_t>(train_.size()));
  }

  int64_t total_steps() const override { return total_; }
  bool holds_state() const override { return world_.rank() == 0; }
  int generation_ranks() const override { return 0; }

  MemoryWorkload memory_workload() const override {
    int64_t longest = 0, answer = 0;
    for (const SeqRef& s : seqs_) {
      longest = std::max(longest, s.length());
      answer = std::max(answer, static_cast<int64_t>(s.target->size()));
    }
    return sft_memory_workload(c_, world_.size(), longest, answer);
  }
  int training_ranks() const override { return world_.size(); }
  std::string memory_remedies() const override {
    return "lower sft.micro_batch_tokens (now " + std::to_string(c_.sft.micro_batch_tokens) + ")" +
           (c_.sft.activation_checkpointing ? "" : ", set sft.activation_checkpointing=true") + ", sft.max_seq_tokens";
  }

  std::optional<io::MetricsRow> step(RunState& s, const StopPoll&) override {
    signal_if_asked(opt_, world_.rank(), s.step, SignalPhase::Train);
    const auto t0 = Clock::now();
    std::vector<std::size_t> rows;
    for (int64_t r : io::take_rows(train_.size(), seed_, s.cursor, c_.sft.batch_size)) rows.push_back(static_cast<std::size_t>(r));
    const double tokens = answer_tokens(seqs_, rows);
    const std::vector<std::size_t> mine = rank_share(seqs_, rows, world_.size(), world_.rank());
    const double lr = model::lr_at(c_.sft.schedule, c_.sft.lr, s.step, c_.sft.warmup_steps, total_);
    s.learner->zero_grad();
    const double loss =
        world_.allreduce_sum(nll(pol_, seqs_, mine, c_.sft.micro_batch_tokens, std::max(1.0, tokens), true,
                                 c_.sft.activation_checkpointing));
    memory_phase_end(world_.rank(), "forward and backward");
    policy_grads_to_master(pol_);
    const double grad_norm = s.learner->update(lr, c_.sft.max_grad_norm);
    policy_refresh_compute(pol_);
    memory_phase_end(world_.rank(), "optimizer step");
    const double seconds = world_.allreduce_max(seconds_since(t0));
    double seq_tokens = 0;
    for (std::size_t r : rows) seq_tokens += static_cast<double>(seqs_[r].length());
    return io::MetricsRow{{mn::kStep, static_cast<double>(s.step + 1)}, {mn::kLoss, loss}, {mn::kAnswerTokens, tokens},
                          {mn::kGradNorm, grad_norm}, {mn::kLr, lr},
                          {mn::kTokensPerS, seq_tokens / std::max(1e-9, seconds)}, {mn::kSecondsStep, seconds}};
  }

  std::optional<io::MetricsRow> evaluate(const RunState& s, const StopPoll&) override {
    std::vector<std::size_t> all(eval_.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    const double eval_tokens = answer_tokens(eval_seqs_, all);
    const std::vector<std::size_t> share = rank_share(eval_seqs_, all, world_.size(), world_.rank());
    Progress bar("eval after step " + std::to_string(s.step), static_cast<int64_t>(share.size()),
                 world_.rank() == 0 && opt_.print ? opt_.progress : ProgressStyle::Off, "examples");
    const double local =
        nll(pol_, eval_seqs_, share, c_.sft.micro_batch_tokens, std::max(1.0, eval_tokens), false, false, &bar);
    bar.finish();
    const double eval_loss = world_.allreduce_sum(local);
    return io::MetricsRow{{mn::kStep, static_cast<double>(s.step)}, {mn::kExamples, static_cast<double>(eval_.size())},
                          {mn::kEvalLoss, eval_loss}, {mn::kEvalAnswerTokens, eval_tokens}};
  }

  std::string step_line(const io::MetricsRow& row, int64_t total) const override {
    return "sft step " + format_fixed(metric(row, mn::kStep), 0) + "/" + std::to_string(total) + " loss " +
           format_fixed(metric(row, mn::kLoss), 4) + " grad " + format_fixed(metric(row, mn::kGradNorm), 3) + " lr " +
           format_sci(metric(row, mn::kLr)) + " " + format_fixed(metric(row, mn::kTokensPerS), 0) + " tok/s " +
           format_fixed(metric(row, mn::kSecondsStep), 2) + "s | eta " + format_fixed(metric(row, mn::kEtaSeconds), 0) +
           "s";
  }

  std::string eval_line(const io::MetricsRow& e) const override {
    return "eval after step " + format_fixed(metric(e, mn::kStep), 0) + ": loss " + format_fixed(metric(e, mn::kEvalLoss), 4) +
           " on " + std::to_string(eval_.size()) + " examples";
  }

 private:
  const Config& c_;
  const parallel::Comm& world_;
  const TrainOptions& opt_;
  const Policy& pol_;
  const uint64_t seed_;
  const std::vector<Example> train_;
  const std::vector<SeqRef> seqs_;
  const std::vector<Example> eval_;
  const std::vector<SeqRef> eval_seqs_;
  int64_t total_ = 0;
};

}  // namespace

TrainResult sft_train(const Config& c, const parallel::Comm& world, const TrainOptions& opt) {
  return run_driver(c, world, opt, "sft", true, [&](RunState& s, const RunData& data) {
    return std::make_unique<SftTrainer>(c, world, opt, data, s);
  });
}

}  // namespace toolgrpo::app
