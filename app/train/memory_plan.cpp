// The memory plan; see memory_plan.hpp. Sizes in fp32 floats (bf16 halves the activations, the KV cache and
// the compute copy of the layers; the vocabulary head stays fp32), following what autograd keeps for backward
// in model/decoder.cpp per token and layer: the two RMS-norm inputs and outputs (4 h), q, k and v with their
// rotated copies, the scaled query and the attention output before o_proj (6 q + 4 kv), the MLP's gate, its
// SiLU, up and their product (4 inter), and the attention probabilities (heads x sequence length).
#include "app/train/memory_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace toolgrpo::app {
namespace {

constexpr double kFloat = 4;
constexpr double kRuntimeBytes = 0.25e9;  // libtorch, MPI, thread pools (measured: 0.17-0.22 GB)

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

MemoryPlan memory_plan(const model::ModelConfig& c, const MemoryWorkload& w, double available_bytes,
                       const std::string& available_source) {
  MemoryPlan p;
  p.available = available_bytes;
  p.available_source = available_source;
  p.notes = w.notes;
  const double P = static_cast<double>(model::parameter_count(c)), h = static_cast<double>(c.hidden_size),
               q = static_cast<double>(c.num_heads * c.head_dim), kv = static_cast<double>(c.num_kv_heads * c.head_dim),
               inter = static_cast<double>(c.intermediate_size), heads = static_cast<double>(c.num_heads),
               layers = static_cast<double>(c.num_layers), vocab = static_cast<double>(c.vocab_size);
  const std::string params = std::to_string(model::parameter_count(c)) + " parameters";
  double persistent = 0;
  const auto add = [&](const std::string& name, double bytes, const std::string& detail) {
    p.parts.push_back({name, bytes, detail});
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
  if (w.snapshot) persistent += add("checkpoint snapshot", 3 * P * kFloat, "checkpoint.async host copy");
  if (w.gathers_moments)
    persistent += add("checkpoint gather", 2 * P * kFloat, "sharded moments collected to write");
  persistent += add("runtime", kRuntimeBytes, "libraries and thread pools");

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
  }
  double generation = 0;
  if (w.gen_sequences > 0) {
    const double cached = static_cast<double>(w.gen_prompt_tokens) +
                          static_cast<double>(w.gen_sequences) * static_cast<double>(w.gen_new_tokens);
    const double lp = static_cast<double>(w.gen_longest_prompt), prompts = static_cast<double>(w.gen_prompt_tokens);
    generation += add("generation",
                      layers * 2 * kv * cached * act +                                 // KV cache
                          2 * static_cast<double>(w.gen_sequences) * vocab * kFloat +  // logits
                          prompts * (4 * h + 3 * inter + heads * lp) * act,            // a prefill layer
                      std::to_string(w.gen_sequences) + " sequences, KV cache of " +
                          std::to_string(static_cast<int64_t>(cached)) + " tokens");
  }
  p.peak = persistent + std::max(training, generation);
  return p;
}

std::string MemoryPlan::table() const {
  std::ostringstream s;
  s << "memory plan (estimated peak per rank):\n";
  for (const MemoryPart& m : parts) {
    char line[96];
    std::snprintf(line, sizeof line, "  %-20s %10s", m.name.c_str(), gb(m.bytes).c_str());
    s << line << "  " << m.detail << "\n";
  }
  char line[96];
  std::snprintf(line, sizeof line, "  %-20s %10s", "peak", gb(peak).c_str());
  s << line << "  of " << gb(available) << " available (" << available_source << ")";
  for (const std::string& n : notes) s << "\n  note: " << n;
  return s.str();
}

MemoryReading memory_reading() {
  MemoryReading m;
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

}  // namespace toolgrpo::app
