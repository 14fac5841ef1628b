// Damaged model inputs give clear errors naming the file and the item: config.json mistakes (several at once),
// truncated or inconsistent safetensors, missing tensors and shape mismatches; the writer round-trips.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/config.hpp"
#include "model/decoder.hpp"
#include "model/safetensors.hpp"

namespace fs = std::filesystem;

namespace toolgrpo::model {
namespace {

std::string fixture_model(const char* name) {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  return std::string(env ? env : TOOLGRPO_DEFAULT_SHARED_DATA) + "/fixtures/models/" + name;
}

fs::path scratch(const std::string& sub) {
  const fs::path d = fs::temp_directory_path() / ("toolgrpo_model_" + std::to_string(::getpid())) / sub;
  fs::create_directories(d);
  return d;
}

std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

bool has(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

TEST(ModelConfigErrors, SeveralProblemsReportedTogether) {
  const std::string msg = error_of([] {
    model_config_parse(R"({"architectures": ["GPT2LMHeadModel"], "hidden_size": "64", "num_attention_heads": 4,
                           "num_key_value_heads": 3, "intermediate_size": 128, "vocab_size": 10})",
                       "dir/config.json");
  });
  EXPECT_TRUE(has(msg, "dir/config.json")) << msg;
  EXPECT_TRUE(has(msg, "unsupported architecture \"GPT2LMHeadModel\"")) << msg;
  EXPECT_TRUE(has(msg, "\"hidden_size\"")) << msg;
  EXPECT_TRUE(has(msg, "missing field \"num_hidden_layers\"")) << msg;
  EXPECT_TRUE(has(msg, "must divide")) << msg;
  EXPECT_TRUE(has(error_of([] { model_config_parse("{not json", "c.json"); }), "c.json: not valid JSON"));
  EXPECT_TRUE(has(error_of([] { model_config_load("/no/such/model"); }), "/no/such/model/config.json"));
}

TEST(ModelConfig, ReadsEveryFixtureAndRoundTrips) {
  const ModelConfig q3 = model_config_load(fixture_model("qwen3-tied"));
  EXPECT_EQ(q3.arch, Arch::Qwen3);
  EXPECT_EQ(q3.head_dim, 32);
  EXPECT_TRUE(q3.qk_norm && q3.tie_word_embeddings && !q3.qkv_bias);
  const ModelConfig l31 = model_config_load(fixture_model("llama31-rope-scaled"));
  EXPECT_TRUE(l31.rope_scaling.llama3);
  EXPECT_EQ(l31.rope_scaling.factor, 8.0);
  const ModelConfig q2 = model_config_load(fixture_model("qwen2-untied"));
  EXPECT_TRUE(q2.qkv_bias && !q2.o_bias && !q2.tie_word_embeddings);
  const ModelConfig back = model_config_parse(model_config_to_json(l31), "roundtrip");
  EXPECT_EQ(back.rope_scaling.low_freq_factor, l31.rope_scaling.low_freq_factor);
  EXPECT_EQ(back.num_kv_heads, l31.num_kv_heads);
  EXPECT_EQ(back.eos_token_ids, l31.eos_token_ids);
}

// A copy of a fixture model whose model.safetensors bytes are replaced by `mutate(bytes)`.
std::string damaged_copy(const std::string& sub, const std::function<void(std::string&)>& mutate) {
  const fs::path d = scratch(sub);
  const std::string src = fixture_model("qwen2-tied");
  fs::copy_file(src + "/config.json", d / "config.json", fs::copy_options::overwrite_existing);
  std::string bytes = read_all(src + "/model.safetensors");
  mutate(bytes);
  std::ofstream(d / "model.safetensors", std::ios::binary) << bytes;
  return d.string();
}

std::string load_error(const std::string& dir) {
  return error_of([&] {
    const ModelConfig c = model_config_load(dir);
    decoder_weights_load(c, dir, at::kFloat, at::kCPU);
  });
}

TEST(SafetensorsErrors, DamagedFilesNameFileAndTensor) {
  const std::string truncated = damaged_copy("truncated", [](std::string& b) { b.resize(b.size() / 2); });
  std::string msg = load_error(truncated);
  EXPECT_TRUE(has(msg, truncated + "/model.safetensors")) << msg;
  EXPECT_TRUE(has(msg, "outside the data section")) << msg;

  EXPECT_TRUE(has(load_error(damaged_copy("tiny", [](std::string& b) { b.resize(5); })), "truncated"));
  EXPECT_TRUE(has(load_error(damaged_copy("hugeheader", [](std::string& b) { b[7] = 0x7f; })), "header size"));

  // Wrong offsets: shift one tensor's end so that its byte count disagrees with its shape.
  msg = load_error(damaged_copy("offsets", [](std::string& b) {
    const std::size_t at = b.find("\"model.norm.weight\"");
    const std::size_t off = b.find("data_offsets\":[", at) + 15;
    b[off] = b[off] == '9' ? '8' : '9';
  }));
  EXPECT_TRUE(has(msg, "model.norm.weight")) << msg;

  // dtype mismatch: a float tensor declared I64 (same byte count is impossible, so the size check names it).
  msg = load_error(damaged_copy("dtype", [](std::string& b) {
    const std::size_t at = b.find("\"model.norm.weight\"");
    const std::size_t d = b.find("\"F32\"", at);
    b.replace(d, 5, "\"I32\"");
  }));
  EXPECT_TRUE(has(msg, "model.norm.weight")) << msg;
  EXPECT_TRUE(has(msg, "I32")) << msg;

  // Missing tensor: rename it in the header.
  msg = load_error(damaged_copy("missing", [](std::string& b) {
    const std::size_t at = b.find("\"model.norm.weight\"");
    b.replace(at, 19, "\"model.nrom.weight\"");
  }));
  EXPECT_TRUE(has(msg, "missing tensor \"model.norm.weight\"")) << msg;
}

// A copy of the fixture whose safetensors header has model.norm.weight's shape replaced (the header rewritten
// with its new length; the data section unchanged).
std::string reshaped_copy(const std::string& sub, const nlohmann::json& shape) {
  return damaged_copy(sub, [&](std::string& b) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
    nlohmann::json header = nlohmann::json::parse(b.substr(8, n));
    header["model.norm.weight"]["shape"] = shape;
    const std::string text = header.dump();
    std::string len(8, '\0');
    for (int i = 0; i < 8; ++i) len[static_cast<std::size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
    b = len + text + b.substr(8 + n);
  });
}

// Shapes whose element count wraps around in 64-bit arithmetic: [4, 2^62 + h/4] multiplies out to h (mod 2^64),
// the tensor's real element count, and [2^40, 2^40] to 0. Both are refused by the loader's own check, naming the
// file, the tensor and the shape, before any allocation.
TEST(SafetensorsErrors, ShapesThatOverflowAreRefused) {
  const ModelConfig c = model_config_load(fixture_model("qwen2-tied"));
  const uint64_t h = static_cast<uint64_t>(c.hidden_size);
  ASSERT_EQ(h % 4, 0u);
  const uint64_t wrap = (uint64_t{1} << 62) + h / 4;
  ASSERT_EQ(uint64_t{4} * wrap, h);  // the wrapped product equals the honest element count
  for (const nlohmann::json& shape : {nlohmann::json::array({4, wrap}),
                                      nlohmann::json::array({uint64_t{1} << 40, uint64_t{1} << 40})}) {
    const std::string dir = reshaped_copy("overflow", shape);
    const std::string msg = load_error(dir);
    EXPECT_TRUE(has(msg, dir + "/model.safetensors")) << msg;
    EXPECT_TRUE(has(msg, "tensor \"model.norm.weight\"")) << msg;
    EXPECT_TRUE(has(msg, "overflows 64 bits")) << msg;
    EXPECT_TRUE(has(msg, std::to_string(shape[1].get<uint64_t>()))) << msg;
  }
  // The honest shape, written the same way, still loads.
  EXPECT_EQ(load_error(reshaped_copy("honest", nlohmann::json::array({h}))), "(no error)");
}

TEST(SafetensorsErrors, ShapeMismatchAgainstConfig) {
  const fs::path d = scratch("shape");
  const std::string src = fixture_model("qwen2-tied");
  std::string cfg = read_all(src + "/config.json");
  cfg.replace(cfg.find("\"intermediate_size\": 128"), 24, "\"intermediate_size\": 256");
  std::ofstream(d / "config.json") << cfg;
  fs::copy_file(src + "/model.safetensors", d / "model.safetensors", fs::copy_options::overwrite_existing);
  const std::string msg = load_error(d.string());
  EXPECT_TRUE(has(msg, "gate_proj.weight\" has shape [128, 64], config.json implies [256, 64]")) << msg;
  EXPECT_TRUE(has(error_of([] { SafetensorsStore("/no/such/dir"); }), "/no/such/dir")) << msg;
}

TEST(Safetensors, WriterRoundTripsAndConverts) {
  const fs::path p = scratch("write") / "t.safetensors";
  const at::Tensor a = at::arange(6, at::kFloat).view({2, 3});
  const at::Tensor b = at::tensor(std::vector<int64_t>{7, -8}, at::kLong);
  safetensors_save(p.string(), {{"b", b}, {"a", a.to(at::kBFloat16)}});
  const SafetensorsFile f(p.string());
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.entries().at("a").dtype, "BF16");
  EXPECT_TRUE(f.load("a", at::kFloat).equal(a));  // small integers are exact in bfloat16
  EXPECT_TRUE(f.load("b").equal(b));
  EXPECT_TRUE(has(error_of([&] { f.load("b", at::kFloat); }), "cannot be converted"));
  EXPECT_TRUE(has(error_of([&] { f.load("zz"); }), "no tensor \"zz\""));
}

}  // namespace
}  // namespace toolgrpo::model

namespace toolgrpo::model {
namespace {

// A model split into two shards with model.safetensors.index.json loads to the same weights and logits; an
// index naming a tensor its shard lacks is an error naming both.
TEST(Safetensors, ShardedDirectory) {
  const std::string src = fixture_model("llama3");
  const ModelConfig cfg = model_config_load(src);
  const DecoderWeights w = decoder_weights_load(cfg, src, at::kFloat, at::kCPU);
  const auto params = decoder_named_parameters(cfg, w);
  const fs::path d = scratch("sharded");
  fs::copy_file(src + "/config.json", d / "config.json", fs::copy_options::overwrite_existing);
  std::vector<std::pair<std::string, at::Tensor>> a(params.begin(), params.begin() + params.size() / 2),
      b(params.begin() + params.size() / 2, params.end());
  safetensors_save((d / "model-00001-of-00002.safetensors").string(), a);
  safetensors_save((d / "model-00002-of-00002.safetensors").string(), b);
  nlohmann::json index;
  for (const auto& [n, t] : a) index["weight_map"][n] = "model-00001-of-00002.safetensors";
  for (const auto& [n, t] : b) index["weight_map"][n] = "model-00002-of-00002.safetensors";
  std::ofstream(d / "model.safetensors.index.json") << index.dump();
  const DecoderWeights w2 = decoder_weights_load(cfg, d.string(), at::kFloat, at::kCPU);
  const at::Tensor ids = at::arange(3, 20, at::kLong).view({1, 17});
  at::NoGradGuard no_grad;
  EXPECT_TRUE(decoder_forward(cfg, w, ids, at::ones_like(ids)).logits.equal(
      decoder_forward(cfg, w2, ids, at::ones_like(ids)).logits));
  index["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors";
  std::ofstream(d / "model.safetensors.index.json") << index.dump();
  const std::string msg = error_of([&] { SafetensorsStore s(d.string()); });
  EXPECT_TRUE(has(msg, "model-00001-of-00002.safetensors")) << msg;
  EXPECT_TRUE(has(msg, "model.norm.weight")) << msg;
}

}  // namespace
}  // namespace toolgrpo::model
