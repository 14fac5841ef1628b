// Rollout benchmark (CPU, or --device cuda): by default a Qwen2-architecture random model (hidden 512, 8 layers, 8 query / 2 KV heads,
// intermediate 1408, vocab 32000, tied: 38.9M parameters), 8 prompts x group 4, prompts of 256 random tokens,
// 64 new tokens sampled at temperature 1 without early stop, fp32. Prints wall time, prefill and decode
// tokens/s, the same for a larger batch, and a job of very different lengths (an end-of-sequence share of the
// vocabulary: 128 new tokens at most) with finished samples leaving the batch and, for comparison, kept to the
// end. --shape qwen2.5-1.5b --device cuda --dtype bf16 --prompts 128 --new 256 is the GPU check's job (a random
// model in Qwen2.5-1.5B's exact shape).   bench_rollout [--threads 2] [--prompts 8] [--large-prompts 32]
// [--eos-share 0.03] [--shape bench|qwen2.5-1.5b] [--device cpu|cuda] [--dtype fp32|bf16] [--new 64] [--top-p 1]
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>

#include "bench_cli.hpp"
#include "model/torch_info.hpp"
#include "model/config.hpp"
#include "model/generate.hpp"
#include "model/init.hpp"

using namespace toolgrpo::model;

namespace {

// The benchmark model of the rollout and training figures: the built-in "bench" preset (Qwen2, hidden 512, 8
// layers, 8 query / 2 KV heads, intermediate 1408) with a 32000-token vocabulary, tied: 38.9M parameters.
ModelConfig bench_config(const std::string& shape) {
  return shape == "bench" ? model_preset("qwen2", "bench", 32000) : model_preset("qwen2", shape, 151936);
}


// new_tokens per sample; eos_share > 0: that share of the vocabulary ends a sample, so lengths spread up to
// twice new_tokens.
void run(const ModelConfig& cfg, const DecoderWeights& w, int prompts, int64_t new_tokens, double top_p,
         const char* label, double eos_share = 0, bool compact = true) {
  std::mt19937_64 rng(7);
  GenerationRequest req;
  for (int p = 0; p < prompts; ++p) {
    std::vector<int64_t> ids(256);
    for (auto& t : ids) t = static_cast<int64_t>(3 + rng() % (cfg.vocab_size - 3));
    req.prompts.push_back(ids);
  }
  req.group_size = 4;
  req.workers = w.embed.device().is_cpu() ? at::get_num_threads() : 1;
  req.seed = 1;
  req.sampling.temperature = 1.0;
  req.sampling.top_p = top_p;
  req.sampling.max_new_tokens = new_tokens;  // no EOS: every sample runs to the end
  req.compact_finished = compact;
  if (eos_share > 0) {
    req.sampling.max_new_tokens = 2 * new_tokens;
    for (int64_t id = 3; id < 3 + static_cast<int64_t>(eos_share * static_cast<double>(cfg.vocab_size)); ++id)
      req.sampling.eos_token_ids.push_back(id);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const GenerationResult r = generate(cfg, w, req);  // ends with the tokens on the host: the device is done
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t longest = 0;
  for (int64_t len : r.lengths) longest = std::max(longest, len);
  std::printf("rollout.%s prompts=%d group=4 prompt_len=256 new<=%lld: wall %.2f s, prefill %.0f tok/s (%.2f s), "
              "decode %.0f tok/s (%.2f s), mean length %.1f, longest %lld\n",
              label, prompts, static_cast<long long>(req.sampling.max_new_tokens), wall,
              r.prefill_tokens / r.prefill_seconds, r.prefill_seconds, r.decode_tokens / r.decode_seconds,
              r.decode_seconds, static_cast<double>(r.decode_tokens) / static_cast<double>(r.lengths.size()),
              static_cast<long long>(longest));
  std::printf("rollout.%s new tokens/s %.0f, wall tokens/s %.0f", label, r.decode_tokens / r.decode_seconds,
              static_cast<double>(r.decode_tokens) / wall);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, prompts = 8, large = 32;
  double eos_share = 0.03, top_p = 1.0;
  int64_t new_tokens = 64;
  std::string shape = "bench", device = "cpu", dtype = "fp32";
  const int done = toolgrpo::bench::bench_options(
      argc, argv, "bench_rollout",
      "Samples 4 completions of --new tokens for each prompt of 256 random tokens from a random Qwen2 model "
      "(38.9M parameters, or --shape; KV cache, prefix sharing); prints wall, prefill and decode tokens/s per job.",
      {{"--threads", "N", "CPU threads (default 2)", toolgrpo::bench::to_int(threads)},
       {"--prompts", "N", "prompts of the main job (default 8)", toolgrpo::bench::to_int(prompts)},
       {"--large-prompts", "N", "prompts of the larger job, 0 = skip it (default 32)", toolgrpo::bench::to_int(large)},
       {"--eos-share", "X", "share of the vocabulary that ends a sample in the mixed-length job, 0 = skip it "
        "(default 0.03)", toolgrpo::bench::to_double(eos_share)},
       {"--shape", "NAME", "bench (38.9M, vocabulary 32000; default) or qwen2.5-0.5b / qwen2.5-1.5b (the real shapes, "
        "vocabulary 151936)", toolgrpo::bench::to_text(shape)},
       {"--device", "D", "cpu (default) or cuda", toolgrpo::bench::to_text(device)},
       {"--dtype", "T", "fp32 (default) or bf16", toolgrpo::bench::to_text(dtype)},
       {"--new", "N", "new tokens of the fixed-length jobs (default 64)", toolgrpo::bench::to_int64(new_tokens)},
       {"--top-p", "X", "nucleus mass of every job (default 1: off)", toolgrpo::bench::to_double(top_p)}});
  if (done >= 0) return done;
  at::set_num_threads(threads);
  at::NoGradGuard no_grad;
  const ModelConfig cfg = bench_config(shape);
  const at::Device dev = device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  DecoderWeights w = decoder_weights_to(decoder_weights_random(cfg, 0), dev);
  if (dtype == "bf16") w = decoder_weights_cast_layers(w, at::kBFloat16);  // as model.dtype bf16 generates
  else if (dtype != "fp32") throw std::invalid_argument("--dtype: fp32 or bf16, got " + dtype);
  int64_t n = 0;
  for (const auto& [name, t] : decoder_named_parameters(cfg, w)) n += t.numel();
  std::printf("bench_rollout: %s shape, %.1fM parameters, %s on %s, %d threads, top_p %g; %s\n", shape.c_str(),
              n / 1e6, dtype.c_str(), device.c_str(), threads, top_p, blas_description().c_str());
  run(cfg, w, prompts, new_tokens, top_p, "job");
  if (large > 0) run(cfg, w, large, new_tokens, top_p, "large");
  if (eos_share > 0) {
    run(cfg, w, prompts, new_tokens, top_p, "mixed_compact", eos_share, true);
    run(cfg, w, prompts, new_tokens, top_p, "mixed_kept", eos_share, false);
  }
  return 0;
}
