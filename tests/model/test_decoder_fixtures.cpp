// The seven tiny Hugging Face models of ../shared/data/fixtures/models against the reference implementation's
// outputs: RoPE frequencies, logits, log-probs, next-token log-probs, hidden states, loss, gradients of the
// right-padded batch, and greedy generations (recomputed from scratch each step, single and left-padded batch).
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/config.hpp"
#include "model/decoder.hpp"
#include "model/safetensors.hpp"
#include "tests/model/decoder_bounds.hpp"
#include "tests/model/fixture_model.hpp"

namespace toolgrpo::model {
namespace {

using nlohmann::json;
using namespace toolgrpo::testing;  // the fp32 error bounds (tests/model/decoder_bounds.hpp)
using testing::ids_tensor;

// Largest |a - b| over positions where mask (B, T) is 1; a, b are (B, T, ...).
double max_diff_valid(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  at::Tensor d = (a - b).abs();
  while (d.dim() > 2) d = std::get<0>(d.max(-1));
  return (d * mask.to(at::kFloat)).max().item<double>();
}

// ModelFixture: a fixture model (tests/model/fixture_model.hpp) with the reference implementation's tensors.
class ModelFixture : public testing::FixtureModel {
 protected:
  void SetUp() override {
    load();
    ref_ = std::make_unique<SafetensorsFile>(dir_ + "/fixtures.safetensors");
  }
  at::Tensor ref(const std::string& name) const { return ref_->load(name); }

  // Each gradient of `got` within the fp32 bound of two backward passes over a T-token forward whose weight
  // gradients sum over `positions` tokens (decoder_gradient_bound, relative to the largest gradient entry), and
  // the gradients not all zero.
  void expect_same_gradients(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want, int64_t T,
                             int64_t positions) {
    const auto params = decoder_named_parameters(cfg_, w_);
    const double tol = decoder_gradient_bound(cfg_, T, positions, largest(want));
    for (std::size_t k = 0; k < params.size(); ++k)
      EXPECT_LE((got[k] - want[k]).abs().max().item<double>(), tol) << params[k].first;
    EXPECT_GT(largest(want), 0.0);
  }
  static double largest(const std::vector<at::Tensor>& ts) {
    double m = 0;
    for (const auto& t : ts) m = std::max(m, t.abs().max().item<double>());
    return m;
  }

  std::unique_ptr<SafetensorsFile> ref_;
};

// The parameter count from config.json alone equals the tensors the reference wrote.
TEST_P(ModelFixture, ParameterCountFromTheConfig) {
  int64_t n = 0;
  for (const auto& [name, t] : decoder_named_parameters(cfg_, w_)) n += t.numel();
  EXPECT_EQ(parameter_count(cfg_), n);
}

TEST_P(ModelFixture, RopeFrequencies) {
  const at::Tensor want = ref(meta_["rope"]["inv_freq_tensor"].get<std::string>());
  const at::Tensor got = rope_inv_freq(cfg_);
  // Each frequency is a handful of fp32 operations (a power, a division, the llama3 interpolation's few more)
  // evaluated in a different order than the reference's: 16 roundings is a generous count, twice for two sides.
  EXPECT_LE(((got - want).abs() / want.abs()).max().item<double>(), two_sided(fp32_gamma(16)));
}

TEST_P(ModelFixture, ForwardMatchesReference) {
  at::NoGradGuard no_grad;
  for (const auto& b : meta_["batches"]) {
    const std::string name = b["name"];
    const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
    const at::Tensor pos = ref_->has(name + ".position_ids") ? ref(name + ".position_ids") : at::Tensor();
    const ForwardOutput out = decoder_forward(cfg_, w_, ids, mask, pos, /*keep_hidden_states=*/true);
    const int64_t T = ids.size(1);
    const DecoderBounds bound = decoder_bounds(cfg_, w_, T);  // ours and the reference: two fp32 implementations
    EXPECT_LE(max_diff_valid(out.logits, ref(name + ".logits"), mask), bound.logits) << name;
    const at::Tensor logp = at::log_softmax(out.logits, -1);
    EXPECT_LE(max_diff_valid(logp, ref(name + ".logprobs"), mask), bound.logprobs) << name;
    const at::Tensor next = logp.narrow(1, 0, T - 1).gather(-1, ids.narrow(1, 1, T - 1).unsqueeze(-1)).squeeze(-1);
    const at::Tensor valid = ids_tensor(b["next_token_logprobs_valid"]);
    EXPECT_LE(((next - ref(name + ".next_token_logprobs")).abs() * valid.to(at::kFloat)).max().item<double>(),
              bound.logprobs)
        << name;
    // The loss is the mean of the valid tokens' negative log-probs: their error plus the mean's own rounding.
    const double loss = b["loss"].get<double>();
    EXPECT_NEAR(causal_lm_loss(out.logits, ids, mask).item<double>(), loss,
                fp32_mean_error(static_cast<double>(ids.numel()), bound.logprobs, loss))
        << name;
    if (b["tensors"].contains("hidden_states") && !b["tensors"]["hidden_states"].empty()) {
      const auto& hs = b["tensors"]["hidden_states"];
      ASSERT_EQ(out.hidden_states.size(), hs.size());
      for (std::size_t k = 0; k < hs.size(); ++k) {
        // The residual stream after k layers: the forward chain's relative error (a bound for any k) times the
        // largest state norm.
        const at::Tensor want = ref(hs[k].get<std::string>());
        const double scale = want.norm(2, {-1}).max().item<double>();
        EXPECT_LE(max_diff_valid(out.hidden_states[k], want, mask),
                  two_sided(fp32_gamma(decoder_chain_length(cfg_, T)) * scale))
            << name << k;
      }
    }
  }
}

TEST_P(ModelFixture, GradientsOfRightPaddedBatch) {
  const auto& g = meta_["gradients"];
  const json& b = batch(g["batch"]);
  const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
  const auto params = decoder_named_parameters(cfg_, w_);
  for (const auto& [n, t] : params) t.set_requires_grad(true);
  const at::Tensor loss = causal_lm_loss(decoder_forward(cfg_, w_, ids, mask).logits, ids, mask);
  const int64_t T = ids.size(1);
  const double want_loss = g["loss"].get<double>();
  EXPECT_NEAR(loss.item<double>(), want_loss,
              fp32_mean_error(static_cast<double>(ids.numel()), decoder_bounds(cfg_, w_, T).logprobs, want_loss));
  loss.backward();
  double scale = 0;
  for (const auto& name : g["parameters"])
    scale = std::max(scale, ref(g["prefix"].get<std::string>() + name.get<std::string>()).abs().max().item<double>());
  ASSERT_GT(scale, 0.0);
  const double tol = decoder_gradient_bound(cfg_, T, ids.numel(), scale);
  std::size_t checked = 0;
  for (const auto& name : g["parameters"]) {
    const std::string n = name.get<std::string>();
    const at::Tensor* mine = nullptr;
    for (const auto& [pn, t] : params)
      if (pn == n) mine = &t;
    ASSERT_NE(mine, nullptr) << "no parameter " << n;
    const at::Tensor want = ref(g["prefix"].get<std::string>() + n);
    EXPECT_LE((mine->grad() - want).abs().max().item<double>(), tol) << n;
    ++checked;
  }
  EXPECT_EQ(checked, params.size());
}

// Greedy decoding by full recomputation each step (the KV-cache engine is checked against this path).
at::Tensor greedy(const ModelConfig& cfg, const DecoderWeights& w, at::Tensor ids, at::Tensor mask, int steps) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> new_ids;
  for (int s = 0; s < steps; ++s) {
    at::Tensor pos = mask.cumsum(1) - 1;
    pos = at::where(mask.to(at::kBool), pos, at::ones_like(pos));
    const at::Tensor logits = decoder_forward(cfg, w, ids, mask, pos).logits;
    const at::Tensor next = logits.select(1, ids.size(1) - 1).argmax(-1, /*keepdim=*/true);
    new_ids.push_back(next);
    ids = at::cat({ids, next}, 1);
    mask = at::cat({mask, at::ones_like(next)}, 1);
  }
  return at::cat(new_ids, 1);
}

TEST_P(ModelFixture, GreedyGenerationTokenExact) {
  for (const auto& g : meta_["generation"]) {
    const at::Tensor ids = at::tensor(g["prompt_ids"].get<std::vector<int64_t>>(), at::kLong).unsqueeze(0);
    const at::Tensor got = greedy(cfg_, w_, ids, at::ones_like(ids), g["max_new_tokens"].get<int>());
    const auto want = g["new_ids"].get<std::vector<int64_t>>();
    const at::Tensor flat = got.squeeze(0).contiguous();
    EXPECT_EQ(std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()), want);
  }
  // The same prompts left-padded into one batch give the same tokens.
  const auto& gb = meta_["generation_batched"];
  const at::Tensor batched = greedy(cfg_, w_, ids_tensor(gb["input_ids"]), ids_tensor(gb["attention_mask"]), 16);
  for (std::size_t r = 0; r < meta_["generation"].size(); ++r) {
    const at::Tensor row = batched[static_cast<int64_t>(r)].contiguous();
    EXPECT_EQ(std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel()),
              meta_["generation"][r]["new_ids"].get<std::vector<int64_t>>()) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(SevenModels, ModelFixture, ::testing::ValuesIn(testing::kFixtureModels));

}  // namespace
}  // namespace toolgrpo::model

namespace toolgrpo::model {
namespace {

// The chunked log-prob pass equals the reference next-token log-probs for any chunk size, its entropy equals
// the entropy of the full log-softmax, and its gradient reproduces the reference loss gradients.
TEST_P(ModelFixture, ChunkedLogprobsAndTheirGradients) {
  for (const auto& b : meta_["batches"]) {
    if (b["name"] != "full_len40" && b["name"] != "right_padded") continue;
    const std::string name = b["name"];
    const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
    const at::Tensor valid = ids_tensor(b["next_token_logprobs_valid"]).to(at::kFloat);
    const at::Tensor want = ref(name + ".next_token_logprobs");
    const DecoderBounds bound = decoder_bounds(cfg_, w_, ids.size(1));
    for (int64_t chunk : {1, 7, 4096}) {
      at::NoGradGuard no_grad;
      LogprobOptions o;
      o.with_entropy = true;
      o.chunk = chunk;
      const TokenLogprobs lp = token_logprobs(cfg_, w_, ids, mask, o);
      EXPECT_LE(((lp.logprobs - want).abs() * valid).max().item<double>(), bound.logprobs)
          << name << " chunk " << chunk;
      const at::Tensor full = at::log_softmax(ref(name + ".logits"), -1).narrow(1, 0, ids.size(1) - 1);
      const at::Tensor ent = -(full.exp() * full).sum(-1);
      EXPECT_LE(((lp.entropy - ent).abs() * valid).max().item<double>(),
                entropy_error(bound.logprobs, bound.vocab, ent.max().item<double>()))
          << name;
    }
  }
  // Gradient of -mean(valid log-probs) of the right-padded batch == the reference loss gradient.
  const auto& g = meta_["gradients"];
  const json& b = batch(g["batch"]);
  const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
  const auto params = decoder_named_parameters(cfg_, w_);
  for (const auto& [n, t] : params) t.set_requires_grad(true);
  const at::Tensor v = mask.narrow(1, 1, ids.size(1) - 1).to(at::kFloat);
  LogprobOptions five;
  five.chunk = 5;
  const at::Tensor loss = -(token_logprobs(cfg_, w_, ids, mask, five).logprobs * v).sum() / v.sum();
  const double want_loss = g["loss"].get<double>();
  EXPECT_NEAR(loss.item<double>(), want_loss,
              fp32_mean_error(static_cast<double>(ids.numel()), decoder_bounds(cfg_, w_, ids.size(1)).logprobs,
                              want_loss));
  loss.backward();
  std::vector<at::Tensor> got, want;
  for (const auto& [n, t] : params) {
    got.push_back(t.grad());
    want.push_back(ref(g["prefix"].get<std::string>() + n));
  }
  expect_same_gradients(got, want, ids.size(1), ids.numel());
}

// The response-only head (only_at) gives the reference log-probs and the full head's entropy at the chosen
// positions, 0 elsewhere, and the same gradients as the full head under a loss on those positions.
TEST_P(ModelFixture, ResponseOnlyHeadMatchesTheFullHead) {
  const json& b = batch("right_padded");
  const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
  const at::Tensor valid = ids_tensor(b["next_token_logprobs_valid"]).to(at::kFloat);
  const int64_t T = ids.size(1);
  // The "responses": each row's valid positions from the middle on (a prompt, then the part trained on).
  const at::Tensor only_at = valid * (at::arange(T - 1).view({1, T - 1}) >= (T - 1) / 2).to(at::kFloat);
  ASSERT_GT(only_at.sum().item<double>(), 4.0);
  ASSERT_LT(only_at.sum().item<double>(), valid.sum().item<double>());
  const at::Tensor want = ref("right_padded.next_token_logprobs");
  LogprobOptions o;
  o.with_entropy = true;
  o.chunk = 3;
  const auto [full, g_full] = loss_gradients(ids, mask, o, only_at);
  o.only_at = only_at;
  const auto [part, g_part] = loss_gradients(ids, mask, o, only_at);
  EXPECT_LE(((part.logprobs - want).abs() * only_at).max().item<double>(), decoder_bounds(cfg_, w_, T).logprobs);
  // The trunk runs the same kernels on the same shapes in both passes; only the head's rows are gathered before
  // (part) or after (full) its matmul, which a BLAS may block differently: the head bounds apply.
  const DecoderBounds head = decoder_head_bounds(cfg_, w_);
  EXPECT_LE(((part.logprobs - full.logprobs).abs() * only_at).max().item<double>(), head.logprobs);
  EXPECT_LE(((part.entropy - full.entropy).abs() * only_at).max().item<double>(),
            entropy_error(head.logprobs, head.vocab, (full.entropy * only_at).max().item<double>()));
  EXPECT_EQ((part.logprobs * (1 - only_at)).abs().max().item<double>(), 0.0);  // nothing outside the selection
  EXPECT_EQ((part.entropy * (1 - only_at)).abs().max().item<double>(), 0.0);
  expect_same_gradients(g_part, g_full, T, ids.numel());  // the head's difference runs back through the trunk
  // An empty selection is all zeros, not an error.
  at::NoGradGuard no_grad;
  LogprobOptions none;
  none.only_at = at::zeros_like(valid);
  EXPECT_EQ(token_logprobs(cfg_, w_, ids, mask, none).logprobs.abs().sum().item<double>(), 0.0);
}

// Activation checkpointing (each layer recomputed in backward) gives the same log-probs and the same gradients
// as the stored-activation path, including through the response-only head and the entropy.
TEST_P(ModelFixture, ActivationCheckpointingGivesTheSameGradients) {
  const json& b = batch("right_padded");
  const at::Tensor ids = ids_tensor(b["input_ids"]), mask = ids_tensor(b["attention_mask"]);
  const at::Tensor valid = ids_tensor(b["next_token_logprobs_valid"]).to(at::kFloat);
  LogprobOptions o;
  o.with_entropy = true;
  o.chunk = 5;
  o.only_at = valid;
  const auto [stored, g_stored] = loss_gradients(ids, mask, o, valid);
  o.checkpoint_layers = true;
  const auto [ckpt, g_ckpt] = loss_gradients(ids, mask, o, valid);
  const at::Tensor lp_stored = stored.logprobs.detach(), lp_ckpt = ckpt.logprobs.detach();
  // Recomputing a layer runs the same kernels on the same shapes and inputs as the first forward pass, so the
  // values, and the gradients built from them in the same order, are bit-identical.
  EXPECT_TRUE(at::equal(lp_ckpt, lp_stored));
  EXPECT_LE(((lp_ckpt - ref("right_padded.next_token_logprobs")).abs() * valid).max().item<double>(),
            decoder_bounds(cfg_, w_, ids.size(1)).logprobs);
  for (std::size_t k = 0; k < g_ckpt.size(); ++k) EXPECT_TRUE(at::equal(g_ckpt[k], g_stored[k])) << k;
  EXPECT_GT(largest(g_stored), 0.0);
}

// Prefix-shared packing: three targets after one prompt and one after another, packed into two rows, give the
// expanded rows' log-probs, entropy and gradients, and the reference log-probs where a target is the fixture
// row's own continuation.
TEST_P(ModelFixture, PrefixPackedRowsMatchTheExpandedRows) {
  const json& b = batch("full_len40");
  const at::Tensor ids = ids_tensor(b["input_ids"]);
  const auto slice = [&](int64_t row, int64_t from, int64_t to) { return testing::ids_slice(ids, row, from, to); };
  const std::vector<int64_t> prompt0 = slice(0, 0, 24), prompt1 = slice(1, 0, 12);
  const std::vector<int64_t> t0 = slice(0, 24, 40), t1 = slice(1, 30, 40), t2 = slice(0, 24, 27),
                             u0 = slice(1, 12, 21);
  // The expanded rows, in an order that differs from the packing's: prompt1+u0, prompt0+t0, prompt0+t1,
  // prompt0+t2.
  const std::vector<std::pair<const std::vector<int64_t>*, const std::vector<int64_t>*>> seqs = {
      {&prompt1, &u0}, {&prompt0, &t0}, {&prompt0, &t1}, {&prompt0, &t2}};
  const int64_t B = 4, L = 40;
  at::Tensor eids = at::zeros({B, L}, at::kLong), emask = at::zeros({B, L}, at::kLong);
  at::Tensor sel = at::zeros({B, L - 1}, at::kFloat);
  for (int64_t r = 0; r < B; ++r) {
    const auto& [p, t] = seqs[static_cast<std::size_t>(r)];
    std::vector<int64_t> all(*p);
    all.insert(all.end(), t->begin(), t->end());
    for (std::size_t k = 0; k < all.size(); ++k) {
      eids[r][static_cast<int64_t>(k)] = all[k];
      emask[r][static_cast<int64_t>(k)] = 1;
      if (k >= p->size()) sel[r][static_cast<int64_t>(k) - 1] = 1;
    }
  }
  LogprobOptions o;
  o.with_entropy = true;
  o.chunk = 7;
  o.only_at = sel;
  const auto [expanded, g_expanded] = loss_gradients(eids, emask, o, sel);
  const PrefixPacked packed =
      prefix_pack({{&prompt0, {&t0, &t1, &t2}, {1, 2, 3}}, {&prompt1, {&u0}, {0}}}, B, L - 1);
  EXPECT_EQ(packed.ids.size(0), 2);
  EXPECT_EQ(packed.ids.size(1), 24 + 16 + 10 + 3);  // the prompt once, not three times
  EXPECT_EQ(packed.source.size(0), sel.sum().item<int64_t>());
  o.only_at = at::Tensor();
  const auto [shared, g_shared] = loss_gradients(eids, emask, o, sel, &packed);
  // Packed rows are other shapes with other attention patterns end to end: two whole forward passes, over the
  // longer of the two row lengths.
  const int64_t T = std::max<int64_t>(L, packed.ids.size(1));
  const DecoderBounds bound = decoder_bounds(cfg_, w_, T);
  EXPECT_LE((shared.logprobs - expanded.logprobs).abs().max().item<double>(), bound.logprobs);
  EXPECT_LE((shared.entropy - expanded.entropy).abs().max().item<double>(),
            entropy_error(bound.logprobs, bound.vocab, expanded.entropy.max().item<double>()));
  EXPECT_EQ((shared.logprobs * (1 - sel)).abs().max().item<double>(), 0.0);
  expect_same_gradients(g_shared, g_expanded, T, B * L);
  // t0 and u0 continue their fixture rows: the reference's next-token log-probs at those positions.
  const at::Tensor want = ref("full_len40.next_token_logprobs");
  EXPECT_LE((shared.logprobs[1].narrow(0, 23, 16) - want[0].narrow(0, 23, 16)).abs().max().item<double>(),
            bound.logprobs);
  EXPECT_LE((shared.logprobs[0].narrow(0, 11, 9) - want[1].narrow(0, 11, 9)).abs().max().item<double>(),
            bound.logprobs);
  // With activation checkpointing too: the same kernels on the same packed rows, recomputed (bit-identical).
  o.checkpoint_layers = true;
  const auto [ckpt, g_ckpt] = loss_gradients(eids, emask, o, sel, &packed);
  EXPECT_TRUE(at::equal(ckpt.logprobs, shared.logprobs));
  for (std::size_t k = 0; k < g_ckpt.size(); ++k) EXPECT_TRUE(at::equal(g_ckpt[k], g_shared[k])) << k;
}

}  // namespace
}  // namespace toolgrpo::model
