// Policy loading and saving; see policy.hpp.
#include "app/train/policy.hpp"

#if TOOLGRPO_HAVE_NCCL
#include <cuda_runtime_api.h>  // cudaDeviceGetPCIBusId (the runtime library; never libcuda)
#endif

#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "app/cli/commands.hpp"
#include "app/train/checkpoint.hpp"
#include "common/name_table.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_file.hpp"
#include "model/byte_tokenizer.hpp"
#include "model/init.hpp"
#include "model/safetensors.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {
namespace {

namespace fs = std::filesystem;

model::ChatFormat chat_of(model::Arch arch) {
  return arch == model::Arch::Qwen3 ? model::ChatFormat::Qwen3
         : arch == model::Arch::Llama ? model::ChatFormat::Llama3
                                      : model::ChatFormat::Qwen25;
}

std::string file_text(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read the " + std::string(what));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A policy's tokenizer and chat format (for a directory, from p.cfg's architecture), from what `kind` and
// `path` name.
void text_side(Policy& p, OriginKind kind, const std::string& path) {
  if (kind == OriginKind::Checkpoint) {
    const io::CheckpointReader r(path);
    p.tokenizer_json = r.meta_string("tokenizer_json");
    p.tok = model::BpeTokenizer::parse(p.tokenizer_json, path + ":/meta/tokenizer_json");
    p.chat = model::chat_format_from_name(r.meta_string("chat_format"));
  } else if (kind == OriginKind::Directory) {
    const std::string tok_path = path + "/tokenizer.json";
    p.tokenizer_json = file_text(tok_path, "tokenizer");
    p.tok = model::BpeTokenizer::parse(p.tokenizer_json, tok_path);
    p.chat = chat_of(p.cfg.arch);
  } else {
    p.tokenizer_json = model::ByteTokenizer().to_tokenizer_json();
    p.tok = model::BpeTokenizer::parse(p.tokenizer_json, "built-in byte tokenizer");
  }
}


model::ModelConfig preset_config(const ModelSection& m) {
  const model::ByteTokenizer bt;
  return model::model_preset(m.arch, m.preset, (bt.vocab_size() + 63) / 64 * 64);
}

}  // namespace

namespace {
const common::EnumName<OriginKind> kOriginKinds[] = {{OriginKind::None, ""},
                                                    {OriginKind::Directory, "directory"},
                                                    {OriginKind::Checkpoint, "checkpoint"},
                                                    {OriginKind::Preset, "preset"}};
}  // namespace

OriginKind origin_kind_from_name(const std::string& name) {
  return common::enum_from_name(kOriginKinds, name, "model origin kind");
}
const char* origin_kind_name(OriginKind kind) { return common::enum_name(kOriginKinds, kind); }

OriginKind model_path_kind(const std::string& given, std::string& path, const std::string& label) {
  path = given;
  if (given.empty()) return OriginKind::Preset;
  if (fs::is_directory(given) && fs::exists(fs::path(given) / "config.json")) return OriginKind::Directory;
  if (fs::is_regular_file(given)) return OriginKind::Checkpoint;
  if (fs::is_directory(given)) {
    path = checkpoint_resolve(given);
    if (!path.empty()) return OriginKind::Checkpoint;
    throw UsageError(label + ": " + given + " is neither a Hugging Face model directory (no config.json) nor a run "
                     "directory with checkpoints");
  }
  throw UsageError(label + ": " + given + " does not exist");
}

at::Device policy_device(const ModelSection& m, int local_rank) {
  if (m.device != ModelDevice::Cuda) return at::kCPU;
  if (!model::cuda_available())
    throw UsageError("model.device: cuda, but this libtorch/node has no usable GPU (libtorch " + model::torch_version() + ")");
  const int index = local_rank % model::cuda_device_count();
  model::cuda_set_device(index);  // before the first allocation: this rank's CUDA context on its own GPU
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

Policy policy_from_checkpoint(const LoadedCheckpoint& l, at::Device device) {
  Policy p;
  p.device = device;
  p.cfg = l.cfg;
  p.origin = {OriginKind::Checkpoint, l.path, 0, 0};
  p.source_dir = l.source_dir;
  p.w = device.is_cpu() ? l.weights : model::decoder_weights_to(l.weights, device);
  p.tokenizer_json = l.tokenizer_json;
  p.tok = model::BpeTokenizer::parse(p.tokenizer_json, l.path + ":/meta/tokenizer_json");
  p.chat = model::chat_format_from_name(l.chat_format);
  p.origin.checksum = weights_checksum(p.cfg, l.weights);
  return p;
}

void gpu_placement_check(int local_rank, int local_size, int devices, bool allow_sharing, const std::string& node) {
  const std::string where = "node " + node + " (rank " + std::to_string(local_rank) + " of its " +
                            std::to_string(local_size) + " ranks)";
  if (devices <= 0)
    throw UsageError("model.device: cuda, but " + where + " sees no GPU (check CUDA_VISIBLE_DEVICES and the job's "
                     "GPU request, e.g. Slurm --gpus-per-task=1)");
  if (local_size > devices && !allow_sharing)
    throw UsageError("model.device: cuda: " + std::to_string(local_size) + " ranks on node " + node + " for " +
                     std::to_string(devices) + " GPU" + (devices == 1 ? "" : "s") + ": ranks " +
                     std::to_string(devices) + ".." + std::to_string(local_size - 1) +
                     " would share a GPU with another rank. Start one rank per GPU (mpirun -npernode " +
                     std::to_string(devices) + ", Slurm --ntasks-per-node=" + std::to_string(devices) +
                     " --gpus-per-task=1), or set parallel.share_gpus=true to share them knowingly");
}

std::string gpu_bus_id(int device) {
#if TOOLGRPO_HAVE_NCCL
  char id[32] = {0};
  if (cudaDeviceGetPCIBusId(id, static_cast<int>(sizeof id), device) != cudaSuccess) return "";
  return id;
#else
  (void)device;
  return "";
#endif
}

void gpu_sharing_check(const std::vector<std::pair<std::string, std::string>>& node_gpu, bool allow_sharing) {
  if (allow_sharing) return;
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> ranks;  // (node, GPU) -> world ranks
  for (std::size_t r = 0; r < node_gpu.size(); ++r) ranks[node_gpu[r]].push_back(r);
  for (const auto& [where, on] : ranks) {
    if (on.size() < 2) continue;
    std::string list;
    for (std::size_t r : on) list += (list.empty() ? "" : ", ") + std::to_string(r);
    throw UsageError("model.device: cuda: ranks " + list + " on node " + where.first + " would all use GPU " +
                     where.second + ". Give each rank its own GPU (one rank per GPU: mpirun -npernode GPUS, Slurm "
                     "--ntasks-per-node=GPUS --gpus-per-task=1), or set parallel.share_gpus=true to share them "
                     "knowingly");
  }
}

Policy policy_load(const ModelSection& m, uint64_t seed, int local_rank) {
  const at::Device device = policy_device(m, local_rank);
  std::string path;
  const OriginKind kind = model_path_kind(m.path, path, "model.path");
  Policy p;
  if (kind == OriginKind::Checkpoint) {
    LoadedCheckpoint l = checkpoint_load(path, false);
    p = policy_from_checkpoint(l, device);
  } else if (kind == OriginKind::Directory) {
    p.cfg = model::model_config_load(path);
    text_side(p, kind, path);
    p.device = device;
    p.origin = {OriginKind::Directory, path, 0, 0};
    p.source_dir = path;
    p.w = model::decoder_weights_load(p.cfg, path, at::kFloat, p.device);
    p.origin.checksum = weights_checksum(p.cfg, p.w);
  } else {
    p.cfg = preset_config(m);
    text_side(p, kind, path);
    p.device = device;
    p.origin = {OriginKind::Preset, std::string(model::arch_name(m.arch)) + "/" + model::preset_name(m.preset), static_cast<int64_t>(seed), 0};
    p.w = model::decoder_weights_random(p.cfg, seed);
    p.origin.checksum = weights_checksum(p.cfg, p.w);
    if (!p.device.is_cpu()) p.w = model::decoder_weights_to(p.w, p.device);
  }
  if (m.chat_template) p.chat = *m.chat_template;
  return p;
}

Policy policy_without_weights(const ModelSection& m) {
  std::string path;
  const OriginKind kind = model_path_kind(m.path, path, "model.path");
  Policy p;
  p.cfg = model_config_of(m);
  text_side(p, kind, path);
  if (m.chat_template) p.chat = *m.chat_template;
  return p;
}

model::DecoderWeights origin_weights_load(const ModelOrigin& o, const model::ModelConfig& cfg, at::Device device) {
  if (o.kind == OriginKind::Preset) {
    const model::DecoderWeights w = model::decoder_weights_random(cfg, static_cast<uint64_t>(o.seed));
    return device.is_cpu() ? w : model::decoder_weights_to(w, device);
  }
  if (o.kind == OriginKind::Directory) return model::decoder_weights_load(cfg, o.path, at::kFloat, device);
  if (o.kind == OriginKind::Checkpoint) {
    const LoadedCheckpoint l = checkpoint_load(o.path, false);
    return device.is_cpu() ? l.weights : model::decoder_weights_to(l.weights, device);
  }
  throw std::runtime_error(std::string("unknown model origin kind '") + origin_kind_name(o.kind) +
                           "' (expected preset, directory or checkpoint)");
}

uint32_t weights_checksum(const model::ModelConfig& cfg, const model::DecoderWeights& w) {
  uint32_t crc = 0;
  for (const auto& [name, t] : model::decoder_named_parameters(cfg, w)) {
    const at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
    crc = io::crc32c(c.data_ptr(), c.nbytes(), crc);
  }
  return crc;
}

model::ModelConfig model_config_of(const ModelSection& m) {
  std::string path;
  const OriginKind kind = model_path_kind(m.path, path, "model.path");
  if (kind == OriginKind::Preset) return preset_config(m);
  if (kind == OriginKind::Directory) return model::model_config_load(path);
  const io::CheckpointReader r(path);
  return model::model_config_parse(r.meta_string("model_config_json"), path + ":/meta/model_config_json");
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

namespace {

bool mixed_precision(const Policy& p) {
  return p.compute.embed.defined();
}

// (master, compute) pairs in decoder_named_parameters order, skipping the head a mixed-precision policy
// shares.
std::vector<std::pair<at::Tensor, at::Tensor>> master_compute_pairs(const Policy& p) {
  const auto master = model::decoder_named_parameters(p.cfg, p.w);
  const auto compute = model::decoder_named_parameters(p.cfg, p.compute);
  std::vector<std::pair<at::Tensor, at::Tensor>> out;
  for (std::size_t i = 0; i < master.size(); ++i)
    if (!master[i].second.is_same(compute[i].second)) out.emplace_back(master[i].second, compute[i].second);
  return out;
}

}  // namespace

void policy_mixed_precision(Policy& p, ModelDtype dtype) {
  if (dtype == ModelDtype::Fp32) {
    p.compute = model::DecoderWeights{};
    return;
  }
  p.w.lm_head.requires_grad_(true);
  p.compute = model::decoder_weights_cast_layers(p.w, at::kBFloat16);
  for (const auto& [name, t] : model::decoder_named_parameters(p.cfg, p.compute))
    if (!t.is_same(p.w.lm_head)) t.requires_grad_(true);
}

model::DecoderWeights policy_forward_form(const Policy& p, const model::DecoderWeights& fp32) {
  return mixed_precision(p) ? model::decoder_weights_cast_layers(fp32, at::kBFloat16) : fp32;
}

const model::DecoderWeights& policy_forward_weights(const Policy& p) {
  return mixed_precision(p) ? p.compute : p.w;
}

void policy_grads_to_master(const Policy& p) {
  if (!mixed_precision(p)) return;
  for (auto& [master, compute] : master_compute_pairs(p)) {
    at::Tensor& g = compute.mutable_grad();
    if (!g.defined()) continue;
    at::Tensor& mg = master.mutable_grad();
    if (mg.defined())
      mg.add_(g.to(at::kFloat));
    else
      mg = g.to(at::kFloat);
    g.reset();
  }
}

void policy_refresh_compute(const Policy& p) {
  if (!mixed_precision(p)) return;
  at::NoGradGuard no_grad;
  for (auto& [master, compute] : master_compute_pairs(p)) compute.copy_(master);
}

std::vector<at::Tensor> policy_parameters(const Policy& p) {
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : model::decoder_named_parameters(p.cfg, p.w)) out.push_back(t);
  return out;
}

}  // namespace toolgrpo::app
