// Seeded random decoder weights; see init.hpp.
#include "model/init.hpp"

#include <stdexcept>

#include "model/byte_tokenizer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

namespace toolgrpo::model {

ModelConfig model_preset(const std::string& arch, const std::string& preset, int64_t vocab) {
  return model_preset(arch_from_name(arch), preset_from_name(preset), vocab);
}

ModelConfig model_preset(Arch arch, Preset preset, int64_t vocab) {
  ModelConfig c;
  c.arch = arch;
  switch (arch) {
    case Arch::Qwen2:
      c.architecture = "Qwen2ForCausalLM";
      c.qkv_bias = true;
      break;
    case Arch::Qwen3:
      c.architecture = "Qwen3ForCausalLM";
      c.qk_norm = true;
      break;
    case Arch::Llama:
      c.architecture = "LlamaForCausalLM";
      break;
  }
  const PresetShape* s = &preset_shape(preset);
  c.vocab_size = vocab;
  c.hidden_size = s->hidden;
  c.intermediate_size = s->inter;
  c.num_layers = s->layers;
  c.num_heads = s->heads;
  c.num_kv_heads = s->kv;
  c.head_dim = s->hidden / s->heads;
  c.max_position_embeddings = 32768;
  c.rope_theta = c.arch == Arch::Llama ? 500000.0 : 1000000.0;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = true;
  c.bos_token_id = ByteTokenizer::kEndOfText;
  c.eos_token_ids = {ByteTokenizer::kEndOfText, ByteTokenizer::kImEnd};
  return c;
}


DecoderWeights decoder_weights_random(const ModelConfig& cfg, uint64_t seed, double std) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto normal = [&](std::vector<int64_t> shape) { return at::normal(0.0, std, shape, gen); };
  const auto ones = [](int64_t n) { return at::ones({n}, at::kFloat); };
  const auto zeros = [](int64_t n) { return at::zeros({n}, at::kFloat); };
  const int64_t h = cfg.hidden_size, q = cfg.num_heads * cfg.head_dim, kv = cfg.num_kv_heads * cfg.head_dim,
                inter = cfg.intermediate_size;
  DecoderWeights w;
  w.embed = normal({cfg.vocab_size, h});
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    LayerWeights l;
    l.q_proj = normal({q, h});
    l.k_proj = normal({kv, h});
    l.v_proj = normal({kv, h});
    l.o_proj = normal({h, q});
    if (cfg.qkv_bias) {
      l.q_bias = zeros(q);
      l.k_bias = zeros(kv);
      l.v_bias = zeros(kv);
    }
    if (cfg.o_bias) l.o_bias = zeros(h);
    if (cfg.qk_norm) {
      l.q_norm = ones(cfg.head_dim);
      l.k_norm = ones(cfg.head_dim);
    }
    l.input_norm = ones(h);
    l.post_norm = ones(h);
    l.gate_proj = normal({inter, h});
    l.up_proj = normal({inter, h});
    l.down_proj = normal({h, inter});
    if (cfg.mlp_bias) {
      l.gate_bias = zeros(inter);
      l.up_bias = zeros(inter);
      l.down_bias = zeros(h);
    }
    w.layers.push_back(std::move(l));
  }
  w.norm = ones(h);
  w.lm_head = cfg.tie_word_embeddings ? w.embed : normal({cfg.vocab_size, h});
  return w;
}

}  // namespace toolgrpo::model
