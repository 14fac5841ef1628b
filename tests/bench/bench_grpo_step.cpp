// GRPO step benchmark: the 38.9M-parameter benchmark model (Qwen2, hidden 512, 8 layers, vocab 32000, fp32, the
// built-in byte tokenizer for the text) on 8 ToolRL prompts cut to 256 tokens x 4 samples x 64 new tokens, 4
// optimizer mini-batches, one CPU thread per rank. Under `mpirun -np 2` it runs, one after the other: np 1 (rank 0
// alone), np 2 colocated, np 2 split (1 generating rank, 1 training rank), and prints seconds per phase of one
// step and the training-phase speed-up of np 2 colocated over np 1. Under -np 1 it runs only np 1, with
// --threads threads (default 1).
//   mpirun -np 2 bench_grpo_step            mpirun -np 1 bench_grpo_step --threads 2
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench_cli.hpp"
#include "model/torch_info.hpp"
#include "app/config.hpp"
#include "app/trainer.hpp"
#include "model/byte_tokenizer.hpp"
#include "model/init.hpp"
#include "parallel/runtime.hpp"

using namespace toolgrpo;

namespace {

std::string shared() {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  return env ? env : TOOLGRPO_DEFAULT_SHARED_DATA;
}

double run(const std::string& label, const std::string& model_dir, const std::vector<std::string>& extra,
           const parallel::Comm& comm, int threads) {
  std::vector<std::string> o = {"model.path=" + model_dir, "data.train=" + shared() + "/toolrl/sft.jsonl",
                                "rollout.prompts_per_step=8", "rollout.group_size=4", "rollout.max_prompt_tokens=256",
                                "rollout.max_new_tokens=64", "grpo.mini_batches=4", "grpo.steps=1", "grpo.lr=1e-5"};
  o.insert(o.end(), extra.begin(), extra.end());
  app::TrainOptions opt;
  opt.save = false;
  opt.print = false;
  opt.threads = threads;
  const app::TrainResult r = app::grpo_train(app::config_parse("", label, o, comm.size()), comm, opt);
  const io::MetricsRow& m = r.metrics.back();
  const double train = app::metric(m, "seconds_train");
  if (comm.rank() == 0) {
    const double resp = app::metric(m, "response_length_mean") * 32, tokens = resp + 32 * 256;
    std::printf("grpo_step.%s: step %.2f s = generate %.2f + score %.3f + train %.2f + sync %.3f; "
                "generate %.0f new tok/s, train %.0f tok/s (%.0f sequence tokens)\n",
                label.c_str(), app::metric(m, "seconds_step"), app::metric(m, "seconds_generate"),
                app::metric(m, "seconds_score"), train, app::metric(m, "seconds_sync"),
                resp / app::metric(m, "seconds_generate"), tokens / train, tokens);
    std::fflush(stdout);
  }
  return train;
}

}  // namespace

int main(int argc, char** argv) {
  parallel::Runtime rt(argc, argv);
  int threads = 1;
  const int done = bench::bench_options(
      argc, argv, "bench_grpo_step",
      "One GRPO step of a random 38.9M-parameter Qwen2 model on 8 ToolRL prompts (256 tokens) x 4 samples x 64 "
      "new tokens with the ToolRL reward; under mpirun -np 2 it runs np 1, np 2 colocated and np 2 split; prints "
      "seconds per phase and tokens/s.",
      {{"--threads", "N", "CPU threads per rank (default 1)", bench::to_int(threads)}});
  if (done >= 0) return done;
  const std::string dir = (std::filesystem::temp_directory_path() / ("toolgrpo_bench_model_" + std::to_string(::getppid()))).string();
  if (rt.rank() == 0) {  // the benchmark model as a model directory (random weights, byte tokenizer)
    app::Policy p;
    p.cfg = model::model_preset("qwen2", "bench", 32000);
    p.w = model::decoder_weights_random(p.cfg, 0);
    p.tokenizer_json = model::ByteTokenizer().to_tokenizer_json();
    std::filesystem::create_directories(dir);
    app::policy_save(p, dir);
    std::printf("bench_grpo_step: 38.9M-parameter Qwen2 benchmark model, fp32, 8 prompts x 4 samples, 256 + 64 tokens, "
                "4 mini-batches, %d ranks; %s\n", rt.size(), model::blas_description().c_str());
  }
  rt.world().barrier();
  const parallel::Comm alone = rt.world().split(rt.rank() == 0 ? 0 : -1, 0);
  double np1 = 0;
  if (alone.valid()) np1 = run("np1.threads" + std::to_string(threads), dir, {}, alone, threads);
  rt.world().barrier();
  if (rt.size() >= 2) {
    const double colocated = run("np" + std::to_string(rt.size()) + ".colocated", dir, {}, rt.world(), 1);
    run("np" + std::to_string(rt.size()) + ".split", dir, {"parallel.mode=split", "parallel.generation_ranks=1"}, rt.world(), 1);
    if (rt.rank() == 0)
      std::printf("grpo_step.speedup: training phase np %d colocated vs np 1 = %.2fx (target >= 1.8x at np 2)\n",
                  rt.size(), np1 / colocated);
  }
  rt.world().barrier();
  if (rt.rank() == 0) std::filesystem::remove_all(dir);
  return 0;
}
