// CPU training-speed benchmark: forward (model::token_logprobs, chunked vocabulary projection) + GRPO loss
// + backward + AdamW on the bench_rollout model (Qwen2, hidden 512, 8 layers, 8 query / 2 KV heads, vocab
// 32000, tied: 38.9M parameters), 8 sequences x 320 random tokens, full mask, fp32. One warm-up step, then
// `--steps` timed ones; prints median / best tokens/s, the forward / backward / optimizer split, peak RSS.
//   bench_train [--threads 2] [--steps 5] [--chunk 512]
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_cli.hpp"
#include "model/config.hpp"
#include "model/decoder.hpp"
#include "model/grpo_loss.hpp"
#include "model/init.hpp"
#include "model/optimizer.hpp"
#include "model/torch_info.hpp"

using namespace toolgrpo::model;

namespace {

// The benchmark model of the rollout and training figures: the built-in "bench" preset (Qwen2, hidden 512, 8
// layers, 8 query / 2 KV heads, intermediate 1408) with a 32000-token vocabulary, tied: 38.9M parameters.
ModelConfig bench_config() { return model_preset("qwen2", "bench", 32000); }

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct StepTimes {
  double forward = 0, backward = 0, optimizer = 0;
  double total() const { return forward + backward + optimizer; }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 5;
  int64_t chunk = 512;
  const int done = toolgrpo::bench::bench_options(
      argc, argv, "bench_train",
      "Forward + GRPO loss + backward + AdamW of a random 38.9M-parameter Qwen2 model on 8 sequences x 320 "
      "tokens (fp32), one warm-up step then the timed ones; prints median / best tokens/s, the phase split and "
      "peak RSS.",
      {{"--threads", "N", "CPU threads (default 2)", toolgrpo::bench::to_int(threads)},
       {"--steps", "N", "timed steps (default 5)", toolgrpo::bench::to_int(steps)},
       {"--chunk", "N", "positions per pass of the vocabulary head (default 512)", toolgrpo::bench::to_int64(chunk)}});
  if (done >= 0) return done;
  cpu_allocator_keep_memory();  // as the trainer does
  cpu_threads_set(threads);  // as the trainer does: OpenBLAS on `threads`, ATen's pool per OMP_WAIT_POLICY
  const int64_t B = 8, T = 320;
  const ModelConfig cfg = bench_config();
  const DecoderWeights w = decoder_weights_random(cfg, 0);
  std::vector<at::Tensor> params;
  int64_t n = 0;
  for (const auto& [name, t] : decoder_named_parameters(cfg, w)) {
    t.requires_grad_(true);
    params.push_back(t);
    n += t.numel();
  }
  std::printf("bench_train: %.1fM parameters, fp32, %d threads, batch %lld x %lld tokens, chunk %lld\n",
              n / 1e6, threads, static_cast<long long>(B), static_cast<long long>(T),
              static_cast<long long>(chunk));
  std::printf("bench_train: %s\n", blas_description().c_str());

  at::manual_seed(1);
  const at::Tensor ids = at::randint(3, cfg.vocab_size, {B, T}, at::kLong);
  const at::Tensor mask = at::ones({B, T}, at::kLong);
  const at::Tensor response = at::ones({B, T - 1}, at::kFloat);
  const at::Tensor advantages = at::randn({B}, at::kFloat);
  AdamW opt(params, AdamWConfig{});
  PolicyLossConfig loss_cfg;

  std::vector<StepTimes> times;
  for (int s = 0; s <= steps; ++s) {  // step 0 warms up allocator, OpenBLAS buffers and autograd
    StepTimes st;
    auto t0 = Clock::now();
    LogprobOptions o;
    o.chunk = chunk;
    const TokenLogprobs lp = token_logprobs(cfg, w, ids, mask, o);
    // On-policy: old log-probs equal the current ones, as in the first mini-batch of a GRPO step.
    const PolicyLoss loss =
        grpo_policy_loss(lp.logprobs, lp.logprobs.detach(), advantages, response, loss_cfg);
    st.forward = seconds_since(t0);
    t0 = Clock::now();
    loss.loss.backward();
    st.backward = seconds_since(t0);
    t0 = Clock::now();
    opt.step(1e-5);
    opt.zero_grad();
    st.optimizer = seconds_since(t0);
    if (s > 0) times.push_back(st);
  }

  std::vector<double> total, fwd, bwd, optim;
  for (const StepTimes& t : times) {
    total.push_back(t.total());
    fwd.push_back(t.forward);
    bwd.push_back(t.backward);
    optim.push_back(t.optimizer);
  }
  const double tokens = static_cast<double>(B * T);
  const double best = *std::min_element(total.begin(), total.end());
  std::printf("train.speed steps=%d: median %.0f tok/s (%.3f s/step), best %.0f tok/s (%.3f s/step)\n", steps,
              tokens / median(total), median(total), tokens / best, best);
  std::printf("train.split median: forward %.3f s, backward %.3f s, optimizer %.3f s\n", median(fwd),
              median(bwd), median(optim));
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("train.memory peak RSS %.0f MiB\n", ru.ru_maxrss / 1024.0);
  return 0;
}
