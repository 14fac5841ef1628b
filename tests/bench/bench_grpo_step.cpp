// GRPO step benchmark.
// --model bench (default): the 38.9M-parameter benchmark model (Qwen2, hidden 512, 8 layers, vocab 32000,
// fp32, the built-in byte tokenizer for the text) on 8 ToolRL prompts cut to 256 tokens x 4 samples x 64 new
// tokens, 4 optimizer mini-batches, one CPU thread per rank. Under `mpirun -np 2` it runs, one after the
// other: np 1 (rank 0 alone), np 2 colocated, np 2 split (1 generating rank, 1 training rank), and prints
// seconds per phase of one step and the training-phase speed-up of np 2 colocated over np 1. Under -np 1 it
// runs only np 1, with
// --threads threads (default 1).
// --model qwen2.5-0.5b-shape: a random model in Qwen2.5-0.5B's exact shape (494M parameters, vocabulary
// 151,936) with the real Qwen2.5 tokenizer, on 4 ToolRL test prompts x 4 samples x 64 new tokens, one
// mini-batch, every sequence trained (a random model's advantages are all 0), on all ranks colocated; one
// step per switch setting
// (--switches, default all): seconds per phase, training tokens/s and peak RSS per rank of each.
//   mpirun -np 2 bench_grpo_step            mpirun -np 1 bench_grpo_step --threads 2
//   mpirun -np 1 bench_grpo_step --model qwen2.5-0.5b-shape --switches off,head,head+share
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "app/config/config.hpp"
#include "app/train/memory_plan.hpp"
#include "app/train/trainer.hpp"
#include "bench_cli.hpp"
#include "model/byte_tokenizer.hpp"
#include "model/init.hpp"
#include "model/torch_info.hpp"
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

// The switch settings of the real-shape run: name -> config overrides.
struct SwitchSetting {
  const char* name;
  const char* what;
  std::vector<std::string> overrides;
};
const std::vector<SwitchSetting>& switch_settings() {
  static const std::vector<SwitchSetting> s = {
      {"off",
       "head over every position, each sample's prompt forwarded again",
       {"grpo.response_only_head=false", "grpo.prefix_sharing=false"}},
      {"head", "response-only head", {"grpo.prefix_sharing=false"}},
      {"head+share", "response-only head, prefix-shared prompts (the defaults)", {}},
      {"head+share+ckpt",
       "the defaults with activation checkpointing",
       {"grpo.activation_checkpointing=true"}},
      {"head+share+ckpt+shard",
       "the defaults with activation checkpointing and the sharded optimizer",
       {"grpo.activation_checkpointing=true", "parallel.shard_optimizer=true"}},
      {"head+share+bf16", "the defaults in bf16 mixed precision", {"model.dtype=bf16"}},
      {"head+share+ckpt+shard+bf16",
       "the defaults with activation checkpointing, the sharded optimizer and bf16 mixed precision",
       {"grpo.activation_checkpointing=true", "parallel.shard_optimizer=true", "model.dtype=bf16"}},
  };
  return s;
}

// Writes the random Qwen2.5-0.5B-shaped model with the Qwen2.5 tokenizer to `dir`.
// `layers` < 24 keeps every other dimension and drops layers (a quicker look at the same shapes).
void write_real_shape_model(const std::string& dir, int layers) {
  app::Policy p;
  p.cfg = model::model_preset("qwen2", "qwen2.5-0.5b", 151936);
  p.cfg.num_layers = layers;
  p.cfg.bos_token_id = 151643;             // <|endoftext|>
  p.cfg.eos_token_ids = {151643, 151645};  // <|endoftext|>, <|im_end|>
  p.w = model::decoder_weights_random(p.cfg, 0);
  std::ifstream in(shared() + "/tokenizers/qwen2.5/tokenizer.json");
  if (!in) throw std::runtime_error(shared() + "/tokenizers/qwen2.5/tokenizer.json: cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  p.tokenizer_json = text.str();
  std::filesystem::create_directories(dir);
  app::policy_save(p, dir);
}

int real_shape(parallel::Runtime& rt, const std::string& dir, const std::string& wanted, int threads,
               int layers, int budget) {
  std::vector<const SwitchSetting*> runs;
  std::stringstream list(wanted);
  for (std::string name; std::getline(list, name, ',');) {
    const SwitchSetting* found = nullptr;
    for (const auto& s : switch_settings())
      if (name == s.name || wanted == "all") found = &s;
    if (found == nullptr) {
      if (rt.rank() == 0)
        std::fprintf(stderr, "bench_grpo_step: --switches: unknown setting '%s' (see --help)\n",
                     name.c_str());
      return 2;
    }
    if (wanted == "all") {
      for (const auto& s : switch_settings()) runs.push_back(&s);
      break;
    }
    runs.push_back(found);
  }
  if (rt.rank() == 0) {
    write_real_shape_model(dir, layers);
    std::printf(
        "bench_grpo_step: random Qwen2.5-0.5B-shaped model (%s, vocabulary 151936, fp32), Qwen2.5 tokenizer, "
        "4 ToolRL test prompts x 4 samples x 64 new tokens, 1 mini-batch, micro_batch_tokens %d, %d ranks "
        "colocated, %d threads per rank; %s\n",
        layers == 24 ? "494M parameters" : (std::to_string(layers) + " of its 24 layers").c_str(), budget,
        rt.size(), threads, model::blas_description().c_str());
    std::fflush(stdout);
  }
  rt.world().barrier();
  std::vector<std::pair<std::string, double>> train_s;
  for (const SwitchSetting* s : runs) {
    std::vector<std::string> o = {"model.path=" + dir,
                                  "data.train=" + shared() + "/toolrl/test.jsonl",
                                  "rollout.prompts_per_step=4",
                                  "rollout.group_size=4",
                                  "rollout.max_prompt_tokens=1024",
                                  "rollout.max_new_tokens=64",
                                  "grpo.mini_batches=1",
                                  "grpo.steps=1",
                                  "grpo.lr=1e-6",
                                  "grpo.micro_batch_tokens=" + std::to_string(budget),
                                  "grpo.skip_zero_advantage=false",
                                  "run.seed=3"};
    o.insert(o.end(), s->overrides.begin(), s->overrides.end());
    app::TrainOptions opt;
    opt.save = false;
    opt.print = false;
    opt.threads = threads;
    ::malloc_trim(
        0);  // the previous setting's freed heap goes back to the system, so the memory plan sees it
    const double before = rt.world().allreduce_max(app::process_memory().resident);
    app::process_memory_peak_restart();
    app::TrainResult r;
    try {
      r = app::grpo_train(app::config_parse("", s->name, o, rt.size()), rt.world(), opt);
    } catch (
        const std::exception& e) {  // e.g. the memory plan refuses a setting: report it, go on with the next
      if (rt.rank() == 0) std::printf("grpo_step.%s: not run: %s\n", s->name, e.what());
      continue;
    }
    const double peak = rt.world().allreduce_max(app::process_memory().peak);
    const io::MetricsRow& m = r.metrics.back();
    const double train = app::metric(m, "seconds_train");
    train_s.emplace_back(s->name, train);
    if (rt.rank() == 0) {
      // Sequence tokens: every sample's prompt and response, as an expanded batch holds them (the same
      // measure for every setting, so the rates compare). The step's token metric counts each group's prompt
      // once.
      const double responses = 16 * app::metric(m, "response_length_mean");
      const double prompts = app::metric(m, "tokens_per_s") * app::metric(m, "seconds_step") - responses;
      const double tokens = 4 * prompts + responses;
      std::printf(
          "grpo_step.%s: step %.1f s = generate %.1f + score %.3f + train %.1f; train %.0f sequence tok/s "
          "(%.0f tokens); peak RSS %.2f GB per rank (%.2f GB resident before); %s\n",
          s->name, app::metric(m, "seconds_step"), app::metric(m, "seconds_generate"),
          app::metric(m, "seconds_score"), train, tokens / std::max(1e-9, train), tokens, peak / 1e9,
          before / 1e9, s->what);
      std::fflush(stdout);
    }
  }
  if (rt.rank() == 0) {
    double off = 0, both = 0;
    for (const auto& [n, t] : train_s) {
      if (n == "off") off = t;
      if (n == "head+share") both = t;
    }
    if (off > 0 && both > 0)
      std::printf("grpo_step.speedup: training phase head+share vs off = %.2fx (target >= 2.5x)\n",
                  off / both);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  parallel::Runtime rt(argc, argv);
  int threads = 1, layers = 24, budget = 1536;
  std::string model_name = "bench", switches = "all";
  const int done = bench::bench_options(
      argc, argv, "bench_grpo_step",
      "One GRPO step with the ToolRL reward. --model bench: a random 38.9M-parameter Qwen2 model on 8 ToolRL "
      "prompts (256 tokens) x 4 samples x 64 new tokens; under mpirun -np 2 it runs np 1, np 2 colocated and "
      "np 2 "
      "split. --model qwen2.5-0.5b-shape: a random model of Qwen2.5-0.5B's shape with the Qwen2.5 tokenizer "
      "on 4 "
      "ToolRL test prompts x 4 samples x 64 new tokens, one step per switch setting on all ranks. Prints "
      "seconds "
      "per phase, tokens/s and (real shape) peak RSS per rank.",
      {{"--threads", "N", "CPU threads per rank (default 1)", bench::to_int(threads)},
       {"--model", "NAME", "bench or qwen2.5-0.5b-shape (default bench)", bench::to_text(model_name)},
       {"--switches", "LIST",
        "real shape: comma-separated settings among off, head, head+share, "
        "head+share+ckpt, head+share+ckpt+shard, head+share+bf16, head+share+ckpt+shard+bf16, or all "
        "(default all)",
        bench::to_text(switches)},
       {"--layers", "N", "real shape: decoder layers (default 24, the model's; fewer for a quicker look)",
        bench::to_int(layers)},
       {"--micro-batch-tokens", "N",
        "real shape: grpo.micro_batch_tokens of every setting (default 1536: the longest group, a 1024-token "
        "prompt and 4 x 64 response tokens, fits one prefix-shared row)",
        bench::to_int(budget)}});
  if (done >= 0) return done;
  if (model_name != "bench" && model_name != "qwen2.5-0.5b-shape") {
    if (rt.rank() == 0)
      std::fprintf(stderr, "bench_grpo_step: --model must be bench or qwen2.5-0.5b-shape, got '%s'\n",
                   model_name.c_str());
    return 2;
  }
  const std::string dir = (std::filesystem::temp_directory_path() / ("toolgrpo_bench_model_" + std::to_string(::getppid()))).string();
  if (model_name == "qwen2.5-0.5b-shape") {
    if (layers < 1 || layers > 24) {
      if (rt.rank() == 0) std::fprintf(stderr, "bench_grpo_step: --layers must be 1 to 24, got %d\n", layers);
      return 2;
    }
    const int rc = real_shape(rt, dir, switches, threads, layers, budget);
    rt.world().barrier();
    if (rt.rank() == 0) std::filesystem::remove_all(dir);
    return rc;
  }
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
