// The memory plan; see memory_plan.hpp. Sizes in fp32 floats (bf16 halves the activations, the KV cache and
// the compute copy of the layers; the vocabulary head stays fp32), following what autograd keeps for backward
// in model/decoder.cpp per token and layer: the two RMS-norm inputs and outputs (4 h), q, k and v with their
// rotated copies, the scaled query and the attention output before o_proj (6 q + 4 kv), the MLP's gate, its
// SiLU, up and their product (4 inter), and the attention probabilities (heads x sequence length).
#include "app/train/memory_plan.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#if TOOLGRPO_HAVE_NCCL
#include <cuda_runtime_api.h>  // cudaMemGetInfo (the runtime library NCCL links; never libcuda)
#endif

namespace toolgrpo::app {
namespace {

constexpr double kFloat = 4;
constexpr double kRuntimeBytes = 0.25e9;  // libtorch, MPI, thread pools (measured: 0.17-0.22 GB)
// GPU runs (estimates, not yet measured on a GPU): host memory of a process with libtorch's CUDA libraries
// loaded, and the device memory cuBLAS/cuDNN take besides the caching allocator's.
constexpr double kDeviceRuntimeHostBytes = 2e9;
constexpr double kDeviceRuntimeBytes = 0.5e9;

std::string gb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

// The first number of a file (cgroup files hold one; "max" reads as none).
bool read_number(const std::string& path, double& out) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return false;
  try {
    out = std::stod(word);
  } catch (const std::exception&) {
    return false;
  }
  return out > 0 && out < 1e18;  // cgroup v1 writes a huge number for "no limit"
}

}  // namespace

int64_t largest_micro_batch(int64_t budget, int64_t longest, int64_t sequences) {
  const int64_t L = std::max<int64_t>(1, longest);
  return std::clamp<int64_t>(budget / L, 1, std::max<int64_t>(1, sequences)) * L;
}

MemoryPlan memory_plan(const model::ModelConfig& c, const MemoryWorkload& w, const MemoryBudget& budget) {
  MemoryPlan p;
  p.device = w.device;
  p.available = w.device ? budget.device : budget.host;
  p.available_source = w.device ? budget.device_source : budget.host_source;
  p.host_available = budget.host;
  p.host_source = budget.host_source;
  p.notes = w.notes;
  const double P = static_cast<double>(model::parameter_count(c)), h = static_cast<double>(c.hidden_size),
               q = static_cast<double>(c.num_heads * c.head_dim), kv = static_cast<double>(c.num_kv_heads * c.head_dim),
               inter = static_cast<double>(c.intermediate_size), heads = static_cast<double>(c.num_heads),
               layers = static_cast<double>(c.num_layers), vocab = static_cast<double>(c.vocab_size);
  const std::string params = std::to_string(model::parameter_count(c)) + " parameters";
  double persistent = 0, host = 0;  // persistent: where the model computes (the device on GPU runs)
  const auto add = [&](const std::string& name, double bytes, const std::string& detail) {
    p.parts.push_back({name, bytes, detail, w.device});
    return bytes;
  };
  const auto add_host = [&](const std::string& name, double bytes, const std::string& detail) {
    p.parts.push_back({name, bytes, detail, false});
    return bytes;
  };
  // Mixed precision: the layers' bf16 copy (an untied head is not copied) and, while training, its gradients.
  const double head = static_cast<double>(c.vocab_size) * h, untied_head = c.tie_word_embeddings ? 0 : head;
  const double act = w.bf16 ? 2 : kFloat;  // bytes per activation and cached key/value
  persistent += add("weights", P * kFloat, params + (w.bf16 ? ", fp32 master" : ", fp32"));
  if (w.bf16) persistent += add("bf16 copy", (P - untied_head) * 2, "the layers forward and backward run on");
  if (w.trains) {
    persistent += add("gradients", P * kFloat + (w.bf16 ? (P - untied_head) * 2 : 0),
                      w.bf16 ? "fp32, and the bf16 copy's" : "fp32");
    const double shards = static_cast<double>(std::max<int64_t>(1, w.optimizer_shards));
    persistent += add("optimizer", 2 * P * kFloat / shards,
                      w.optimizer_shards > 1
                          ? "AdamW moments, fp32, 1/" + std::to_string(w.optimizer_shards) + " per rank"
                          : std::string("AdamW moments, fp32"));
  }
  if (w.reference)
    persistent +=
        add("reference", w.bf16 ? (P - untied_head) * 2 + head * kFloat : P * kFloat,
            w.bf16 ? "weights of the KL reference, bf16 with an fp32 head" : "weights of the KL reference");
  if (w.snapshot) host += add_host("checkpoint snapshot", 3 * P * kFloat, "checkpoint.async host copy");
  if (w.gathers_moments) host += add_host("checkpoint gather", 2 * P * kFloat, "sharded moments collected to write");
  if (w.device) {
    host += add_host("runtime (host)", kDeviceRuntimeHostBytes, "libraries with CUDA's, thread pools, staging");
    persistent += add("runtime", kDeviceRuntimeBytes, "cuBLAS and cuDNN handles and workspaces");
  } else {
    persistent += add("runtime", kRuntimeBytes, "libraries and thread pools");
  }
  if (w.nccl_communicators > 0)
    persistent += add("NCCL buffers", static_cast<double>(w.nccl_communicators) * nccl_communicator_bytes(),
                      std::to_string(w.nccl_communicators) + " communicator(s)");

  double training = 0;
  if (w.trains) {
    const double L = static_cast<double>(w.longest_sequence), T = static_cast<double>(w.micro_batch_tokens);
    const double per_token_layer = 4 * h + 6 * q + 4 * kv + 4 * inter + heads * L;
    // Saved for backward in every layer, plus one layer's gradients in flight during backward; with activation
    // checkpointing, each layer's input, and one layer recomputed with its gradients.
    const double kept = w.checkpointing ? layers * h + 2 * per_token_layer : (layers + 1) * per_token_layer;
    training += add("activations", T * kept * act,
                    std::to_string(w.micro_batch_tokens) + " tokens x " + std::to_string(c.num_layers) +
                        " layers, rows up to " + std::to_string(w.longest_sequence) + " tokens" +
                        (w.checkpointing ? ", checkpointed" : "") + (w.bf16 ? ", bf16" : ""));
    const double rows = static_cast<double>(w.head_tokens), chunk = std::min<double>(rows, 512);
    training += add("vocabulary head", (rows + 2 * chunk) * vocab * kFloat,
                    std::to_string(w.head_tokens) + " positions x " + std::to_string(c.vocab_size) + " log-softmax");
    // Backward computes the (vocabulary x hidden) gradients of the head's weight and of the embedding lookup
    // as whole new tensors before adding them to the parameters' gradients (tied or not: two of them).
    const double vocab_grads = 2 * head * kFloat;
    training += add("vocabulary gradients", vocab_grads, "head and embedding, before accumulation");
    // On the CPU glibc keeps the blocks a phase frees (model::cpu_allocator_keep_memory), and the end of
    // backward asks for these two large gradients when the layers' backward has left freed blocks of other
    // sizes: measured at Qwen2.5-0.5B's shape, np 1 and 2, the phase peaked 0.8-1.2 GB above the tensors alive
    // at once (docs/performance.md), about this part again.
    if (!w.device)
      training += add("allocator reserve", vocab_grads, "freed blocks glibc keeps: the vocabulary gradients again");
  }
  double generation = 0;
  if (w.gen_sequences > 0) {
    // The prompt cache holds gen_prompt_rows rows padded to the longest prompt; each sequence adds its new
    // tokens. A prefill layer computes over every padded prompt position: its norms, q/k/v and MLP, the
    // (rows, 1, L, L) mask (bool and fp32), and without the fused kernel the per-head scores, kept up to three
    // times in fp32 at once (the product, its scaling and the masked sum; then the softmax).
    const double N = static_cast<double>(w.gen_sequences), lp = static_cast<double>(w.gen_longest_prompt);
    const double rows = static_cast<double>(w.gen_prompt_rows > 0 ? w.gen_prompt_rows : w.gen_sequences);
    const double cached = rows * lp + N * static_cast<double>(w.gen_new_tokens);
    const double kv_cache = layers * 2 * kv * cached * act;
    const double logits = 2 * N * vocab * kFloat;
    const double scores = rows * lp * lp * (5 + (w.fused_attention ? 0 : 3 * heads * kFloat));
    const double prefill = rows * lp * (4 * h + 3 * inter) * act + scores;
    generation += add("generation", kv_cache + logits + prefill,
                      std::to_string(w.gen_sequences) + " sequences, KV cache of " +
                          std::to_string(static_cast<int64_t>(cached)) + " tokens, prefill of " +
                          std::to_string(static_cast<int64_t>(rows)) + " x " +
                          std::to_string(w.gen_longest_prompt) + " positions" +
                          (w.fused_attention ? " (fused attention)" : ""));
  }
  const double tensors = persistent + std::max(training, generation);
  if (w.device) {
    p.peak = tensors + add("allocator reserve", allocator_reserve_bytes(tensors), "cached free blocks, 10%");
    p.host_peak = host;
  } else {
    p.peak = tensors + host;
    p.host_peak = p.peak;
  }
  return p;
}

MemoryPlan memory_plan(const model::ModelConfig& cfg, const MemoryWorkload& w, double available_bytes,
                       const std::string& available_source) {
  MemoryBudget b;
  b.host = available_bytes;
  b.host_source = available_source;
  return memory_plan(cfg, w, b);
}

double nccl_communicator_bytes() {
  double buffsize = 4.0 * 1024 * 1024;
  if (const char* e = std::getenv("NCCL_BUFFSIZE")) {
    char* end = nullptr;
    const double v = std::strtod(e, &end);
    if (end != e && v > 0 && v < 1e12) buffsize = v;
  }
  return 2 * 32 * buffsize + 0.1e9;
}

double allocator_reserve_bytes(double tensor_peak) { return std::max(0.5e9, 0.1 * tensor_peak); }

std::string MemoryPlan::table() const {
  std::ostringstream s;
  s << "memory plan (estimated peak per rank):\n";
  for (const MemoryPart& m : parts) {
    char line[96];
    std::snprintf(line, sizeof line, "  %-20s %10s", m.name.c_str(), gb(m.bytes).c_str());
    s << line << "  " << (device ? (m.device ? "GPU: " : "host: ") : "") << m.detail << "\n";
  }
  char line[96];
  std::snprintf(line, sizeof line, "  %-20s %10s", device ? "peak (GPU)" : "peak", gb(peak).c_str());
  s << line << "  of " << gb(available) << " available (" << available_source << ")";
  if (device) {
    std::snprintf(line, sizeof line, "\n  %-20s %10s", "peak (host)", gb(host_peak).c_str());
    s << line << "  of " << gb(host_available) << " available (" << host_source << ")";
  }
  for (const std::string& n : notes) s << "\n  note: " << n;
  return s.str();
}

MemoryReading memory_reading() {
  MemoryReading m;
  if (const char* node = std::getenv("TOOLGRPO_NODE_MEMORY_GB")) {
    char* end = nullptr;
    const double gb_total = std::strtod(node, &end);
    if (end == node || *end != '\0' || !(gb_total >= 0))
      throw std::invalid_argument(std::string("TOOLGRPO_NODE_MEMORY_GB: expected a number of GB, got '") + node + "'");
    const double held = process_memory().resident;
    std::fprintf(stderr, "memory: TOOLGRPO_NODE_MEMORY_GB=%s: a node of that size; this process holds %.3f GB\n",
                 node, held / 1e9);
    m.mem_available = std::max(0.0, gb_total * 1e9 - held);
    return m;
  }
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    double kb = 0;
    while (in >> key >> kb) {
      std::getline(in, unit);
      if (key == "MemAvailable:") {
        m.mem_available = kb * 1024;
        break;
      }
    }
  }
  // cgroup v2 (Slurm's task/cgroup, containers), else cgroup v1.
  if (read_number("/sys/fs/cgroup/memory.max", m.cgroup_limit)) {
    m.cgroup_file = "memory.max";
    read_number("/sys/fs/cgroup/memory.current", m.cgroup_used);
  } else if (read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes", m.cgroup_limit)) {
    m.cgroup_file = "memory.limit_in_bytes";
    read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes", m.cgroup_used);
  } else {
    m.cgroup_limit = 0;  // read_number may have stored v1's "no limit" number
  }
  return m;
}

double memory_available(const MemoryReading& m, int ranks_on_node, std::string& source) {
  double avail = 0;
  source.clear();
  if (m.mem_available > 0) avail = m.mem_available, source = "MemAvailable";
  if (!m.cgroup_file.empty()) {
    const double room = m.cgroup_limit - m.cgroup_used;
    if (avail == 0 || room < avail) avail = room, source = "cgroup " + m.cgroup_file;
  }
  if (source.empty()) source = "neither MemAvailable nor a cgroup limit found";
  const int n = std::max(1, ranks_on_node);
  if (n > 1) source += " / " + std::to_string(n) + " ranks on this node";
  return std::max(0.0, avail) / n;
}

double memory_available(int ranks_on_node, std::string& source) {
  return memory_available(memory_reading(), ranks_on_node, source);
}

ProcessMemory process_memory() {
  ProcessMemory m;
  std::ifstream in("/proc/self/status");
  std::string key;
  double kb = 0;
  while (in >> key) {
    if (key == "VmRSS:" && in >> kb) m.resident = kb * 1024;
    else if (key == "VmHWM:" && in >> kb) m.peak = kb * 1024;
    else if (key == "RssFile:" && in >> kb) m.file = kb * 1024;
    std::string rest;
    std::getline(in, rest);
  }
  return m;
}

void memory_phase_end(int rank, const std::string& phase) {
  malloc_trim(0);
  static const bool trace = [] {
    const char* e = std::getenv("TOOLGRPO_MEMORY_TRACE");
    return e != nullptr && *e != '\0' && std::string(e) != "0";
  }();
  if (!trace) return;
  const ProcessMemory m = process_memory();
  std::fprintf(stderr, "memory: rank %d %s: resident %.2f GB (files mapped %.2f GB), peak %.2f GB\n", rank,
               phase.c_str(), m.resident / 1e9, m.file / 1e9, m.peak / 1e9);
  process_memory_peak_restart();  // the next line's peak starts from here
}

void process_memory_peak_restart() { std::ofstream("/proc/self/clear_refs") << "5"; }

double device_memory_free(int device, int sharing, std::string& source) {
#if TOOLGRPO_HAVE_NCCL
  size_t free = 0, total = 0;
  int before = 0;
  cudaGetDevice(&before);
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaSuccess) e = cudaMemGetInfo(&free, &total);
  cudaSetDevice(before);
  if (e != cudaSuccess) {
    source = std::string("GPU ") + std::to_string(device) + ": free memory unknown (" + cudaGetErrorString(e) + ")";
    return 0;
  }
  const int n = std::max(1, sharing);
  source = "GPU " + std::to_string(device) + " free of " + gb(static_cast<double>(total)) +
           (n > 1 ? " / " + std::to_string(n) + " ranks on this GPU" : "");
  return static_cast<double>(free) / n;
#else
  (void)device;
  (void)sharing;
  source = "GPU free memory unknown (built without the CUDA runtime)";
  return 0;
#endif
}

int ranks_on_device(int local_rank, int local_size, int devices) {
  if (devices <= 0) return 1;
  const int d = local_rank % devices;
  int n = 0;
  for (int r = 0; r < local_size; ++r) n += r % devices == d ? 1 : 0;
  return std::max(1, n);
}

}  // namespace toolgrpo::app
