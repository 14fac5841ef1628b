// The KV-cache engine against the reference path: greedy generations token-exact with the fixtures (single and
// left-padded batches), prefix-shared groups equal to prompts expanded G times under the same seeds, samples
// independent of batch composition, finished samples leaving the batch, EOS handling, top-k 1 == greedy, and progress reports that add up.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/config.hpp"
#include "model/decoder.hpp"
#include "model/generate.hpp"
#include "model/safetensors.hpp"
#include "tests/model/decoder_bounds.hpp"
#include "tests/model/fixture_model.hpp"

namespace toolgrpo::model {
namespace {

using nlohmann::json;
using namespace toolgrpo::testing;  // the fp32 error bounds (tests/model/decoder_bounds.hpp)

// Generated tokens are compared exactly. Two fp32 paths (the reference's, ours; cached or recomputed; shared or
// expanded prefixes) pick different tokens only where the two best logits are closer than the paths' logit
// error bound (decoder_bounds), or, when sampling, where a uniform draw falls within that bound of a boundary of
// the cumulative distribution (probability about V times the bound per draw, under 1e-3 over all draws here).
// GreedyWithCacheMatchesReference asserts the first premise on the reference's own step logits.


std::vector<int64_t> row(const at::Tensor& t, int64_t r, int64_t n) {
  const at::Tensor x = t[r].narrow(0, 0, n).contiguous();
  return std::vector<int64_t>(x.data_ptr<int64_t>(), x.data_ptr<int64_t>() + n);
}

class EngineFixture : public testing::FixtureModel {
 protected:
  void SetUp() override { load(); }
  std::vector<std::vector<int64_t>> prompts() const {
    std::vector<std::vector<int64_t>> p;
    for (const auto& g : meta_["generation"]) p.push_back(g["prompt_ids"].get<std::vector<int64_t>>());
    return p;
  }
};

TEST_P(EngineFixture, GreedyWithCacheMatchesReference) {
  // All three prompts in one left-padded batch, each sampled twice (a shared group of 2).
  GenerationRequest req;
  req.prompts = prompts();
  req.group_size = 2;
  req.sampling.greedy = true;
  req.sampling.max_new_tokens = 16;
  const GenerationResult r = generate(cfg_, w_, req);
  const SafetensorsFile ref(dir_ + "/fixtures.safetensors");
  for (std::size_t p = 0; p < req.prompts.size(); ++p) {
    const auto want = meta_["generation"][p]["new_ids"].get<std::vector<int64_t>>();
    for (int64_t s = 0; s < 2; ++s) {
      EXPECT_EQ(row(r.tokens, static_cast<int64_t>(p) * 2 + s, 16), want) << "prompt " << p;
      EXPECT_EQ(r.lengths[p * 2 + s], 16);
      EXPECT_EQ(r.finish[p * 2 + s], FinishReason::Length);
    }
    // Log-probs of the chosen tokens agree with the reference step logits.
    const at::Tensor step_logits = ref.load("gen" + std::to_string(p) + ".step_logits");
    const at::Tensor ids = at::tensor(want, at::kLong).unsqueeze(-1);
    const at::Tensor want_logp = at::log_softmax(step_logits, -1).gather(-1, ids).squeeze(-1);
    const DecoderBounds bound = decoder_bounds(cfg_, w_, static_cast<int64_t>(req.prompts[p].size()) + 16);
    EXPECT_LE((r.logprobs[static_cast<int64_t>(p) * 2] - want_logp).abs().max().item<double>(), bound.logprobs);
    // The premise of comparing tokens exactly: at every step the best logit leads the second by more than two
    // paths can disagree.
    const at::Tensor top2 = std::get<0>(step_logits.topk(2, -1));
    EXPECT_GT((top2.select(-1, 0) - top2.select(-1, 1)).min().item<double>(), 2 * bound.logits) << "prompt " << p;
  }
}

TEST_P(EngineFixture, PrefixSharingEqualsExpandedPrompts) {
  GenerationRequest req;
  req.prompts = prompts();
  req.group_size = 4;
  req.seed = 1234;
  req.step = 7;
  req.sampling.temperature = 1.0;
  req.sampling.top_p = 0.95;
  req.sampling.max_new_tokens = 12;
  const GenerationResult shared = generate(cfg_, w_, req);
  req.share_prefix = false;
  const GenerationResult expanded = generate(cfg_, w_, req);
  EXPECT_TRUE(shared.tokens.equal(expanded.tokens));
  // Shared and expanded prefills are other shapes end to end: two whole forward passes over prompt + 12 tokens.
  int64_t longest = 0;
  for (const auto& p : req.prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  EXPECT_LE((shared.logprobs - expanded.logprobs).abs().max().item<double>(),
            decoder_bounds(cfg_, w_, longest + 12).logprobs);
  // The 4 samples of a group differ (different seeds), so sharing did not collapse them.
  EXPECT_FALSE(shared.tokens[0].equal(shared.tokens[1]) && shared.tokens[1].equal(shared.tokens[2]));
  // Fewer prompt tokens went through the model.
  EXPECT_EQ(shared.prefill_tokens * 4, expanded.prefill_tokens);
}

TEST_P(EngineFixture, SamplesDoNotDependOnTheBatch) {
  GenerationRequest all;
  all.prompts = prompts();
  all.group_size = 2;
  all.seed = 99;
  all.sampling.max_new_tokens = 10;
  const GenerationResult batch = generate(cfg_, w_, all);
  GenerationRequest one = all;
  one.prompts = {all.prompts[2]};
  one.first_prompt_index = 2;  // same global prompt index, now alone in its batch
  const GenerationResult alone = generate(cfg_, w_, one);
  EXPECT_TRUE(alone.tokens.equal(batch.tokens.narrow(0, 4, 2)));
  one.seed = 100;
  EXPECT_FALSE(generate(cfg_, w_, one).tokens.equal(alone.tokens));
  // Split over two CPU workers: the same samples.
  GenerationRequest split = all;
  split.workers = 2;
  const GenerationResult two = generate(cfg_, w_, split);
  EXPECT_TRUE(two.tokens.equal(batch.tokens));
  EXPECT_EQ(two.lengths, batch.lengths);
}

TEST_P(EngineFixture, ProgressAddsUpToTheSampleTokenBudget) {
  GenerationRequest req;
  req.prompts = prompts();
  req.group_size = 2;
  req.sampling.greedy = true;
  req.sampling.max_new_tokens = 16;
  const auto want = meta_["generation"][0]["new_ids"].get<std::vector<int64_t>>();
  req.sampling.eos_token_ids = {want[2]};  // prompt 0's samples end early: the rest of their budget counts then
  const int64_t budget = static_cast<int64_t>(req.prompts.size()) * 2 * 16;
  std::atomic<int64_t> sum{0};
  std::atomic<int> calls{0};
  req.on_progress = [&](int64_t n) {
    EXPECT_GT(n, 0);
    sum += n;
    ++calls;
  };
  const GenerationResult r = generate(cfg_, w_, req);
  EXPECT_LT(r.lengths[0], 16);
  EXPECT_EQ(sum.load(), budget);
  EXPECT_GT(calls.load(), 2) << "reported as decoding advances, not once at the end";
  sum = 0;
  req.workers = 2;  // from two threads
  generate(cfg_, w_, req);
  EXPECT_EQ(sum.load(), budget);
}

TEST_P(EngineFixture, EosAndTopK) {
  GenerationRequest req;
  req.prompts = prompts();
  req.sampling.greedy = true;
  req.sampling.max_new_tokens = 16;
  const auto want = meta_["generation"][0]["new_ids"].get<std::vector<int64_t>>();
  req.sampling.eos_token_ids = {want[2]};  // the third greedy token of prompt 0 ends it
  req.sampling.pad_token_id = -1;
  const GenerationResult r = generate(cfg_, w_, req);
  std::size_t first = 0;
  while (want[first] != want[2]) ++first;
  EXPECT_EQ(r.lengths[0], static_cast<int64_t>(first + 1));
  EXPECT_EQ(r.finish[0], FinishReason::Eos);
  EXPECT_EQ(r.mask[0].sum().item<int64_t>(), static_cast<int64_t>(first + 1));
  EXPECT_EQ(r.tokens[0][static_cast<int64_t>(first) + 1].item<int64_t>(), -1);
  // A stop string ends a row once its decoded text contains it (decode here: ids as comma-separated text).
  GenerationRequest stop = req;
  stop.sampling.eos_token_ids.clear();
  stop.sampling.decode = [](const std::vector<int64_t>& ids) {
    std::string s;
    for (int64_t id : ids) s += std::to_string(id) + ",";
    return s;
  };
  stop.sampling.stop_strings = {std::to_string(want[0]) + "," + std::to_string(want[1]) + ","};
  const GenerationResult sr = generate(cfg_, w_, stop);
  EXPECT_EQ(sr.finish[0], FinishReason::Stop);
  EXPECT_EQ(sr.lengths[0], 2);
  GenerationRequest k1 = req;
  k1.sampling.eos_token_ids.clear();
  k1.sampling.greedy = false;
  k1.sampling.top_k = 1;
  GenerationRequest greedy = k1;
  greedy.sampling.greedy = true;
  EXPECT_TRUE(generate(cfg_, w_, k1).tokens.equal(generate(cfg_, w_, greedy).tokens));
}

TEST_P(EngineFixture, FinishedSamplesLeavingTheBatchChangeNoToken) {
  // Samples that end at different steps: a token of each row, its 3rd to 9th sampled one (of a run without an end) becomes an
  // end-of-sequence token, so rows and whole groups finish early at several steps while others run on. Removing
  // finished rows from the batch changes the shapes of every later matrix product, so the premise is the one of
  // the comparisons above (tokens equal unless two logits or a draw sit within the paths' bound).
  for (const bool share : {true, false})
    for (const double top_p : {0.0, 1.0, 0.9}) {  // 0: greedy
      const bool greedy = top_p == 0.0;
      GenerationRequest req;
      req.prompts = prompts();
      req.group_size = 3;
      req.seed = 4321;
      req.share_prefix = share;
      req.sampling.greedy = greedy;
      if (!greedy) req.sampling.top_p = top_p;
      req.sampling.max_new_tokens = 14;
      req.compact_finished = false;
      const GenerationResult free_run = generate(cfg_, w_, req);
      for (int64_t r = 0; r < free_run.tokens.size(0); ++r)
        req.sampling.eos_token_ids.push_back(free_run.tokens[r][2 + (r * 5) % 7].item<int64_t>());
      const GenerationResult kept = generate(cfg_, w_, req);
      req.compact_finished = true;
      const GenerationResult compact = generate(cfg_, w_, req);
      const std::string what = std::string(share ? "shared" : "expanded") +
                               (greedy ? ", greedy" : ", sampled at top_p " + std::to_string(top_p));
      EXPECT_TRUE(compact.tokens.equal(kept.tokens)) << what;
      EXPECT_TRUE(compact.mask.equal(kept.mask)) << what;
      EXPECT_EQ(compact.lengths, kept.lengths) << what;
      EXPECT_EQ(compact.finish, kept.finish) << what;
      int64_t longest = 0, shortest = 14;
      for (int64_t len : kept.lengths) longest = std::max(longest, len), shortest = std::min(shortest, len);
      EXPECT_LT(shortest, longest) << what << ": the samples must end at different steps for the test to mean something";
      EXPECT_LT(shortest, 10) << what;
      EXPECT_EQ(kept.rows_removed, 0) << what;
      EXPECT_GT(compact.rows_removed, 0) << what << ": finished rows must have left the batch";
      int64_t prompt_longest = 0;
      for (const auto& p : req.prompts) prompt_longest = std::max<int64_t>(prompt_longest, static_cast<int64_t>(p.size()));
      EXPECT_LE((compact.logprobs - kept.logprobs).abs().max().item<double>(),
                decoder_bounds(cfg_, w_, prompt_longest + 14).logprobs) << what;
    }
}

INSTANTIATE_TEST_SUITE_P(SevenModels, EngineFixture, ::testing::ValuesIn(testing::kFixtureModels));

}  // namespace
}  // namespace toolgrpo::model
