// The fused attention kernel (at::scaled_dot_product_attention, libtorch >= 2.1) against the hand-written
// reference attention on the seven fixture models: logits, log-probs and parameter gradients (with and without
// activation checkpointing, and on prefix-packed rows), and greedy generations of the KV-cache engine (shared
// and unshared prompt caches). Built against an older libtorch, every test reports a skip with the reason.
//
// Tolerances, from fp32 rounding (u = 2^-24 ~ 6e-8, gamma_n = n u / (1 - n u)). The two kernels evaluate the
// same formula softmax(q k^T s + mask) v in a different order: the reference scales q and runs two GEMMs, the
// fused math kernel scales q and k by sqrt(s) each and may block the key dimension. A score is a D-term dot
// product, so each kernel's value is within gamma_D * s * sum_d |q_d| |k_d| of the exact one and the two
// differ by at most 2 gamma_D * S, S = max over a row of s * sum_d |q_d||k_jd|. A shift delta of the scores
// moves each probability by at most 2 p_j max|delta| and the T-term normaliser adds gamma_T relative error per
// kernel; the output sum_j p_j v_j then differs by at most (4 gamma_D S + 4 gamma_T) max|v|. With the fixtures'
// D <= 64, T <= 64 and S of order 10 (random weights with unit-scale norms), gamma_64 ~ 3.8e-6 gives a
// worst-case relative change of ~2e-4 of an attention output, and the typical one (rounding errors add as a
// random walk, sqrt(n) u instead of n u) is ~1e-6. Each layer passes that change on through its residual
// stream, projections and norms with gains of order one (a few layers here), and the head maps it to the
// logits relative to their scale. So: logits and log-probs within 2e-5 of the largest |logit| (100 times the
// typical propagated change, 10 times below the worst case); gradients, which go through the softmax backward
// once more (the same bound again, relative to each tensor's largest entry), within 1e-4 of each tensor's
// largest magnitude. Greedy tokens must be identical: a token flip would need two logits within ~1e-5
// relative of each other, and the fixtures' reference generations are met by both kernels.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/config.hpp"
#include "model/decoder.hpp"
#include "model/generate.hpp"
#include "tests/model/fixture_model.hpp"

namespace toolgrpo::model {
namespace {

using nlohmann::json;
using testing::ids_tensor;

constexpr double kLogitTol = 2e-5;  // relative to the largest |logit| (see the head comment)
constexpr double kGradTol = 1e-4;   // relative to each gradient tensor's largest entry

// Sets the attention kernel for a scope and restores the one before.
class KernelScope {
 public:
  explicit KernelScope(AttentionKernel k) : saved_(attention_kernel()) { attention_kernel_set(k); }
  ~KernelScope() { attention_kernel_set(saved_); }
  KernelScope(const KernelScope&) = delete;
  KernelScope& operator=(const KernelScope&) = delete;

 private:
  AttentionKernel saved_;
};

class SdpaFixture : public testing::FixtureModel {
 protected:
  void SetUp() override {
    if (!attention_fused_available())
      GTEST_SKIP() << "libtorch " << TORCH_VERSION
                   << " has no at::scaled_dot_product_attention (needs >= 2.1): the reference attention is the "
                      "only path, nothing to compare";
    load();
  }

  // Log-probs (and entropy) under kernel k and every parameter's gradient of
  // -sum(log-probs * m) + 0.1 sum(entropy * m); from packed rows when `packed` is given.
  std::pair<TokenLogprobs, std::vector<at::Tensor>> run(AttentionKernel k, const at::Tensor& ids,
                                                        const at::Tensor& mask, const LogprobOptions& o,
                                                        const at::Tensor& m, const PrefixPacked* packed = nullptr) {
    KernelScope scope(k);
    const auto [lp, g] = loss_gradients(ids, mask, o, m, packed);
    return {TokenLogprobs{lp.logprobs.detach(), lp.entropy.detach()}, g};
  }

  // Each gradient within kGradTol of its reference tensor's largest magnitude; returns the largest such ratio.
  double expect_close_gradients(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want,
                                const std::string& what) {
    const auto params = decoder_named_parameters(cfg_, w_);
    double worst = 0, moved = 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
      const double scale = want[k].abs().max().item<double>();
      moved += scale;
      const double d = (got[k] - want[k]).abs().max().item<double>();
      EXPECT_LE(d, kGradTol * scale + 1e-12) << what << ": " << params[k].first;
      if (scale > 0) worst = std::max(worst, d / scale);
    }
    EXPECT_GT(moved, 0.0) << what;
    return worst;
  }

};

// Logits of every fixture batch (full, right- and left-padded, explicit positions) at the real tokens.
TEST_P(SdpaFixture, LogitsMatchTheReferenceAttention) {
  at::NoGradGuard no_grad;
  for (const auto& b : meta_["batches"]) {
    const std::string name = b["name"];
    const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
    at::Tensor logits[2];
    for (int k = 0; k < 2; ++k) {
      KernelScope scope(k == 0 ? AttentionKernel::Reference : AttentionKernel::Fused);
      logits[k] = decoder_forward(cfg_, w_, ids, mask).logits;
    }
    const at::Tensor valid = mask.to(at::kFloat).unsqueeze(-1);
    const double scale = (logits[0].abs() * valid).max().item<double>();
    const double d = ((logits[1] - logits[0]).abs() * valid).max().item<double>();
    EXPECT_TRUE(std::isfinite(d)) << name;
    EXPECT_LE(d, kLogitTol * scale) << name << ": largest |logit| " << scale;
    std::printf("[sdpa] %-26s %-14s logits: max |diff| %.3g, relative %.3g\n", GetParam(), name.c_str(), d,
                d / scale);
  }
}

// Log-probs, entropy and gradients of the right-padded batch; activation checkpointing under the fused kernel
// gives what the stored-activation reference path gives.
TEST_P(SdpaFixture, GradientsMatchWithAndWithoutCheckpointing) {
  const json& b = batch("right_padded");
  const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
  const at::Tensor valid = ids_tensor(b["next_token_logprobs_valid"]).to(at::kFloat);
  LogprobOptions o;
  o.with_entropy = true;
  o.chunk = 5;
  const auto [ref, g_ref] = run(AttentionKernel::Reference, ids, mask, o, valid);
  for (bool ckpt : {false, true}) {
    o.checkpoint_layers = ckpt;
    const auto [fused, g_fused] = run(AttentionKernel::Fused, ids, mask, o, valid);
    const std::string what = ckpt ? "checkpointed" : "stored";
    const double d = ((fused.logprobs - ref.logprobs).abs() * valid).max().item<double>();
    EXPECT_LE(d, kLogitTol * 10) << what;  // log-probs are of order 10 here (vocabularies of a few hundred)
    EXPECT_LE(((fused.entropy - ref.entropy).abs() * valid).max().item<double>(), kLogitTol * 10) << what;
    const double g = expect_close_gradients(g_fused, g_ref, what);
    std::printf("[sdpa] %-26s %-14s log-probs max |diff| %.3g, gradients worst relative %.3g\n", GetParam(),
                what.c_str(), d, g);
  }
}

// Prefix-packed rows (a per-row attention pattern instead of the causal and padding masks), with and without
// checkpointing, against the reference kernel on the same packing.
TEST_P(SdpaFixture, PrefixPackedRowsMatch) {
  const json& b = batch("full_len40");
  const at::Tensor ids = ids_tensor(b["input_ids"]);
  const auto slice = [&](int64_t row, int64_t from, int64_t to) { return testing::ids_slice(ids, row, from, to); };
  const std::vector<int64_t> prompt0 = slice(0, 0, 24), prompt1 = slice(1, 0, 12);
  const std::vector<int64_t> t0 = slice(0, 24, 40), t1 = slice(1, 30, 40), u0 = slice(1, 12, 21);
  const int64_t B = 3, L = 40;
  const PrefixPacked packed = prefix_pack({{&prompt0, {&t0, &t1}, {0, 1}}, {&prompt1, {&u0}, {2}}}, B, L - 1);
  // Where a value lands: target token k of prompt length P at column P + k - 1.
  at::Tensor sel = at::zeros({B, L - 1}, at::kFloat);
  const std::vector<std::pair<std::size_t, std::size_t>> spans = {{24, 16}, {24, 10}, {12, 9}};
  for (int64_t r = 0; r < B; ++r)
    for (std::size_t k = 0; k < spans[static_cast<std::size_t>(r)].second; ++k)
      sel[r][static_cast<int64_t>(spans[static_cast<std::size_t>(r)].first + k) - 1] = 1;
  ASSERT_EQ(sel.sum().item<int64_t>(), packed.source.size(0));
  LogprobOptions o;
  o.with_entropy = true;
  o.chunk = 7;
  const at::Tensor none;
  const auto [ref, g_ref] = run(AttentionKernel::Reference, none, none, o, sel, &packed);
  for (bool ckpt : {false, true}) {
    o.checkpoint_layers = ckpt;
    const auto [fused, g_fused] = run(AttentionKernel::Fused, none, none, o, sel, &packed);
    const std::string what = ckpt ? "packed+ckpt" : "packed";
    const double d = (fused.logprobs - ref.logprobs).abs().max().item<double>();
    EXPECT_LE(d, kLogitTol * 10) << what;
    EXPECT_EQ((fused.logprobs * (1 - sel)).abs().max().item<double>(), 0.0) << what;
    const double g = expect_close_gradients(g_fused, g_ref, what);
    std::printf("[sdpa] %-26s %-14s log-probs max |diff| %.3g, gradients worst relative %.3g\n", GetParam(),
                what.c_str(), d, g);
  }
}

// Greedy generations of the KV-cache engine: the fixtures' tokens under both kernels, with the prompt cache
// shared by a group of two (fused prefill) and with one cache per sample (fused prefill and decode), and the
// sampled tokens' log-probs close.
TEST_P(SdpaFixture, GreedyGenerationsMatch) {
  std::vector<std::vector<int64_t>> prompts, want;
  int64_t max_new = 0;
  for (const auto& g : meta_["generation"]) {
    prompts.push_back(g["prompt_ids"].get<std::vector<int64_t>>());
    want.push_back(g["new_ids"].get<std::vector<int64_t>>());
    max_new = std::max<int64_t>(max_new, static_cast<int64_t>(want.back().size()));
  }
  ASSERT_FALSE(prompts.empty());
  for (bool share : {true, false}) {
    GenerationRequest req;
    req.prompts = prompts;
    req.group_size = 2;
    req.share_prefix = share;
    req.sampling.greedy = true;
    req.sampling.max_new_tokens = max_new;
    GenerationResult res[2];
    for (int k = 0; k < 2; ++k) {
      KernelScope scope(k == 0 ? AttentionKernel::Reference : AttentionKernel::Fused);
      res[k] = generate(cfg_, w_, req);
    }
    EXPECT_TRUE(at::equal(res[1].tokens, res[0].tokens)) << "share_prefix " << share;
    for (std::size_t p = 0; p < prompts.size(); ++p)
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t r = static_cast<int64_t>(p) * 2 + s;
        const auto n = static_cast<int64_t>(want[p].size());
        const at::Tensor got = res[1].tokens[r].narrow(0, 0, n).contiguous();
        EXPECT_EQ(std::vector<int64_t>(got.data_ptr<int64_t>(), got.data_ptr<int64_t>() + n), want[p])
            << "prompt " << p << " sample " << s << " share_prefix " << share;
      }
    const double d = ((res[1].logprobs - res[0].logprobs).abs() * res[0].mask.to(at::kFloat)).max().item<double>();
    EXPECT_LE(d, kLogitTol * 10) << "share_prefix " << share;
    std::printf("[sdpa] %-26s %-14s greedy tokens equal, log-probs max |diff| %.3g\n", GetParam(),
                share ? "shared cache" : "own caches", d);
  }
}

INSTANTIATE_TEST_SUITE_P(SevenModels, SdpaFixture, ::testing::ValuesIn(testing::kFixtureModels));

// Without the fused kernel, asking for it is an error, not a silent fallback; with it, the switch round-trips.
// Auto runs the reference kernel on CPU tensors.
TEST(AttentionKernelSwitch, SetAndRead) {
  const AttentionKernel saved = attention_kernel();
  const at::Tensor cpu = at::zeros({1});
  attention_kernel_set(AttentionKernel::Reference);
  EXPECT_EQ(attention_kernel(), AttentionKernel::Reference);
  EXPECT_FALSE(attention_uses_fused(cpu));
  attention_kernel_set(AttentionKernel::Auto);
  EXPECT_FALSE(attention_uses_fused(cpu));
  if (attention_fused_available()) {
    attention_kernel_set(AttentionKernel::Fused);
    EXPECT_EQ(attention_kernel(), AttentionKernel::Fused);
    EXPECT_TRUE(attention_uses_fused(cpu));
  } else {
    EXPECT_THROW(attention_kernel_set(AttentionKernel::Fused), std::invalid_argument);
    EXPECT_EQ(attention_kernel(), AttentionKernel::Auto);
  }
  attention_kernel_set(saved);
}

}  // namespace
}  // namespace toolgrpo::model
