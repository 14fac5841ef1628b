// ModelConfig: what the model is, read from a Hugging Face config.json (Qwen2ForCausalLM, Qwen3ForCausalLM,
// LlamaForCausalLM). It travels with checkpoints; how we run it (dtype, device) comes from the run config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace toolgrpo::model {

enum class Arch { Qwen2, Qwen3, Llama };

// The names of Arch (model.arch, init-model --arch, config.json's model_type), one table: qwen2 | qwen3 | llama.
// from_name throws std::invalid_argument listing them.
Arch arch_from_name(const std::string& name);
const char* arch_name(Arch a);
std::vector<std::string> arch_names();

struct RopeScaling {
  bool llama3 = false;  // rope_scaling.rope_type == "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  Arch arch = Arch::Qwen2;
  std::string architecture;  // the Hugging Face class name
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2 always; Llama/Qwen3 when attention_bias
  bool o_bias = false;    // Llama/Qwen3 attention_bias
  bool mlp_bias = false;  // Llama mlp_bias
  bool qk_norm = false;   // Qwen3 per-head RMSNorm of q and k
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
};

// Parses config.json text; `origin` names the file in errors. Throws std::runtime_error listing every problem
// (unsupported architecture, missing or mistyped field, inconsistent sizes) with its field name.
ModelConfig model_config_parse(const std::string& json_text, const std::string& origin);
// Reads DIR/config.json.
ModelConfig model_config_load(const std::string& dir);
// A config.json that model_config_parse reads back to the same config.
std::string model_config_to_json(const ModelConfig& cfg);

// Parameters of a decoder with this configuration (a tied head counted once).
int64_t parameter_count(const ModelConfig& c);

}  // namespace toolgrpo::model
