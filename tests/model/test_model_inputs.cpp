// Damaged model inputs give clear errors naming the file and the item: config.json mistakes (several at once),
// truncated or inconsistent safetensors, missing tensors and shape mismatches; the writer round-trips.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <fcntl.h>
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
#include "model/safetensors_header.hpp"
#include "common/input_error.hpp"

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

// Values a hostile config.json may hold that once escaped as library exceptions, a float-to-int conversion out
// of range or signed overflow (tests/fuzz/regressions/model_config holds them for fuzz_model_config): each is a
// problem in the one InputError naming the file and the field.
TEST(ModelConfigErrors, HostileValuesAreProblems) {
  const std::string base = R"("architectures": ["Qwen2ForCausalLM"], "vocab_size": 100, "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2)";
  const auto err = [&](const std::string& extra) {
    return error_of([&] {
      try {
        model_config_parse("{" + base + extra + "}", "m/config.json");
      } catch (const common::InputError& e) {
        throw std::runtime_error(std::string("InputError: ") + e.what());
      }
    });
  };
  EXPECT_EQ(err(""), "(no error)");
  std::string msg = err(R"(, "rope_scaling": 5)");
  EXPECT_TRUE(has(msg, "InputError: m/config.json: invalid model config")) << msg;
  EXPECT_TRUE(has(msg, "field \"rope_scaling\": expected an object or null, got 5")) << msg;
  msg = err(R"(, "rope_scaling": {"rope_type": "llama3", "factor": "x", "original_max_position_embeddings": 1e300})");
  EXPECT_TRUE(has(msg, "rope_scaling: field \"factor\": expected a number")) << msg;
  EXPECT_TRUE(has(msg, "rope_scaling: field \"original_max_position_embeddings\": expected an integer")) << msg;
  msg = err(R"(, "head_dim": 4611686018427387904)");
  EXPECT_TRUE(has(msg, "field \"head_dim\" must be at most 2147483647")) << msg;
  msg = err(R"(, "max_position_embeddings": -1)");
  EXPECT_TRUE(has(msg, "\"max_position_embeddings\" must be positive")) << msg;
  // Every size within the bound, but their products past 2^63: the parameter count cannot be computed.
  msg = error_of([] {
    model_config_parse(R"({"architectures": ["Qwen2ForCausalLM"], "vocab_size": 2147483647, "hidden_size": 2147483646,
        "intermediate_size": 2147483647, "num_hidden_layers": 2147483647, "num_attention_heads": 2,
        "num_key_value_heads": 2})", "m/config.json");
  });
  EXPECT_TRUE(has(msg, "parameter count these sizes imply does not fit in 64 bits")) << msg;
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

// A safetensors file image: the 8-byte little-endian header size, the header's JSON, `data` bytes of zeros.
std::string image(const nlohmann::json& header, std::size_t data) {
  const std::string text = header.dump();
  std::string b(8, '\0');
  for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  return b + text + std::string(data, '\0');
}

std::string parse_error(const std::string& bytes, const std::string& path) {
  return error_of([&] {
    try {
      safetensors_parse(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), path);
    } catch (const common::InputError& e) {
      throw std::runtime_error(std::string("InputError: ") + e.what());
    }
  });
}

// The issue's two shapes for model.embed_tokens.weight, 20,480 F32 values (81,920 bytes): [4, 2^62 + 5120]
// multiplies out to 20,480 in wrapping 64-bit arithmetic and [2^40, 2^40] to 0. The header parser refuses both
// as common::InputError naming the file and the tensor; the honest shape passes.
TEST(SafetensorsHeader, ShapesThatOverflowAreInputErrors) {
  const uint64_t wrap = (uint64_t{1} << 62) + 5120;
  ASSERT_EQ(uint64_t{4} * wrap, uint64_t{20480});
  for (const nlohmann::json& shape :
       {nlohmann::json::array({4, wrap}), nlohmann::json::array({uint64_t{1} << 40, uint64_t{1} << 40})}) {
    const nlohmann::json header = {
        {"model.embed_tokens.weight", {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {0, 81920}}}}};
    const std::string msg = parse_error(image(header, 81920), "hub/model.safetensors");
    EXPECT_TRUE(has(msg, "InputError: hub/model.safetensors: tensor \"model.embed_tokens.weight\": shape [")) << msg;
    EXPECT_TRUE(has(msg, "overflows 64 bits")) << msg;
  }
  const nlohmann::json honest = {
      {"model.embed_tokens.weight", {{"dtype", "F32"}, {"shape", {20, 1024}}, {"data_offsets", {0, 81920}}}}};
  const std::string bytes = image(honest, 81920);
  const SafetensorsLayout l =
      safetensors_parse(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "hub/model.safetensors");
  EXPECT_EQ(l.entries.at("model.embed_tokens.weight").shape, (std::vector<int64_t>{20, 1024}));
  EXPECT_EQ(l.data_offset + l.data_size, bytes.size());
}

// Layout mistakes in a file image, each an InputError naming the file (and the tensor where one is at fault).
TEST(SafetensorsHeader, LayoutMistakesAreInputErrors) {
  const auto entry = [](const char* dtype, std::vector<uint64_t> shape, uint64_t b, uint64_t e) {
    return nlohmann::json{{"dtype", dtype}, {"shape", shape}, {"data_offsets", {b, e}}};
  };
  const auto err = [&](const nlohmann::json& h, std::size_t data) { return parse_error(image(h, data), "f.st"); };
  EXPECT_TRUE(has(err({{"a", entry("F32", {2}, 0, 8)}, {"b", entry("F32", {2}, 4, 12)}}, 12),
                  "InputError: f.st: tensors \"a\" and \"b\" overlap"));
  EXPECT_TRUE(has(err({{"a", entry("F32", {2}, 0, 8)}}, 7), "f.st: tensor \"a\": data_offsets [0, 8] outside"));
  EXPECT_TRUE(has(err({{"a", entry("F32", {2}, 8, 0)}}, 8), "f.st: tensor \"a\": data_offsets [8, 0] outside"));
  EXPECT_TRUE(has(err({{"a", entry("F32", {3}, 0, 8)}}, 8), "f.st: tensor \"a\": 8 bytes for 3 F32 elements"));
  EXPECT_TRUE(has(err({{"a", entry("Q4", {2}, 0, 8)}}, 8), "f.st: tensor \"a\": unsupported dtype Q4"));
  EXPECT_TRUE(has(err({{"a", {{"dtype", "F32"}, {"shape", {-2}}, {"data_offsets", {0, 8}}}}}, 8),
                  "shape entries must be non-negative integers"));
  EXPECT_TRUE(has(err(nlohmann::json::array(), 0), "InputError: f.st: header must be a JSON object"));
  EXPECT_TRUE(has(parse_error("1234567", "f.st"), "InputError: f.st: truncated: 7 bytes"));
  // A header size past the end of the file, and one of 2^62.
  std::string big = image({{"a", entry("F32", {2}, 0, 8)}}, 8);
  big[7] = 0x40;
  EXPECT_TRUE(has(parse_error(big, "f.st"), "InputError: f.st: header size 4611686018427387"));
  EXPECT_TRUE(has(parse_error(std::string("\x10\0\0\0\0\0\0\0{", 9), "f.st"), "f.st: header size 16 does not fit"));
}

// A Qwen2.5-0.5B-shaped file (290 tensors, the 151936 x 896 embedding; 988 MB of BF16 data in a sparse file, so
// nothing is written but the header) is accepted whole, and a tensor of it loads.
TEST(SafetensorsHeader, LargeHonestModelParses) {
  std::vector<std::pair<std::string, std::vector<uint64_t>>> tensors = {{"model.embed_tokens.weight", {151936, 896}},
                                                                        {"model.norm.weight", {896}}};
  for (int l = 0; l < 24; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const auto& [n, s] : std::vector<std::pair<std::string, std::vector<uint64_t>>>{
             {"self_attn.q_proj.weight", {896, 896}}, {"self_attn.q_proj.bias", {896}},
             {"self_attn.k_proj.weight", {128, 896}}, {"self_attn.k_proj.bias", {128}},
             {"self_attn.v_proj.weight", {128, 896}}, {"self_attn.v_proj.bias", {128}},
             {"self_attn.o_proj.weight", {896, 896}}, {"mlp.gate_proj.weight", {4864, 896}},
             {"mlp.up_proj.weight", {4864, 896}},     {"mlp.down_proj.weight", {896, 4864}},
             {"input_layernorm.weight", {896}},       {"post_attention_layernorm.weight", {896}}})
      tensors.emplace_back(p + n, s);
  }
  ASSERT_EQ(tensors.size(), 290u);
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
  uint64_t offset = 0;
  for (const auto& [n, s] : tensors) {
    uint64_t bytes = 2;
    for (uint64_t d : s) bytes *= d;
    header[n] = {{"dtype", "BF16"}, {"shape", s}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  EXPECT_GT(offset, uint64_t{900} << 20);
  const std::string head = image(header, 0);
  const fs::path p = scratch("large") / "model.safetensors";
  {
    std::ofstream(p, std::ios::binary) << head;
  }
  fs::resize_file(p, head.size() + offset);  // a hole: no data written
  const SafetensorsFile f(p.string());
  EXPECT_EQ(f.entries().size(), 290u);
  EXPECT_EQ(f.entries().at("model.embed_tokens.weight").shape, (std::vector<int64_t>{151936, 896}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_TRUE(f.load("model.norm.weight", at::kFloat).equal(at::zeros({896})));
  fs::remove(p);
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
