// One of the seven tiny Hugging Face models of ../shared/data/fixtures/models with its reference metadata, as a
// parameterised GoogleTest fixture: the model, its batches, and the log-probs and parameter gradients of a loss
// on them, which the fixture, attention-kernel and packing tests compare.
#pragma once

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model/config.hpp"
#include "model/decoder.hpp"
#include "tests/model/shared_data.hpp"

namespace toolgrpo::model::testing {

// A JSON list of equal-length rows of token ids as a (rows, length) int64 tensor.
inline at::Tensor ids_tensor(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows)
    for (const auto& v : r) flat.push_back(v.get<int64_t>());
  const int64_t b = static_cast<int64_t>(rows.size());
  return at::tensor(flat, at::kLong).view({b, static_cast<int64_t>(flat.size()) / b});
}

// Tokens [from, to) of row `row` of an (rows, length) id tensor, e.g. a prompt or a continuation cut from a
// fixture batch for the packing tests.
inline std::vector<int64_t> ids_slice(const at::Tensor& ids, int64_t row, int64_t from, int64_t to) {
  const at::Tensor r = ids[row].narrow(0, from, to - from).contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

class FixtureModel : public ::testing::TestWithParam<const char*> {
 protected:
  // Loads the model named by the test's parameter and its fixtures.json.
  void load() {
    dir_ = shared() + "/fixtures/models/" + GetParam();
    std::ifstream in(dir_ + "/fixtures.json");
    ASSERT_TRUE(in) << dir_;
    in >> meta_;
    cfg_ = model_config_load(dir_);
    w_ = decoder_weights_load(cfg_, dir_, at::kFloat, at::kCPU);
  }

  const nlohmann::json& batch(const std::string& name) const {
    for (const auto& b : meta_["batches"])
      if (b["name"] == name) return b;
    throw std::runtime_error("no batch " + name);
  }

  // The log-probs (and entropy) of a batch under `o`, and every parameter's gradient of the loss
  // -sum(log-probs * m) + 0.1 sum(entropy * m). With `packed`, the values come from its packed rows instead of
  // (ids, mask).
  std::pair<TokenLogprobs, std::vector<at::Tensor>> loss_gradients(const at::Tensor& ids, const at::Tensor& mask,
                                                                   const LogprobOptions& o, const at::Tensor& m,
                                                                   const PrefixPacked* packed = nullptr) {
    const auto params = decoder_named_parameters(cfg_, w_);
    for (const auto& [n, t] : params) {
      t.set_requires_grad(true);
      if (t.grad().defined()) t.mutable_grad().zero_();
    }
    const TokenLogprobs lp = packed != nullptr ? token_logprobs_packed(cfg_, w_, *packed, o)
                                               : token_logprobs(cfg_, w_, ids, mask, o);
    (-(lp.logprobs * m).sum() + 0.1 * (lp.entropy * m).sum()).backward();
    std::vector<at::Tensor> g;
    for (const auto& [n, t] : params) g.push_back(t.grad().clone());
    return {lp, g};
  }

  std::string dir_;
  nlohmann::json meta_;
  ModelConfig cfg_;
  DecoderWeights w_;
};

// The seven fixture models, for INSTANTIATE_TEST_SUITE_P.
inline const char* const kFixtureModels[] = {"qwen2-tied",  "qwen2-untied", "llama3",      "llama31-rope-scaled",
                                             "llama32-tied-rope-scaled", "qwen3-tied", "qwen3-untied"};

}  // namespace toolgrpo::model::testing
