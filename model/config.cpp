// config.json <-> ModelConfig with validation; see config.hpp.
#include "model/config.hpp"

#include "common/input_error.hpp"
#include "common/name_table.hpp"

#include <climits>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace toolgrpo::model {

namespace {
const common::EnumName<Arch> kArchs[] = {{Arch::Qwen2, "qwen2"}, {Arch::Qwen3, "qwen3"}, {Arch::Llama, "llama"}};
}  // namespace

Arch arch_from_name(const std::string& name) { return common::enum_from_name(kArchs, name, "architecture"); }
const char* arch_name(Arch a) { return common::enum_name(kArchs, a); }
std::vector<std::string> arch_names() { return common::enum_names(kArchs); }
namespace {

using nlohmann::json;

class Reader {
 public:
  Reader(const json& j, std::string origin) : j_(j), origin_(std::move(origin)) {}

  template <class T>
  T get(const char* key, bool required, T fallback) {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) problems_.push_back(std::string("missing field \"") + key + "\"");
      return fallback;
    }
    try {
      if constexpr (std::is_same_v<T, bool>) {
        if (!it->is_boolean()) throw std::invalid_argument("expected true or false");
      } else if constexpr (std::is_integral_v<T>) {
        if (!it->is_number_integer()) throw std::invalid_argument("expected an integer");
      } else if constexpr (std::is_floating_point_v<T>) {
        if (!it->is_number()) throw std::invalid_argument("expected a number");
      } else {
        if (!it->is_string()) throw std::invalid_argument("expected a string");
      }
      return it->get<T>();
    } catch (const std::exception& e) {
      problems_.push_back(std::string("field \"") + key + "\": " + e.what() + ", got " + it->dump());
      return fallback;
    }
  }
  void problem(std::string p) { problems_.push_back(std::move(p)); }
  void throw_if_any() const {
    if (problems_.empty()) return;
    std::string msg = origin_ + ": invalid model config:";
    for (const auto& p : problems_) msg += "\n  - " + p;
    throw common::InputError(msg);
  }
  const json& raw() const { return j_; }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  const json& j_;
  std::string origin_;
  std::vector<std::string> problems_;
};

// The largest size config.json may give (vocabulary, widths, layers, heads, positions): 2^31 - 1.
constexpr int64_t kMaxSize = INT32_MAX;

// parameter_count with every product and sum checked; nothing when it does not fit in int64.
std::optional<int64_t> checked_parameter_count(const ModelConfig& c) {
  bool bad = false;
  const auto mul = [&](int64_t a, int64_t b) {
    int64_t r = 0;
    bad |= __builtin_mul_overflow(a, b, &r);
    return r;
  };
  const auto add = [&](int64_t a, int64_t b) {
    int64_t r = 0;
    bad |= __builtin_add_overflow(a, b, &r);
    return r;
  };
  const int64_t h = c.hidden_size, q = mul(c.num_heads, c.head_dim), kv = mul(c.num_kv_heads, c.head_dim),
                inter = c.intermediate_size;
  int64_t layer =
      add(add(add(mul(h, q), mul(2, mul(h, kv))), mul(q, h)), add(mul(3, mul(h, inter)), mul(2, h)));
  if (c.qkv_bias) layer = add(layer, add(q, mul(2, kv)));
  if (c.o_bias) layer = add(layer, h);
  if (c.mlp_bias) layer = add(layer, add(mul(2, inter), h));
  if (c.qk_norm) layer = add(layer, mul(2, c.head_dim));
  const int64_t embed = mul(c.vocab_size, h);
  const int64_t total = add(add(embed, mul(c.num_layers, layer)), add(h, c.tie_word_embeddings ? 0 : embed));
  if (bad) return std::nullopt;
  return total;
}

}  // namespace

ModelConfig model_config_parse(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const std::exception& e) {
    throw common::InputError(origin + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw common::InputError(origin + ": expected a JSON object");
  Reader r(j, origin);
  ModelConfig c;
  const auto archs = j.find("architectures");
  if (archs == j.end() || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    r.problem("field \"architectures\" must be a list naming the model class");
  } else {
    c.architecture = (*archs)[0].get<std::string>();
    if (c.architecture == "Qwen2ForCausalLM") c.arch = Arch::Qwen2;
    else if (c.architecture == "Qwen3ForCausalLM") c.arch = Arch::Qwen3;
    else if (c.architecture == "LlamaForCausalLM") c.arch = Arch::Llama;
    else
      r.problem("unsupported architecture \"" + c.architecture +
                "\" (supported: Qwen2ForCausalLM, Qwen3ForCausalLM, LlamaForCausalLM)");
  }
  c.vocab_size = r.get<int64_t>("vocab_size", true, 0);
  c.hidden_size = r.get<int64_t>("hidden_size", true, 0);
  c.intermediate_size = r.get<int64_t>("intermediate_size", true, 0);
  c.num_layers = r.get<int64_t>("num_hidden_layers", true, 0);
  c.num_heads = r.get<int64_t>("num_attention_heads", true, 0);
  c.num_kv_heads = r.get<int64_t>("num_key_value_heads", false, c.num_heads);
  c.max_position_embeddings = r.get<int64_t>("max_position_embeddings", false, 32768);
  c.rms_norm_eps = r.get<double>("rms_norm_eps", false, 1e-6);
  c.rope_theta = r.get<double>("rope_theta", false, 10000.0);
  c.tie_word_embeddings = r.get<bool>("tie_word_embeddings", false, false);
  c.bos_token_id = r.get<int64_t>("bos_token_id", false, -1);
  const std::string act = r.get<std::string>("hidden_act", false, "silu");
  if (act != "silu") r.problem("field \"hidden_act\": only \"silu\" is supported, got \"" + act + "\"");
  for (const char* k : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                        "num_attention_heads", "num_key_value_heads"}) {
    const auto it = j.find(k);
    if (it != j.end() && it->is_number_integer() && it->get<int64_t>() <= 0)
      r.problem(std::string("field \"") + k + "\" must be positive, got " + it->dump());
  }
  if (c.num_heads > 0 && c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads != 0)
    r.problem("num_key_value_heads (" + std::to_string(c.num_kv_heads) + ") must divide num_attention_heads (" +
              std::to_string(c.num_heads) + ")");
  const int64_t default_head_dim = c.num_heads > 0 ? c.hidden_size / c.num_heads : 0;
  c.head_dim = r.get<int64_t>("head_dim", false, default_head_dim);
  if (c.head_dim <= 0 || c.head_dim % 2 != 0)
    r.problem("head_dim must be a positive even number, got " + std::to_string(c.head_dim));
  if (c.arch != Arch::Qwen3 && !j.contains("head_dim") && c.num_heads > 0 && c.hidden_size % c.num_heads != 0)
    r.problem("hidden_size must be a multiple of num_attention_heads");

  const bool attention_bias = r.get<bool>("attention_bias", false, false);
  c.qkv_bias = c.arch == Arch::Qwen2 || attention_bias;
  c.o_bias = c.arch != Arch::Qwen2 && attention_bias;
  c.mlp_bias = r.get<bool>("mlp_bias", false, false);
  c.qk_norm = c.arch == Arch::Qwen3;
  if (r.get<bool>("use_sliding_window", false, false))
    r.problem("field \"use_sliding_window\": sliding-window attention is not supported");

  const auto eos = j.find("eos_token_id");
  if (eos != j.end() && eos->is_number_integer()) c.eos_token_ids = {eos->get<int64_t>()};
  else if (eos != j.end() && eos->is_array())
    for (const auto& e : *eos) {
      if (e.is_number_integer()) c.eos_token_ids.push_back(e.get<int64_t>());
      else r.problem("field \"eos_token_id\": list entries must be integers");
    }

  const auto rs = j.find("rope_scaling");
  if (rs != j.end() && !rs->is_null() && !rs->is_object()) {
    r.problem("field \"rope_scaling\": expected an object or null, got " + rs->dump());
  } else if (rs != j.end() && !rs->is_null()) {
    Reader scaling(*rs, origin);
    const std::string type =
        scaling.get<std::string>("rope_type", false, scaling.get<std::string>("type", false, ""));
    if (type == "llama3") {
      c.rope_scaling.llama3 = true;
      c.rope_scaling.factor = scaling.get<double>("factor", false, 8.0);
      c.rope_scaling.low_freq_factor = scaling.get<double>("low_freq_factor", false, 1.0);
      c.rope_scaling.high_freq_factor = scaling.get<double>("high_freq_factor", false, 4.0);
      c.rope_scaling.original_max_position_embeddings =
          scaling.get<int64_t>("original_max_position_embeddings", false, 8192);
      if (c.rope_scaling.high_freq_factor <= c.rope_scaling.low_freq_factor)
        r.problem("rope_scaling: high_freq_factor must exceed low_freq_factor");
      if (c.rope_scaling.original_max_position_embeddings <= 0)
        r.problem("rope_scaling: original_max_position_embeddings must be positive");
    } else if (type != "default") {
      r.problem("rope_scaling: unsupported rope_type \"" + type + "\" (supported: llama3, default)");
    }
    for (const std::string& p : scaling.problems()) r.problem("rope_scaling: " + p);
  }
  // Sizes a model can have: each at most kMaxSize, and a parameter count that fits in 64 bits (so no size
  // computed from them overflows).
  for (const auto& [k, v] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                             {"hidden_size", c.hidden_size},
                             {"intermediate_size", c.intermediate_size},
                             {"num_hidden_layers", c.num_layers},
                             {"num_attention_heads", c.num_heads},
                             {"num_key_value_heads", c.num_kv_heads},
                             {"head_dim", c.head_dim},
                             {"max_position_embeddings", c.max_position_embeddings}})
    if (v > kMaxSize)
      r.problem(std::string("field \"") + k + "\" must be at most " + std::to_string(kMaxSize) + ", got " +
                std::to_string(v));
  if (c.max_position_embeddings <= 0)
    r.problem("field \"max_position_embeddings\" must be positive, got " +
              std::to_string(c.max_position_embeddings));
  if (c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0 && c.num_layers > 0 && c.num_heads > 0 &&
      c.num_kv_heads > 0 && c.head_dim > 0 && !checked_parameter_count(c))
    r.problem("the parameter count these sizes imply does not fit in 64 bits");
  r.throw_if_any();
  return c;
}

ModelConfig model_config_load(const std::string& dir) {
  const std::string path = dir + "/config.json";
  std::ifstream in(path);
  if (!in) throw common::InputError(path + ": cannot open (is " + dir + " a Hugging Face model directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return model_config_parse(ss.str(), path);
}

std::string model_config_to_json(const ModelConfig& c) {
  json j;
  j["architectures"] = {c.architecture};
  j["model_type"] = arch_name(c.arch);
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = "silu";
  if (c.arch != Arch::Qwen2) j["attention_bias"] = c.o_bias;
  if (c.arch == Arch::Llama) j["mlp_bias"] = c.mlp_bias;
  j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else j["eos_token_id"] = c.eos_token_ids;
  if (c.rope_scaling.llama3) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["torch_dtype"] = "float32";
  return j.dump(2) + "\n";
}

int64_t parameter_count(const ModelConfig& c) {
  const std::optional<int64_t> n = checked_parameter_count(c);
  if (!n) throw std::overflow_error("parameter count of the model config overflows 64 bits");
  return *n;
}

}  // namespace toolgrpo::model
