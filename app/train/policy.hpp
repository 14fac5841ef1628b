// The policy a run trains: model config, weights, tokenizer and chat format, from a Hugging Face model directory
// or built from the run seed (a built-in tiny model with the byte tokenizer). Saved back as a complete model
// directory (model.safetensors, config.json, tokenizer.json), so the run directory loads like any HF model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <utility>

#include "app/config/config.hpp"
#include "model/bpe_tokenizer.hpp"
#include "model/chat_template.hpp"
#include "model/config.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::app {

struct LoadedCheckpoint;  // app/train/checkpoint.hpp

// What kind of source a model's weights come from: none (not set), a Hugging Face directory, the /model of an
// HDF5 checkpoint, or a built-in preset.
enum class OriginKind { None, Directory, Checkpoint, Preset };
// The names (checkpoint metadata reference_kind), one table: "" | directory | checkpoint | preset. from_name throws
// std::invalid_argument listing them.
OriginKind origin_kind_from_name(const std::string& name);
const char* origin_kind_name(OriginKind kind);

// Where a model's weights came from, enough to load the same weights again and check that they are the same.
struct ModelOrigin {
  OriginKind kind = OriginKind::None;
  std::string path;         // directory or checkpoint file; preset: "ARCH/PRESET" (e.g. "qwen2/tiny")
  int64_t seed = 0;         // preset: the seed its weights are drawn from
  uint32_t checksum = 0;    // CRC-32C of the fp32 weights as loaded (decoder_named_parameters order)
};

struct Policy {
  model::ModelConfig cfg;
  model::DecoderWeights w;  // fp32: what is trained, saved, checkpointed and broadcast (the master weights)
  // model.dtype bf16 (mixed precision): a bf16 copy of w that generation and every forward and backward pass
  // run on, except the vocabulary head, which is w's own fp32 head tensor (logits and log-softmax in fp32).
  // Undefined tensors in fp32 runs. See policy_forward_weights.
  model::DecoderWeights compute;
  std::unique_ptr<model::BpeTokenizer> tok;
  std::string tokenizer_json;  // the tokenizer file's text, written with the weights
  model::ChatFormat chat = model::ChatFormat::Qwen25;
  at::Device device = at::kCPU;
  ModelOrigin origin;      // what was loaded (for a checkpoint: that file)
  std::string source_dir;  // the Hugging Face directory the weights first came from ("" for a built-in model)
};

// Every rank calls this and gets identical weights (a built-in model is drawn from `seed`), in fp32 on the CPU or,
// with model.device cuda, on GPU `local_rank % GPUs` of the node. model.path may be a Hugging Face model
// directory, an HDF5 checkpoint file, or a run directory (its latest checkpoint). Throws UsageError for a device
// this build or node cannot use or a path that is none of these.
Policy policy_load(const ModelSection& m, uint64_t seed, int local_rank = 0);

// The same policy's configuration, tokenizer and chat format without its weights (no tensor is read): what
// `toolgrpo plan` needs to count a run's prompts in tokens.
Policy policy_without_weights(const ModelSection& m);

// The policy of a loaded checkpoint (its weights moved to `device`, its tokenizer and chat format); the origin is
// the checkpoint file. The checkpoint layer returns tensors and facts; the policy builds itself from them.
Policy policy_from_checkpoint(const LoadedCheckpoint& l, at::Device device);

// What a model path names: Preset (empty: the built-in model), Directory (a Hugging Face directory, config.json
// inside) or Checkpoint (a checkpoint file, or a run directory's newest checkpoint, resolved into `path`).
// Throws UsageError, starting with `label`, for a path that does not exist or holds neither.
OriginKind model_path_kind(const std::string& given, std::string& path, const std::string& label);

// The device model.device names for this rank (GPU local_rank % GPUs); throws UsageError for a device or dtype this
// build or node cannot train with.
at::Device policy_device(const ModelSection& m, int local_rank);

// Loads the weights `origin` names (kind, path, seed; any checksum is ignored) in fp32 on `device`, with the
// config they must have.
model::DecoderWeights origin_weights_load(const ModelOrigin& origin, const model::ModelConfig& cfg, at::Device device);

// model.device cuda places the ranks of a node on its GPUs by local rank. Throws UsageError, naming the node, the
// ranks and the GPUs, when the node has no GPU, or when its `local_size` ranks outnumber its `devices` GPUs and
// `allow_sharing` (parallel.share_gpus) is false: several ranks on one GPU fail late (NCCL refuses them at the
// first update, after a whole generation phase) or run out of its memory.
void gpu_placement_check(int local_rank, int local_size, int devices, bool allow_sharing, const std::string& node);

// The PCI bus id of CUDA device `device` (e.g. "0000:3B:00.0"): the same GPU has the same id whatever number
// CUDA_VISIBLE_DEVICES gives it in a process. Empty where the build has no CUDA runtime or the query fails.
std::string gpu_bus_id(int device);

// The same check by identity, for when every rank knows its GPU's bus id: `node_gpu` holds each world rank's
// (node, bus id) in rank order. Throws UsageError naming the node, the ranks and the GPU when two ranks of a node
// would use one GPU and `allow_sharing` is false. Counting is not enough: under Slurm's --gpus-per-task=1 every
// rank sees one GPU, its own, numbered 0.
void gpu_sharing_check(const std::vector<std::pair<std::string, std::string>>& node_gpu, bool allow_sharing);

// CRC-32C of the weights' bytes in fp32, in decoder_named_parameters order.
uint32_t weights_checksum(const model::ModelConfig& cfg, const model::DecoderWeights& w);

// The model config a ModelSection names without loading weights (config.json of a directory or checkpoint, or
// the built-in preset's), so a resume can check that the run still means the same model.
model::ModelConfig model_config_of(const ModelSection& m);

// Writes DIR/model.safetensors, DIR/config.json and DIR/tokenizer.json, each atomically.
void policy_save(const Policy& p, const std::string& dir);

// The trainable tensors of the policy, in the order of model::decoder_named_parameters.
std::vector<at::Tensor> policy_parameters(const Policy& p);

// Mixed precision. policy_mixed_precision makes p.compute for model.dtype bf16 (nothing for fp32);
// policy_forward_weights is what forward passes use (compute when defined, else w). After the backward passes
// of an update, policy_grads_to_master adds each bf16 gradient, in fp32, to its master tensor's gradient (the
// head's already lands there) and drops it; after the master weights change (an optimizer step, a broadcast),
// policy_refresh_compute copies them into the bf16 copy. Both do nothing in fp32 runs.
void policy_mixed_precision(Policy& p, ModelDtype dtype);
const model::DecoderWeights& policy_forward_weights(const Policy& p);
// Other fp32 weights (a frozen reference) in the form p's forward passes use (bf16 layers and an fp32 head
// when p is mixed precision; the weights themselves otherwise).
model::DecoderWeights policy_forward_form(const Policy& p, const model::DecoderWeights& fp32);
void policy_grads_to_master(const Policy& p);
void policy_refresh_compute(const Policy& p);

}  // namespace toolgrpo::app
