// Rollout generation and scoring; see rollout.hpp.
#include "app/train/rollout.hpp"

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <chrono>

#include "model/generate.hpp"
#include "reward/batch.hpp"
#include "reward/config.hpp"
#include "reward/pystr.hpp"

namespace toolgrpo::app {

RewardFn toolrl_reward(const std::string& variant) {
  const reward::RewardConfig cfg = reward::reward_config_from_name(variant);
  return [cfg](const std::vector<std::string>& responses, const std::vector<std::string>& gts, int64_t G,
               int64_t step) {
    std::vector<reward::GroundTruth> prepared;
    prepared.reserve(gts.size());
    for (const auto& g : gts) prepared.emplace_back(g);
    reward::BatchInput in;
    for (std::size_t r = 0; r < responses.size(); ++r) {
      in.outputs.push_back(responses[r]);
      in.gt_index.push_back(static_cast<int32_t>(static_cast<int64_t>(r) / G));
    }
    in.step = step;
    return reward::score_batch(in, prepared, cfg);
  };
}

std::string response_text(const Policy& pol, const std::vector<int64_t>& ids) {
  return std::string(reward::py_strip(pol.tok->decode(ids, true)));
}

std::vector<int64_t> prompt_ids(const Policy& pol, const io::ToolRLRow& row, int64_t max_prompt_tokens) {
  std::vector<int64_t> ids = pol.tok->encode(model::render_toolrl_prompt(pol.chat, row.system, row.user));
  if (static_cast<int64_t>(ids.size()) > max_prompt_tokens)
    ids.erase(ids.begin(), ids.end() - max_prompt_tokens);
  return ids;
}

int64_t longest_prompt_tokens(const Policy& pol, const io::Dataset& d, int64_t max_prompt_tokens) {
  std::vector<const io::ToolRLRow*> rows;
  for (const auto& r : d.rows) rows.push_back(&r);
  const auto bytes = [](const io::ToolRLRow* r) { return r->system.size() + r->user.size(); };
  const std::size_t n = std::min<std::size_t>(16, rows.size());
  std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n), rows.end(),
                    [&](const io::ToolRLRow* a, const io::ToolRLRow* b) { return bytes(a) > bytes(b); });
  int64_t longest = 1;
  for (std::size_t i = 0; i < n; ++i)
    longest = std::max(longest, static_cast<int64_t>(prompt_ids(pol, *rows[i], max_prompt_tokens).size()));
  return longest;
}

std::vector<parallel::RolloutGroup> rollouts_generate(const Policy& pol, const RolloutSection& ro,
                                                      uint64_t seed, const RolloutWork& work,
                                                      const RewardFn& reward, RolloutTimes& times) {
  using Clock = std::chrono::steady_clock;
  std::vector<parallel::RolloutGroup> groups;
  if (work.rows.empty()) return groups;
  auto t0 = Clock::now();
  model::GenerationRequest req;
  std::vector<std::string> gts;
  for (const int64_t r : work.rows) {
    const io::ToolRLRow& row = work.data->rows[static_cast<std::size_t>(r)];
    req.prompts.push_back(prompt_ids(pol, row, ro.max_prompt_tokens));
    gts.push_back(row.ground_truth);
  }
  const int64_t G = work.group_size;
  req.group_size = G;
  req.seed = seed;
  req.step = work.step;
  req.first_prompt_index = work.first_index;
  req.workers = work.workers;
  req.cancel = work.cancel;
  req.sampling.greedy = work.greedy;
  req.sampling.temperature = ro.temperature;
  req.sampling.top_p = ro.top_p;
  req.sampling.top_k = ro.top_k;
  req.sampling.max_new_tokens = ro.max_new_tokens;
  req.sampling.eos_token_ids = pol.cfg.eos_token_ids;
  Progress bar(work.progress_label, static_cast<int64_t>(req.prompts.size()) * G * ro.max_new_tokens,
               work.progress);
  req.on_progress = [&bar](int64_t n) { bar.add(n); };
  const model::GenerationResult gen = model::generate(pol.cfg, policy_forward_weights(pol), req);
  bar.finish();
  times.generate += std::chrono::duration<double>(Clock::now() - t0).count();
  times.prompt_tokens += gen.prefill_tokens;
  times.response_tokens += gen.decode_tokens;

  t0 = Clock::now();
  const int64_t N = static_cast<int64_t>(req.prompts.size()) * G;
  const auto tok = gen.tokens.accessor<int64_t, 2>();
  const at::Tensor lp_cpu = gen.logprobs.to(at::kCPU).to(at::kFloat).contiguous();
  const auto lps = lp_cpu.accessor<float, 2>();
  std::vector<std::string> texts;
  for (int64_t r = 0; r < N; ++r) {
    const std::vector<int64_t> ids(&tok[r][0], &tok[r][0] + gen.lengths[static_cast<std::size_t>(r)]);
    texts.push_back(response_text(pol, ids));
  }
  const std::vector<reward::RewardScores> scores = reward(texts, gts, G, work.step);
  for (std::size_t p = 0; p < req.prompts.size(); ++p) {
    parallel::RolloutGroup g;
    g.index = work.first_index + static_cast<int64_t>(p);
    g.prompt = std::move(req.prompts[p]);
    g.fields = kRolloutFields;
    for (int64_t s = 0; s < G; ++s) {
      const int64_t r = static_cast<int64_t>(p) * G + s;
      g.responses.emplace_back(&tok[r][0], &tok[r][0] + gen.lengths[static_cast<std::size_t>(r)]);
      g.logprobs.emplace_back(&lps[r][0], &lps[r][0] + gen.lengths[static_cast<std::size_t>(r)]);
      g.truncated.push_back(gen.finish[static_cast<std::size_t>(r)] == model::FinishReason::Length);
      const reward::RewardScores& sc = scores[static_cast<std::size_t>(r)];
      g.values.insert(g.values.end(), {sc.total, sc.format, sc.correctness, sc.length, sc.ok ? 1.0 : 0.0});
    }
    groups.push_back(std::move(g));
  }
  times.score += std::chrono::duration<double>(Clock::now() - t0).count();
  return groups;
}

}  // namespace toolgrpo::app
