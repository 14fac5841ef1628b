// libFuzzer target over config.json validation (model/config.cpp) as a model directory from a hub reaches it:
// the input is the file's text. A parse either throws common::InputError naming the file, or returns a config
// whose sizes are positive and consistent (heads divisible by key-value heads, an even head size), whose
// parameter count is computed without overflow, and which model_config_to_json writes and reads back the
// same.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/input_error.hpp"
#include "model/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::model;
using toolgrpo::fuzz::require;

namespace {

bool same(const ModelConfig& a, const ModelConfig& b) {
  return a.arch == b.arch && a.architecture == b.architecture && a.vocab_size == b.vocab_size &&
         a.hidden_size == b.hidden_size && a.intermediate_size == b.intermediate_size &&
         a.num_layers == b.num_layers && a.num_heads == b.num_heads && a.num_kv_heads == b.num_kv_heads &&
         a.head_dim == b.head_dim && a.max_position_embeddings == b.max_position_embeddings &&
         a.tie_word_embeddings == b.tie_word_embeddings && a.qkv_bias == b.qkv_bias && a.o_bias == b.o_bias &&
         a.mlp_bias == b.mlp_bias && a.qk_norm == b.qk_norm && a.bos_token_id == b.bos_token_id &&
         a.eos_token_ids == b.eos_token_ids && a.rope_scaling.llama3 == b.rope_scaling.llama3;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string name = "model/config.json";
  const std::string text(reinterpret_cast<const char*>(data), size);
  ModelConfig c;
  try {
    c = model_config_parse(text, name);
  } catch (const toolgrpo::common::InputError& e) {
    require(std::string(e.what()).rfind(name + ": ", 0) == 0);
    return 0;
  }
  require(c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0 && c.num_layers > 0);
  require(c.num_heads > 0 && c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads == 0);
  require(c.head_dim > 0 && c.head_dim % 2 == 0);
  require(parameter_count(c) > 0);
  ModelConfig back;
  try {
    back = model_config_parse(model_config_to_json(c), "roundtrip");
  } catch (const toolgrpo::common::InputError&) {
    require(false);  // what the parser accepted, written back, must be accepted again
  }
  require(same(c, back));
  return 0;
}
