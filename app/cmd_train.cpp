// toolgrpo train: GRPO on ToolRL data, colocated mode (every rank generates for its shard of prompts, scores it,
// then trains on it; gradients are averaged over ranks as one flat bucket, so weights stay equal everywhere).
// One step: prompts -> chat template -> rollouts (prefix-shared groups) -> ToolRL reward (Kokkos batch) ->
// group advantages -> old log-probs -> mini-batch updates (clipped loss, all-reduce, clip, AdamW) -> metrics.
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "app/cli_args.hpp"
#include "app/commands.hpp"
#include "app/config.hpp"
#include "io/atomic_file.hpp"
#include "io/dataset.hpp"
#include "model/bpe_tokenizer.hpp"
#include "model/byte_tokenizer.hpp"
#include "model/chat_template.hpp"
#include "model/decoder.hpp"
#include "model/generate.hpp"
#include "model/grpo_loss.hpp"
#include "model/init.hpp"
#include "model/optimizer.hpp"
#include "model/safetensors.hpp"
#include "parallel/tensor_collectives.hpp"
#include "reward/advantage.hpp"
#include "reward/batch.hpp"
#include "reward/json.hpp"
#include "reward/pystr.hpp"

namespace fs = std::filesystem;

namespace toolgrpo::app {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Policy {
  model::ModelConfig cfg;
  model::DecoderWeights w;
  std::unique_ptr<model::BpeTokenizer> tok;
  model::ChatFormat chat = model::ChatFormat::Qwen25;
};

Policy load_policy(const Config& c, const fs::path& run_dir) {
  Policy p;
  if (c.model.path.empty()) {  // built-in tiny model with the byte tokenizer, from the run seed
    const model::ByteTokenizer bt;
    p.cfg = model::model_preset(c.model.arch, c.model.preset, (bt.vocab_size() + 63) / 64 * 64);
    p.w = model::decoder_weights_random(p.cfg, static_cast<uint64_t>(c.run.seed));
    const std::string json = bt.to_tokenizer_json();
    std::ofstream(run_dir / "tokenizer.json") << json;  // the run directory stays a complete model directory
    p.tok = model::BpeTokenizer::parse(json, "built-in byte tokenizer");
  } else {
    p.cfg = model::model_config_load(c.model.path);
    p.w = model::decoder_weights_load(p.cfg, c.model.path, at::kFloat, at::kCPU);
    p.tok = model::BpeTokenizer::load(c.model.path);
    p.chat = p.cfg.arch == model::Arch::Qwen3 ? model::ChatFormat::Qwen3
             : p.cfg.arch == model::Arch::Llama ? model::ChatFormat::Llama3 : model::ChatFormat::Qwen25;
  }
  if (!c.model.chat_template.empty()) p.chat = model::chat_format_from_name(c.model.chat_template);
  return p;
}

std::string fmt(double v) { return reward::py_float_repr(v); }

}  // namespace

int cmd_train(parallel::Runtime& rt, const std::vector<std::string>& args) {
  const CliArgs cli(args, {"--config"}, {});
  const Config c = config_load(cli.has("--config") ? cli.get("--config") : "", cli.positional(), rt.size());
  if (c.parallel.mode != "colocated") throw UsageError("parallel.mode: only 'colocated' is implemented so far");
  if (c.model.device != "cpu") throw UsageError("model.device: training runs on cpu so far");
  if (c.data.train.empty()) throw UsageError("data.train: a training file is required");
  parallel::Comm& world = rt.world();
  const fs::path run_dir = fs::path(c.run.out_dir) / c.run.name;
  if (rt.rank() == 0) {
    fs::create_directories(run_dir);
    io::AtomicFile f((run_dir / "config.yaml").string());
    f.write(config_to_yaml(c));
    f.commit();
    std::printf("train: resolved configuration (%s)\n%s", (run_dir / "config.yaml").c_str(), config_to_yaml(c).c_str());
  }
  world.barrier();
  at::set_num_threads(1);
  Policy pol = load_policy(c, run_dir);
  io::DatasetOptions dopt;
  dopt.format = c.data.format;
  dopt.skip_bad_rows = c.data.skip_bad_rows;
  const io::Dataset data = io::dataset_load(c.data.train, dopt);
  const reward::RewardConfig rcfg = reward::reward_config_from_name(c.reward.variant);
  const auto params = model::decoder_named_parameters(pol.cfg, pol.w);
  std::vector<at::Tensor> tensors;
  for (const auto& [n, t] : params) {
    t.set_requires_grad(true);
    tensors.push_back(t);
  }
  model::AdamW opt(tensors, model::AdamWConfig{0.9, 0.999, 1e-8, c.grpo.weight_decay});
  model::PolicyLossConfig lcfg;
  lcfg.clip_low = c.grpo.clip_low;
  lcfg.clip_high = c.grpo.clip_high;
  lcfg.dual_clip_c = c.grpo.dual_clip_c;
  lcfg.agg = model::loss_agg_from_name(c.grpo.loss_agg);
  lcfg.entropy_coef = c.grpo.entropy_coef;
  if (c.grpo.kl_where == "loss") {
    lcfg.kl_coef = c.grpo.kl_coef;
    lcfg.kl = model::kl_estimator_from_name(c.grpo.kl_type);
  }
  // The frozen reference policy for the KL term: the weights the run starts from.
  const model::DecoderWeights ref_w = c.grpo.kl_coef > 0 ? model::decoder_weights_clone(pol.w) : model::DecoderWeights{};
  const int64_t steps_per_epoch = std::max<int64_t>(1, static_cast<int64_t>(data.rows.size()) / c.rollout.prompts_per_step);
  const int64_t total = c.grpo.steps > 0 ? c.grpo.steps : steps_per_epoch * c.grpo.epochs;
  const int64_t G = c.rollout.group_size;
  io::DataCursor cursor;
  std::unique_ptr<io::AtomicFile> metrics;
  std::string metrics_text, csv_text, csv_header;
  const auto t_start = Clock::now();

  for (int64_t step = 0; step < total; ++step) {
    // ---- rollouts for this rank's shard of the step's prompts ----
    auto t0 = Clock::now();
    const std::vector<int64_t> rows = io::take_rows(data.rows.size(), static_cast<uint64_t>(c.run.seed), cursor,
                                                    c.rollout.prompts_per_step);
    const auto [begin, end] = io::shard_range(c.rollout.prompts_per_step, rt.rank(), rt.size());
    model::GenerationRequest req;
    std::vector<std::string> gts;
    for (int64_t i = begin; i < end; ++i) {
      const io::ToolRLRow& row = data.rows[static_cast<std::size_t>(rows[static_cast<std::size_t>(i)])];
      std::vector<int64_t> ids = pol.tok->encode(model::render_toolrl_prompt(pol.chat, row.system, row.user));
      if (static_cast<int64_t>(ids.size()) > c.rollout.max_prompt_tokens)  // keep the end: the question and the marker
        ids.erase(ids.begin(), ids.end() - c.rollout.max_prompt_tokens);
      req.prompts.push_back(std::move(ids));
      gts.push_back(row.ground_truth);
    }
    req.group_size = G;
    req.seed = static_cast<uint64_t>(c.run.seed);
    req.step = step;
    req.first_prompt_index = begin;
    req.sampling.temperature = c.rollout.temperature;
    req.sampling.top_p = c.rollout.top_p;
    req.sampling.top_k = c.rollout.top_k;
    req.sampling.max_new_tokens = c.rollout.max_new_tokens;
    req.sampling.eos_token_ids = pol.cfg.eos_token_ids;
    const model::GenerationResult gen = model::generate(pol.cfg, pol.w, req);
    const double t_gen = since(t0);

    // ---- reward and advantages ----
    t0 = Clock::now();
    const int64_t N = static_cast<int64_t>(req.prompts.size()) * G;
    std::vector<std::string> texts(static_cast<std::size_t>(N));
    reward::BatchInput in;
    std::vector<reward::GroundTruth> prepared;
    for (const auto& g : gts) prepared.emplace_back(g);
    const auto tok_acc = gen.tokens.accessor<int64_t, 2>();
    const auto response = [&](int64_t r) {
      return std::vector<int64_t>(&tok_acc[r][0], &tok_acc[r][0] + gen.lengths[static_cast<std::size_t>(r)]);
    };
    for (int64_t r = 0; r < N; ++r)
      texts[static_cast<std::size_t>(r)] = std::string(reward::py_strip(pol.tok->decode(response(r), true)));
    for (int64_t r = 0; r < N; ++r) {
      in.outputs.push_back(texts[static_cast<std::size_t>(r)]);
      in.gt_index.push_back(static_cast<int32_t>(r / G));
    }
    in.step = step;
    const std::vector<reward::RewardScores> scores = reward::score_batch(in, prepared, rcfg);
    std::vector<double> totals;
    double sum[5] = {0, 0, 0, 0, 0};  // format, correctness, total, total^2, length
    double tmin = 1e300, tmax = -1e300;
    for (const auto& s : scores) {
      totals.push_back(s.ok ? s.total : 0.0);
      sum[0] += s.format;
      sum[1] += s.correctness;
      sum[2] += s.total;
      sum[3] += s.total * s.total;
      sum[4] += s.length;
      tmin = std::min(tmin, s.total);
      tmax = std::max(tmax, s.total);
    }
    const double t_score = since(t0);

    // ---- training: prompt + response sequences, right-padded; loss on response tokens ----
    t0 = Clock::now();
    int64_t Lmax = 0;
    for (int64_t r = 0; r < N; ++r)
      Lmax = std::max<int64_t>(Lmax, static_cast<int64_t>(req.prompts[static_cast<std::size_t>(r / G)].size()) + gen.lengths[static_cast<std::size_t>(r)]);
    at::Tensor ids = at::zeros({N, Lmax}, at::kLong), amask = at::zeros({N, Lmax}, at::kLong), rmask = at::zeros({N, Lmax - 1}, at::kFloat);
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = amask.accessor<int64_t, 2>();
    auto ra = rmask.accessor<float, 2>();
    for (int64_t r = 0; r < N; ++r) {
      const auto& p = req.prompts[static_cast<std::size_t>(r / G)];
      const int64_t lp = static_cast<int64_t>(p.size()), lr = gen.lengths[static_cast<std::size_t>(r)];
      for (int64_t k = 0; k < lp; ++k) ia[r][k] = p[static_cast<std::size_t>(k)], ma[r][k] = 1;
      for (int64_t k = 0; k < lr; ++k) {
        ia[r][lp + k] = tok_acc[r][k];
        ma[r][lp + k] = 1;
        ra[r][lp + k - 1] = 1;  // position lp+k-1 predicts response token k
      }
    }
    at::Tensor old_logp, ref_logp;
    double kl_sum = 0;
    {
      at::NoGradGuard ng;
      old_logp = model::token_logprobs(pol.cfg, pol.w, ids, amask).logprobs;
      if (c.grpo.kl_coef > 0) {
        ref_logp = model::token_logprobs(pol.cfg, ref_w, ids, amask).logprobs;
        const at::Tensor kl = model::kl_penalty(old_logp, ref_logp, model::kl_estimator_from_name(c.grpo.kl_type)) * rmask;
        kl_sum = kl.sum().item<double>() / std::max(1.0, rmask.sum().item<double>());
        if (c.grpo.kl_where == "reward") {  // the KL of each response is subtracted from its reward
          const at::Tensor per_seq = kl.sum(-1).to(at::kDouble).contiguous();
          for (int64_t r = 0; r < N; ++r) totals[static_cast<std::size_t>(r)] -= c.grpo.kl_coef * per_seq.data_ptr<double>()[r];
        }
      }
    }
    const std::vector<double> adv = reward::group_advantages(totals, static_cast<int>(G), reward::advantage_std_from_name(c.grpo.adv_std));
    int64_t zero_sigma = 0;
    for (int64_t g = 0; g < N / G; ++g) {
      bool same = true;
      for (int64_t k = 1; k < G; ++k) same = same && totals[static_cast<std::size_t>(g * G + k)] == totals[static_cast<std::size_t>(g * G)];
      zero_sigma += same;
    }
    const at::Tensor advantages = at::tensor(adv, at::kDouble).to(at::kFloat);
    double loss_sum = 0, clip_sum = 0, ent_sum = 0, grad_norm = 0;
    const int64_t mb = std::max<int64_t>(1, c.grpo.mini_batches), per = std::max<int64_t>(1, (N + mb - 1) / mb);
    const double lr = model::lr_at(c.grpo.schedule, c.grpo.lr, step, c.grpo.warmup_steps, total);
    for (int64_t s = 0; s < N; s += per) {
      const int64_t n = std::min(per, N - s);
      const model::TokenLogprobs lp = model::token_logprobs(pol.cfg, pol.w, ids.narrow(0, s, n), amask.narrow(0, s, n), {},
                                                            c.grpo.entropy_coef != 0);
      const model::PolicyLoss l = model::grpo_policy_loss(lp.logprobs, old_logp.narrow(0, s, n), advantages.narrow(0, s, n),
                                                          rmask.narrow(0, s, n), lcfg,
                                                          ref_logp.defined() ? ref_logp.narrow(0, s, n) : at::Tensor(), lp.entropy);
      opt.zero_grad();
      l.loss.backward();
      std::vector<at::Tensor> grads;
      for (auto& t : tensors) {
        if (!t.grad().defined()) t.mutable_grad() = at::zeros_like(t);
        grads.push_back(t.grad());
      }
      parallel::allreduce_mean_flat(grads, world);
      grad_norm = model::clip_grad_norm(tensors, c.grpo.max_grad_norm);
      opt.step(lr);
      loss_sum += l.pg_loss;
      clip_sum += l.clip_fraction;
      ent_sum += l.entropy;
    }
    const double t_train = since(t0);

    // ---- metrics (rank 0 prints and writes; all ranks contribute their sums) ----
    const int64_t updates = (N + per - 1) / per;
    std::vector<double> m = {sum[0], sum[1], sum[2], sum[3], sum[4], static_cast<double>(N),
                             static_cast<double>(gen.decode_tokens), static_cast<double>(zero_sigma),
                             static_cast<double>(N / G), kl_sum, clip_sum / static_cast<double>(updates),
                             ent_sum / static_cast<double>(updates), loss_sum};
    world.allreduce_sum(m);
    const double lo = world.allreduce_min(tmin), hi = world.allreduce_max(tmax);
    const double n_all = std::max(1.0, m[5]), ranks = static_cast<double>(rt.size());
    const double mean = m[2] / n_all, sd = std::sqrt(std::max(0.0, m[3] / n_all - mean * mean));
    if (rt.rank() == 0) {
      const double elapsed = since(t_start), eta = elapsed / static_cast<double>(step + 1) * static_cast<double>(total - step - 1);
      const double tok_s = m[6] / std::max(1e-9, t_gen + t_score + t_train);
      std::printf("step %lld/%lld reward %.4f (format %.4f correctness %.4f) len %.1f kl %.4f entropy %.4f clip %.3f "
                  "grad %.3f lr %.2e %.0f tok/s gen %.2fs score %.3fs train %.2fs eta %.0fs\n",
                  static_cast<long long>(step + 1), static_cast<long long>(total), mean, m[0] / n_all, m[1] / n_all,
                  m[6] / n_all, m[9] / ranks, m[11] / ranks, m[10] / ranks, grad_norm, lr, tok_s, t_gen, t_score, t_train, eta);
      std::fflush(stdout);
      const std::vector<std::pair<std::string, double>> row = {
          {"step", static_cast<double>(step + 1)}, {"reward_total_mean", mean}, {"reward_total_std", sd},
          {"reward_total_min", lo}, {"reward_total_max", hi}, {"reward_format_mean", m[0] / n_all},
          {"reward_correctness_mean", m[1] / n_all}, {"reward_length_mean", m[4] / n_all},
          {"zero_std_group_fraction", m[7] / std::max(1.0, m[8])}, {"response_length", m[6] / n_all},
          {"kl", m[9] / ranks}, {"entropy", m[11] / ranks}, {"clip_fraction", m[10] / ranks},
          {"pg_loss", m[12] / ranks}, {"grad_norm", grad_norm}, {"lr", lr}, {"tokens_per_s", tok_s},
          {"seconds_generate", t_gen}, {"seconds_score", t_score}, {"seconds_train", t_train}, {"eta_seconds", eta}};
      std::string json = "{", csv;
      for (std::size_t k = 0; k < row.size(); ++k) {
        json += (k ? ", \"" : "\"") + row[k].first + "\": " + fmt(row[k].second);
        csv += (k ? "," : "") + fmt(row[k].second);
        if (step == 0) csv_header += (k ? "," : "") + row[k].first;
      }
      metrics_text += json + "}\n";
      csv_text += csv + "\n";
      io::AtomicFile fj((run_dir / "metrics.jsonl").string());
      fj.write(metrics_text);
      fj.commit();
      io::AtomicFile fc((run_dir / "metrics.csv").string());
      fc.write(csv_header + "\n" + csv_text);
      fc.commit();
    }
  }
  if (rt.rank() == 0) {
    model::safetensors_save((run_dir / "model.safetensors").string(), model::decoder_named_parameters(pol.cfg, pol.w));
    std::ofstream(run_dir / "config.json") << model::model_config_to_json(pol.cfg);
    std::printf("train: %lld steps in %.1f s; run directory %s\n", static_cast<long long>(total), since(t_start), run_dir.c_str());
  }
  return 0;
}

}  // namespace toolgrpo::app
