// KV-cache generation with group prefix sharing; see generate.hpp. The prompt cache (Pc rows) is kept once and
// broadcast over the g samples that share it; the generated-token cache is allocated once per batch.
#include "model/generate.hpp"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <tuple>

#include "model/decoder_ops.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::model {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) for token position t of a sample.
double uniform_at(uint64_t sample, int64_t t) {
  return static_cast<double>(splitmix64(sample ^ splitmix64(static_cast<uint64_t>(t) + 1)) >> 11) * 0x1.0p-53;
}

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct LayerCache {
  at::Tensor pk, pv;  // prompt cache (Pc, KV, L, D); undefined once copied into gk, gv (fused decode)
  at::Tensor gk, gv;  // generated-token cache (N, KV, max_new, D); fused decode: (N, KV, L + max_new, D), the
                      // prompt's keys and values first
};

// The inverse-CDF draw of the full-vocabulary case works on blocks of this many tokens; top-p first tries this
// many candidates.
constexpr int64_t kDrawBlock = 512;
constexpr int64_t kFirstCandidates = 64;

// (N, 1) int64: per row, the last index i with x[i] > 0 (0 when there is none).
at::Tensor last_positive(const at::Tensor& x) {
  const at::Tensor pos = at::arange(1, x.size(1) + 1, x.options().dtype(at::kLong));
  return ((x > 0).to(at::kLong) * pos).amax(-1, true).sub(1).clamp_min(0);
}

// Per row, index i of the non-negative weights w (N, V) float with probability w_i / sum(w), for uniforms u
// (N, 1) double in [0, 1): the inverse CDF in two levels, the masses of blocks of kDrawBlock tokens and then the
// prefix sums inside the chosen block, so no V-long cumulative sum is built. Entries of weight 0 are never drawn.
at::Tensor draw_by_blocks(const at::Tensor& weights, const at::Tensor& u) {
  const at::Tensor w = weights.contiguous();
  const int64_t N = w.size(0), V = w.size(1);
  const int64_t B = std::min(kDrawBlock, V), whole = V / B, nb = (V + B - 1) / B;
  // Block masses accumulated in double precision: the cumulative masses then agree with a sequential fp64
  // cumulative sum over the vocabulary to about 1e-16, so a draw lands on the same token as one would.
  at::Tensor mass = w.narrow(1, 0, whole * B).view({N, whole, B}).sum(-1, false, at::kDouble);
  if (nb > whole) mass = at::cat({mass, w.narrow(1, whole * B, V - whole * B).sum(-1, true, at::kDouble)}, 1);
  const at::Tensor cum = mass.cumsum(-1);  // (N, nb)
  const at::Tensor target = u * cum.narrow(1, nb - 1, 1);
  // The first block whose cumulative mass exceeds the target (rounding can only push it past the last block
  // with mass, which then takes it), and the mass before it.
  const at::Tensor blk = at::minimum((cum <= target).sum(-1, true), last_positive(mass));
  const at::Tensor before = at::where(blk > 0, cum.gather(1, (blk - 1).clamp_min(0)), at::zeros_like(target));
  const at::Tensor idx = blk * B + at::arange(B, blk.options());  // (N, B): the block's token ids
  at::Tensor inner = w.gather(1, idx.clamp_max(V - 1));
  if (nb > whole) inner = inner.masked_fill(idx >= V, 0);  // the short last block
  const at::Tensor icum = inner.to(at::kDouble).cumsum(-1);
  const at::Tensor j = at::minimum((icum <= target - before).sum(-1, true), last_positive(inner));
  return idx.gather(1, j).squeeze(1);
}

// Top-p on the non-negative weights w (N, V) float, uniforms u (N, 1) double. The nucleus: order the tokens by
// weight, highest first and equal weights by lower token id; keep each token whose mass strictly before it is at
// most top_p of the row's total (the smallest prefix whose mass exceeds top_p, or every token when none does).
// Its weights are drawn from as the full vocabulary is (draw_by_blocks, in token-id order). Only the k largest
// weights are sorted, from kFirstCandidates up until every row drops one of them (or only tokens of weight 0
// are left out; the whole vocabulary at worst): they give the count K of the nucleus and its smallest weight
// p*, and the nucleus is the tokens weighing more than p* and, of those weighing p*, the lowest ids up to K.
// The nucleus and the draw do not depend on k, so a row's token does not depend on the other rows.
at::Tensor draw_nucleus(const at::Tensor& w, double top_p, const at::Tensor& u) {
  const int64_t N = w.size(0), V = w.size(1);
  const at::Tensor limit = w.sum(-1, true).to(at::kDouble) * top_p;  // (N, 1)
  int64_t k = std::min(kFirstCandidates, V);
  for (;;) {
    const at::Tensor vals = k == V ? std::get<0>(w.sort(-1, /*descending=*/true))
                                   : std::get<0>(w.topk(k, -1, /*largest=*/true, /*sorted=*/true));  // (N, k)
    const at::Tensor cum = vals.to(at::kDouble).cumsum(-1);  // mass up to and including each candidate
    const at::Tensor before = at::cat({at::zeros({N, 1}, cum.options()), cum.narrow(1, 0, k - 1)}, 1);
    const at::Tensor kept = (before <= limit).sum(-1, true);  // K >= 1: a prefix of the ordered weights
    const at::Tensor smallest = vals.narrow(1, k - 1, 1);
    const at::Tensor edge = vals.gather(1, kept - 1);  // p*
    const at::Tensor above = w > edge, tied = w == edge;
    const at::Tensor tied_kept = kept - above.sum(-1, true);  // how many of the tokens weighing p* are kept
    const at::Tensor ok = (kept < k).logical_or(smallest == 0);
    // Whether some row keeps only part of its tokens weighing p*, which must then be ranked by id.
    const at::Tensor partial = tied.sum(-1, true) > tied_kept;
    // The tokens left out weigh at most `smallest` each: a row not done needs at least (limit - mass so far) /
    // smallest more. One copy to the host per try: done?, partial ties?, more.
    const at::Tensor more = at::where(ok, at::zeros_like(limit),
                                      (limit - cum.narrow(1, k - 1, 1)).clamp_min(0) / smallest.to(at::kDouble));
    const at::Tensor flags = at::stack({ok.all().to(at::kDouble), partial.logical_and(edge > 0).any().to(at::kDouble),
                                        more.max()})
                                 .to(at::kCPU);
    const double* f = flags.data_ptr<double>();
    if (k < V && f[0] == 0) {
      const double next = std::max(4.0 * static_cast<double>(k), static_cast<double>(k) + std::ceil(f[2]) + 1);
      k = std::isfinite(next) && next * 4 <= static_cast<double>(V) ? static_cast<int64_t>(next) : V;
      continue;
    }
    at::Tensor in = above.logical_or(tied);
    if (f[1] != 0) in = above.logical_or(tied.logical_and(tied.cumsum(-1) <= tied_kept));
    return draw_by_blocks(w.masked_fill(in.logical_not(), 0), u);
  }
}

}  // namespace

std::pair<at::Tensor, at::Tensor> sample_tokens(const at::Tensor& logits, const SamplingParams& sp,
                                                const std::vector<uint64_t>& seeds, int64_t t) {
  const int64_t N = logits.size(0), V = logits.size(1);
  if (static_cast<int64_t>(seeds.size()) != N) throw std::invalid_argument("sample_tokens: one seed per row");
  if (sp.greedy) {
    const at::Tensor tok = logits.argmax(-1);
    return {tok, at::log_softmax(logits, -1).gather(-1, tok.unsqueeze(-1)).squeeze(-1)};
  }
  const at::Tensor scaled = sp.temperature == 1.0 ? logits : logits / sp.temperature;
  const at::Tensor logp = at::log_softmax(scaled, -1);
  at::Tensor w = at::softmax(scaled, -1);  // the weights of the draw
  if (sp.top_k > 0 && sp.top_k < V) {
    const at::Tensor kth = std::get<0>(scaled.topk(sp.top_k, -1)).narrow(-1, sp.top_k - 1, 1);
    w.masked_fill_(scaled < kth, 0);  // the top_k largest stay, and any tied with the k-th
  }
  std::vector<double> u(static_cast<std::size_t>(N));
  for (int64_t r = 0; r < N; ++r) u[static_cast<std::size_t>(r)] = uniform_at(seeds[static_cast<std::size_t>(r)], t);
  const at::Tensor ut = at::tensor(u, at::kDouble).to(logits.device()).unsqueeze(-1);
  const at::Tensor tok = sp.top_p < 1.0 ? draw_nucleus(w, sp.top_p, ut) : draw_by_blocks(w, ut);
  return {tok, logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)};
}

uint64_t sample_seed(uint64_t run_seed, int64_t step, int64_t prompt_index, int64_t sample_index) {
  uint64_t h = splitmix64(run_seed);
  h = splitmix64(h ^ static_cast<uint64_t>(step));
  h = splitmix64(h ^ static_cast<uint64_t>(prompt_index));
  return splitmix64(h ^ static_cast<uint64_t>(sample_index));
}

namespace {

// One worker's share: the whole engine on a sub-batch of prompts.
GenerationResult generate_chunk(const ModelConfig& cfg, const DecoderWeights& w, const GenerationRequest& req) {
  const int64_t P = static_cast<int64_t>(req.prompts.size()), G = req.group_size, N = P * G;
  const int64_t max_new = req.sampling.max_new_tokens;
  if (P == 0 || G <= 0 || max_new <= 0) throw std::invalid_argument("generate: need prompts, group_size >= 1, max_new_tokens >= 1");
  if (!req.sampling.stop_strings.empty() && !req.sampling.decode)
    throw std::invalid_argument("generate: stop strings need a decode function");
  if (!req.sampling.greedy && !(req.sampling.temperature > 0))
    throw std::invalid_argument("generate: temperature must be > 0 (use greedy for argmax)");
  const auto dev = w.embed.device();
  const auto dtype = w.embed.scalar_type();
  const int64_t H = cfg.num_heads, KV = cfg.num_kv_heads, D = cfg.head_dim, R = H / KV;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  at::NoGradGuard no_grad;
  const bool fused = attention_uses_fused(w.embed);

  // Prompt rows of the cache: P when shared, P*G when every sample gets its own copy.
  const int64_t Pc = req.share_prefix ? P : N, g = req.share_prefix ? G : 1;
  int64_t L = 0;
  for (const auto& p : req.prompts) {
    if (p.empty()) throw std::invalid_argument("generate: empty prompt");
    L = std::max<int64_t>(L, static_cast<int64_t>(p.size()));
  }
  std::vector<int64_t> ids(static_cast<std::size_t>(Pc * L), 0), mask_v(ids.size(), 0);  // padding is masked
  std::vector<int64_t> prompt_len(static_cast<std::size_t>(N));
  for (int64_t r = 0; r < Pc; ++r) {
    const auto& p = req.prompts[static_cast<std::size_t>(req.share_prefix ? r : r / G)];
    const int64_t off = L - static_cast<int64_t>(p.size());  // left padding
    for (std::size_t k = 0; k < p.size(); ++k) {
      ids[static_cast<std::size_t>(r * L + off) + k] = p[k];
      mask_v[static_cast<std::size_t>(r * L + off) + k] = 1;
    }
  }
  for (int64_t r = 0; r < N; ++r) prompt_len[static_cast<std::size_t>(r)] = static_cast<int64_t>(req.prompts[static_cast<std::size_t>(r / G)].size());
  const at::Tensor input_ids = at::tensor(ids, at::kLong).view({Pc, L}).to(dev);
  const at::Tensor attn_mask = at::tensor(mask_v, at::kLong).view({Pc, L}).to(dev);
  at::Tensor pos = attn_mask.cumsum(1) - 1;
  pos = at::where(attn_mask.to(at::kBool), pos, at::ones_like(pos));

  GenerationResult res;
  auto t0 = Clock::now();
  // ---- prefill: each cache row once; keep K/V of every layer, logits of the last position only ----
  std::vector<LayerCache> cache(w.layers.size());
  const auto fopts = at::TensorOptions(at::kFloat).device(dev);
  const float lowest = std::numeric_limits<float>::lowest();
  at::Tensor x = at::embedding(w.embed, input_ids);
  {
    const RopeTables rope = rope_tables(cfg, pos, dtype);
    const at::Tensor causal = at::ones({L, L}, at::TensorOptions(at::kBool).device(dev)).tril();
    const at::Tensor allowed = causal.view({1, 1, L, L}).logical_and(attn_mask.to(at::kBool).view({Pc, 1, 1, L}));
    const at::Tensor mask = at::where(allowed, at::zeros({1}, fopts), at::full({1}, lowest, fopts));
    for (std::size_t li = 0; li < w.layers.size(); ++li) {
      const LayerWeights& l = w.layers[li];
      const AttentionInputs a = attention_inputs(cfg, l, rms_norm(x, l.input_norm, cfg.rms_norm_eps), rope);
      cache[li].pk = a.k;
      cache[li].pv = a.v;
      if (fused) {
        x = x + linear(attention_fused(a.q, a.k, a.v, mask, scale).transpose(1, 2).reshape({Pc, L, H * D}),
                       l.o_proj, l.o_bias);
        x = x + mlp_block(l, rms_norm(x, l.post_norm, cfg.rms_norm_eps));
        continue;
      }
      // The R query heads of a KV head are stacked as rows: (Pc, KV, R*L, D) against (Pc, KV, L, D).
      const at::Tensor q = a.q.reshape({Pc, KV, R * L, D});
      const at::Tensor scores =
          (at::matmul(q, a.k.transpose(-1, -2)) * scale).view({Pc, KV, R, L, L}) + mask.unsqueeze(1);
      const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(dtype).view({Pc, KV, R * L, L});
      const at::Tensor attn =
          at::matmul(probs, a.v).view({Pc, H, L, D}).transpose(1, 2).reshape({Pc, L, H * D});
      x = x + linear(attn, l.o_proj, l.o_bias);
      x = x + mlp_block(l, rms_norm(x, l.post_norm, cfg.rms_norm_eps));
    }
  }
  at::Tensor logits = head_logits(rms_norm(x.select(1, L - 1), w.norm, cfg.rms_norm_eps), w.lm_head);
  if (req.share_prefix) logits = logits.repeat_interleave(G, 0);  // (N, V): each sample starts from its prompt
  res.prefill_seconds = since(t0);
  res.prefill_tokens = attn_mask.sum().item<int64_t>();

  // ---- decode ----
  t0 = Clock::now();
  at::Tensor prompt_mask =  // (rows of the prompt cache, 1, 1, L); follows the cache when groups leave
      at::where(attn_mask.to(at::kBool), at::zeros({1}, fopts), at::full({1}, lowest, fopts)).view({Pc, 1, 1, L});
  // The fused kernel wants each sample's keys in one tensor. Without prefix sharing (g = 1) every sample has
  // its own prompt rows anyway, so they move to the front of its cache and each step reads a narrowed view;
  // with g > 1 that would hold G copies of each prompt, and the reference path's stacked queries, which read a
  // prompt's cache once for its G samples, stay.
  const bool fused_decode = fused && g == 1;
  const int64_t front = fused_decode ? L : 0;
  for (auto& c : cache) {
    c.gk = at::zeros({N, KV, front + max_new, D}, at::TensorOptions(dtype).device(dev));
    c.gv = at::zeros_like(c.gk);
    if (fused_decode) {
      c.gk.narrow(2, 0, L).copy_(c.pk);
      c.gv.narrow(2, 0, L).copy_(c.pv);
      c.pk = c.pv = at::Tensor();
    }
  }
  // (N, 1, 1, L + max_new): the prompt's padding hidden, every generated token visible.
  at::Tensor decode_mask =
      fused_decode ? at::cat({prompt_mask, at::zeros({N, 1, 1, max_new}, fopts)}, -1) : at::Tensor();
  // The decoding batch: `rows` holds the result row of each batch row; the batch shrinks by whole cache groups
  // (the g samples sharing a prompt-cache row; one row without sharing) once all their samples have finished.
  std::vector<int64_t> rows(static_cast<std::size_t>(N));
  for (int64_t r = 0; r < N; ++r) rows[static_cast<std::size_t>(r)] = r;
  std::vector<uint64_t> seeds(static_cast<std::size_t>(N));
  for (int64_t r = 0; r < N; ++r)
    seeds[static_cast<std::size_t>(r)] = sample_seed(req.seed, req.step, req.first_prompt_index + r / G, r % G);
  at::Tensor out_tok = at::full({N, max_new}, req.sampling.pad_token_id, at::kLong);
  at::Tensor out_mask = at::zeros({N, max_new}, at::kLong);
  at::Tensor out_logp = at::zeros({N, max_new}, at::kFloat);
  res.lengths.assign(static_cast<std::size_t>(N), 0);
  res.finish.assign(static_cast<std::size_t>(N), FinishReason::Length);
  std::vector<bool> done(static_cast<std::size_t>(N), false);
  auto tok_acc = out_tok.accessor<int64_t, 2>();
  auto mask_acc = out_mask.accessor<int64_t, 2>();
  auto logp_acc = out_logp.accessor<float, 2>();
  at::Tensor base_pos = at::tensor(prompt_len, at::kLong).to(dev).view({N, 1});
  int64_t active = N;
  int64_t credited = 0;  // sample-tokens reported through on_progress
  const auto progress_to = [&](int64_t units) {
    if (req.on_progress && units > credited) req.on_progress(units - credited);
    credited = std::max(credited, units);
  };
  for (int64_t t = 0; t < max_new && active > 0; ++t) {
    if (req.cancel != nullptr && req.cancel->load(std::memory_order_relaxed)) {
      res.cancelled = true;
      break;
    }
    auto [tok, logp] = sample_tokens(logits, req.sampling, seeds, t);
    const int64_t n = static_cast<int64_t>(rows.size());
    // One copy to the host per step: the tokens (exact in double) and their log-probs.
    const at::Tensor host = at::stack({tok.to(at::kDouble), logp.to(at::kDouble)}).to(at::kCPU).contiguous();
    const double* tp = host.data_ptr<double>();
    const double* lp = tp + n;
    for (int64_t b = 0; b < n; ++b) {
      const int64_t r = rows[static_cast<std::size_t>(b)];
      if (done[static_cast<std::size_t>(r)]) continue;
      const int64_t id = static_cast<int64_t>(tp[b]);
      tok_acc[r][t] = id;
      mask_acc[r][t] = 1;
      logp_acc[r][t] = static_cast<float>(lp[b]);
      ++res.lengths[static_cast<std::size_t>(r)];
      ++res.decode_tokens;
      for (int64_t e : req.sampling.eos_token_ids)
        if (id == e) {
          done[static_cast<std::size_t>(r)] = true;
          res.finish[static_cast<std::size_t>(r)] = FinishReason::Eos;
          --active;
          break;
        }
      if (!done[static_cast<std::size_t>(r)] && !req.sampling.stop_strings.empty()) {
        const int64_t len = res.lengths[static_cast<std::size_t>(r)];
        const std::string text = req.sampling.decode(std::vector<int64_t>(&tok_acc[r][0], &tok_acc[r][0] + len));
        for (const auto& stop : req.sampling.stop_strings)
          if (!stop.empty() && text.find(stop) != std::string::npos) {
            done[static_cast<std::size_t>(r)] = true;
            res.finish[static_cast<std::size_t>(r)] = FinishReason::Stop;
            --active;
            break;
          }
      }
    }
    progress_to((N - active) * max_new + active * (t + 1));
    if (t + 1 == max_new || active == 0) break;
    // Finished rows leave the batch: the groups whose samples have all ended, once they are an eighth of the
    // batch's groups (each removal copies the live rows' caches once).
    if (req.compact_finished) {
      std::vector<int64_t> keep_rows, keep_groups;
      for (int64_t grp = 0; grp < n / g; ++grp) {
        bool live = false;
        for (int64_t k = 0; k < g; ++k) live = live || !done[static_cast<std::size_t>(rows[static_cast<std::size_t>(grp * g + k)])];
        if (!live) continue;
        keep_groups.push_back(grp);
        for (int64_t k = 0; k < g; ++k) keep_rows.push_back(grp * g + k);
      }
      const int64_t dead = n / g - static_cast<int64_t>(keep_groups.size());
      if (dead > 0 && dead * 8 >= n / g) {
        res.rows_removed += n - static_cast<int64_t>(keep_rows.size());
        const at::Tensor kr = at::tensor(keep_rows, at::kLong).to(dev), kg = at::tensor(keep_groups, at::kLong).to(dev);
        for (auto& c : cache) {
          c.gk = c.gk.index_select(0, kr);
          c.gv = c.gv.index_select(0, kr);
          if (c.pk.defined()) {
            c.pk = c.pk.index_select(0, kg);
            c.pv = c.pv.index_select(0, kg);
          }
        }
        prompt_mask = prompt_mask.index_select(0, kg);
        if (decode_mask.defined()) decode_mask = decode_mask.index_select(0, kr);
        base_pos = base_pos.index_select(0, kr);
        tok = tok.index_select(0, kr);
        std::vector<int64_t> rows_kept;
        std::vector<uint64_t> seeds_kept;
        for (int64_t b : keep_rows) {
          rows_kept.push_back(rows[static_cast<std::size_t>(b)]);
          seeds_kept.push_back(seeds[static_cast<std::size_t>(b)]);
        }
        rows.swap(rows_kept);
        seeds.swap(seeds_kept);
      }
    }
    const int64_t nb = static_cast<int64_t>(rows.size()), pcb = nb / g;  // batch rows, prompt-cache rows
    // One step for every row of the batch: token t at position prompt_len + t.
    at::Tensor h = at::embedding(w.embed, tok.view({nb, 1}));
    const RopeTables rope = rope_tables(cfg, base_pos + t, dtype);
    for (std::size_t li = 0; li < w.layers.size(); ++li) {
      const LayerWeights& l = w.layers[li];
      LayerCache& c = cache[li];
      const AttentionInputs a = attention_inputs(cfg, l, rms_norm(h, l.input_norm, cfg.rms_norm_eps), rope);
      c.gk.narrow(2, front + t, 1).copy_(a.k);
      c.gv.narrow(2, front + t, 1).copy_(a.v);
      if (fused_decode) {
        const at::Tensor attn = attention_fused(a.q, c.gk.narrow(2, 0, L + t + 1), c.gv.narrow(2, 0, L + t + 1),
                                                decode_mask.narrow(-1, 0, L + t + 1), scale);
        h = h + linear(attn.reshape({nb, 1, H * D}), l.o_proj, l.o_bias);
        h = h + mlp_block(l, rms_norm(h, l.post_norm, cfg.rms_norm_eps));
        continue;
      }
      // Queries of the g samples and R heads that share a cache row and KV head are stacked as rows, so the
      // prompt cache is read once per group: (pcb, KV, g*R, D) against (pcb, KV, L, D).
      const at::Tensor qs = a.q.reshape({pcb, g, KV, R, D}).permute({0, 2, 1, 3, 4}).reshape({pcb, KV, g * R, D});
      const at::Tensor sp = (at::matmul(qs, c.pk.transpose(-1, -2)) * scale + prompt_mask)
                                .view({pcb, KV, g, R, L}).permute({0, 2, 1, 3, 4}).reshape({nb, KV, R, L});
      // Scores against this row's generated tokens 0..t: (nb, KV, R, D) against (nb, KV, t+1, D).
      const at::Tensor gk = c.gk.narrow(2, 0, t + 1), gv = c.gv.narrow(2, 0, t + 1);
      const at::Tensor q4 = a.q.reshape({nb, KV, R, D});
      const at::Tensor sg = at::matmul(q4, gk.transpose(-1, -2)) * scale;
      const at::Tensor probs = at::softmax(at::cat({sp, sg}, -1), -1, at::kFloat).to(dtype);
      const at::Tensor pp = probs.narrow(-1, 0, L).reshape({pcb, g, KV, R, L}).permute({0, 2, 1, 3, 4})
                                .reshape({pcb, KV, g * R, L});
      const at::Tensor pg = probs.narrow(-1, L, t + 1);
      const at::Tensor attn = at::matmul(pp, c.pv).view({pcb, KV, g, R, D}).permute({0, 2, 1, 3, 4})
                                  .reshape({nb, KV, R, D}) + at::matmul(pg, gv);
      h = h + linear(attn.reshape({nb, 1, H * D}), l.o_proj, l.o_bias);
      h = h + mlp_block(l, rms_norm(h, l.post_norm, cfg.rms_norm_eps));
    }
    logits = head_logits(rms_norm(h.squeeze(1), w.norm, cfg.rms_norm_eps), w.lm_head);
  }
  if (!res.cancelled) progress_to(N * max_new);
  res.decode_seconds = since(t0);
  res.tokens = out_tok;
  res.mask = out_mask;
  res.logprobs = out_logp;
  return res;
}

}  // namespace

GenerationResult generate(const ModelConfig& cfg, const DecoderWeights& w, const GenerationRequest& req) {
  const int64_t P = static_cast<int64_t>(req.prompts.size());
  const int workers = static_cast<int>(std::min<int64_t>(req.workers > 0 ? req.workers : 1, P));
  if (workers <= 1 || w.embed.device().type() != at::kCPU) return generate_chunk(cfg, w, req);
  // CPU: independent sub-batches of whole prompt groups on threads, each with single-threaded kernels. Samples
  // are keyed by their global prompt index, so the split does not change them.
  const int saved_threads = cpu_threads() > 0 ? cpu_threads() : at::get_num_threads();
  cpu_threads_set(1);  // workers that each run a sub-batch want single-threaded ATen and OpenBLAS
  std::vector<GenerationRequest> parts(static_cast<std::size_t>(workers), req);
  std::vector<GenerationResult> results(static_cast<std::size_t>(workers));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
  int64_t start = 0;
  for (int k = 0; k < workers; ++k) {
    const int64_t n = P / workers + (k < P % workers ? 1 : 0);
    auto& part = parts[static_cast<std::size_t>(k)];
    part.prompts.assign(req.prompts.begin() + start, req.prompts.begin() + start + n);
    part.first_prompt_index = req.first_prompt_index + start;
    start += n;
  }
  {
    std::vector<std::thread> threads;
    for (int k = 0; k < workers; ++k)
      threads.emplace_back([&, k] {
        try {
          at::NoGradGuard no_grad;
          results[static_cast<std::size_t>(k)] = generate_chunk(cfg, w, parts[static_cast<std::size_t>(k)]);
        } catch (...) {
          errors[static_cast<std::size_t>(k)] = std::current_exception();
        }
      });
    for (auto& t : threads) t.join();
  }
  cpu_threads_set(saved_threads);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  GenerationResult out;
  std::vector<at::Tensor> tok, mask, logp;
  for (auto& r : results) {
    tok.push_back(r.tokens);
    mask.push_back(r.mask);
    logp.push_back(r.logprobs);
    out.lengths.insert(out.lengths.end(), r.lengths.begin(), r.lengths.end());
    out.finish.insert(out.finish.end(), r.finish.begin(), r.finish.end());
    out.prefill_seconds = std::max(out.prefill_seconds, r.prefill_seconds);
    out.decode_seconds = std::max(out.decode_seconds, r.decode_seconds);
    out.prefill_tokens += r.prefill_tokens;
    out.decode_tokens += r.decode_tokens;
    out.cancelled = out.cancelled || r.cancelled;
    out.rows_removed += r.rows_removed;
  }
  out.tokens = at::cat(tok, 0);
  out.mask = at::cat(mask, 0);
  out.logprobs = at::cat(logp, 0);
  return out;
}

}  // namespace toolgrpo::model
