// Policy loading and saving; see policy.hpp.
#include "app/policy.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "app/commands.hpp"
#include "io/atomic_file.hpp"
#include "model/byte_tokenizer.hpp"
#include "model/init.hpp"
#include "model/safetensors.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {

Policy policy_load(const ModelSection& m, uint64_t seed, int local_rank) {
  if (m.dtype != "fp32")
    throw UsageError("model.dtype: training keeps fp32 weights (bf16 mixed precision is not implemented), got '" + m.dtype + "'");
  Policy p;
  if (m.device == "cuda") {
    if (!model::cuda_available())
      throw UsageError("model.device: cuda, but this libtorch/node has no usable GPU (libtorch " + model::torch_version() + ")");
    p.device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank % model::cuda_device_count()));
  }
  if (m.path.empty()) {
    const model::ByteTokenizer bt;
    p.cfg = model::model_preset(m.arch, m.preset, (bt.vocab_size() + 63) / 64 * 64);
    p.w = model::decoder_weights_random(p.cfg, seed);
    if (!p.device.is_cpu()) p.w = model::decoder_weights_to(p.w, p.device);
    p.tokenizer_json = bt.to_tokenizer_json();
    p.tok = model::BpeTokenizer::parse(p.tokenizer_json, "built-in byte tokenizer");
  } else {
    p.cfg = model::model_config_load(m.path);
    p.w = model::decoder_weights_load(p.cfg, m.path, at::kFloat, p.device);
    const std::string tok_path = m.path + "/tokenizer.json";
    std::ifstream in(tok_path);
    if (!in) throw std::runtime_error(tok_path + ": cannot read the tokenizer");
    std::stringstream ss;
    ss << in.rdbuf();
    p.tokenizer_json = ss.str();
    p.tok = model::BpeTokenizer::parse(p.tokenizer_json, tok_path);
    p.chat = p.cfg.arch == model::Arch::Qwen3   ? model::ChatFormat::Qwen3
             : p.cfg.arch == model::Arch::Llama ? model::ChatFormat::Llama3
                                                : model::ChatFormat::Qwen25;
  }
  if (!m.chat_template.empty()) p.chat = model::chat_format_from_name(m.chat_template);
  return p;
}

void policy_save(const Policy& p, const std::string& dir) {
  model::safetensors_save(dir + "/model.safetensors", model::decoder_named_parameters(p.cfg, p.w));
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"config.json", model::model_config_to_json(p.cfg)},
                                   {"tokenizer.json", p.tokenizer_json}}) {
    io::AtomicFile f(dir + "/" + name);
    f.write(text);
    f.commit();
  }
}

std::vector<at::Tensor> policy_parameters(const Policy& p) {
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : model::decoder_named_parameters(p.cfg, p.w)) out.push_back(t);
  return out;
}

}  // namespace toolgrpo::app
