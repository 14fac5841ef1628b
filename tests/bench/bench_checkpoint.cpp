// Checkpoint benchmark: save and load throughput (MB/s) and the seconds training is blocked per save, for the
// 38.9M-parameter benchmark model and for a random model in Qwen2.5-0.5B's exact shape (494M parameters, fp32
// weights + AdamW moments = 5.9 GB), next to `dd` writing the same number of bytes to the same disk (with
// fsync). Loads are measured cold (the file's pages dropped from the page cache with posix_fadvise) and warm.
//   bench_checkpoint [--model bench|qwen2.5-0.5b|all] [--dir DIR] [--no-prepare] [--help]
// Under mpirun -np N (N >= 2) it measures a sharded optimizer's saves instead: all ranks writing one file
// together (parallel HDF5) against the moments gathered on rank 0. Not a test: it prints one line per figure.
// It uses no BLAS (the figures are disk and memory bound).
#include <fcntl.h>
#include <unistd.h>

#include <ATen/Functions.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "app/train/checkpoint.hpp"
#include "io/checkpoint_file.hpp"
#include "model/init.hpp"
#include "parallel/runtime.hpp"

using namespace toolgrpo;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

model::ModelConfig qwen25_05b_shape() {
  model::ModelConfig c = model::model_preset("qwen2", "qwen2.5-0.5b", 151936);
  c.eos_token_ids = {151645, 151643};
  return c;
}

void drop_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

double dd_seconds(const std::string& dir, double bytes) {
  const std::string file = dir + "/dd.bin";
  const long count = static_cast<long>(bytes / (8 << 20)) + 1;
  const std::string cmd = "dd if=/dev/zero of=" + file + " bs=8M count=" + std::to_string(count) + " conv=fsync status=none";
  const auto t = Clock::now();
  const int rc = std::system(cmd.c_str());
  const double s = since(t);
  fs::remove(file);
  return rc == 0 ? s * bytes / (static_cast<double>(count) * (8 << 20)) : -1;
}

// A run state at step 7 with random weights and an AdamW (its moments split over `comm` when `sharded`).
void random_state(app::RunState& s, const std::string& label, const model::ModelConfig& cfg, const parallel::Comm& comm,
                  bool sharded) {
  s.policy.cfg = cfg;
  s.policy.w = model::decoder_weights_random(cfg, 1);
  s.policy.tokenizer_json = "{}";
  s.policy.origin = {app::OriginKind::Preset, label, 1, 0};
  s.reference = s.policy.origin;
  s.learner = std::make_unique<app::Learner>(app::policy_parameters(s.policy), 0.01, comm, sharded);
  s.step = 7;
}

void bench(const std::string& label, const model::ModelConfig& cfg, const std::string& dir, const parallel::Comm& comm,
           bool prepare) {
  std::printf("checkpoint.%s: building random weights and AdamW moments ...\n", label.c_str());
  std::fflush(stdout);
  app::RunState s;
  random_state(s, label, cfg, comm, false);
  for (auto m : s.learner->exp_avg()) m.normal_(0, 1e-3);
  for (auto v : s.learner->exp_avg_sq()) v.uniform_(0, 1e-6);
  s.learner->set_optimizer_steps(7);
  app::RunFacts facts;
  facts.kind = "grpo";
  facts.config_yaml = "run:\n  seed: 1\n";
  const std::string ckdir = dir + "/" + label;
  fs::remove_all(ckdir);
  app::CheckpointSection sync_cfg;
  sync_cfg.async = false;
  sync_cfg.keep = 5;
  app::CheckpointSection async_cfg = sync_cfg;
  async_cfg.async = true;

  const std::string file = ckdir + "/" + io::checkpoint_file_name(s.step);
  double bytes = 0, sync_seconds = 0, async_seconds = 0;
  {
    app::CheckpointSaver saver(ckdir, sync_cfg, true);
    for (const char* which : {"first", "later"}) {
      const double t = saver.save(s, facts);
      if (bytes == 0) bytes = static_cast<double>(fs::file_size(file));
      sync_seconds = t;
      std::printf("checkpoint.%s.save_sync_%s: %.0f MB in %.2f s = %.0f MB/s (blocking %.2f s)\n", label.c_str(), which,
                  bytes / 1e6, t, bytes / 1e6 / t, t);
      ++s.step;
    }
  }
  {
    // Two saves through one saver, as in a run. A run prepares the snapshot's buffers in the background when it
    // starts (--no-prepare: the first save allocates them, and blocks for the page faults); every save reuses them.
    app::CheckpointSaver saver(ckdir, async_cfg, true);
    if (prepare) {
      const auto t0 = Clock::now();
      saver.prepare(s);
      saver.wait();
      std::printf("checkpoint.%s.prepare: snapshot buffers allocated in the background in %.2f s (at the start of a run)\n",
                  label.c_str(), since(t0));
    }
    for (const char* which : {"first", "later"}) {
      const auto t0 = Clock::now();
      const double blocked = saver.save(s, facts);
      saver.wait();
      const double total = since(t0);
      if (std::string(which) == "later") async_seconds = saver.write_seconds();
      std::printf("checkpoint.%s.save_async_%s: blocking %.3f s (host snapshot, %.1f GB/s), background write %.2f s "
                  "= %.0f MB/s, complete after %.2f s\n",
                  label.c_str(), which, blocked, bytes / 1e9 / blocked, saver.write_seconds(),
                  bytes / 1e6 / saver.write_seconds(), total);
      ++s.step;  // the next save is another file, as in a run
    }
  }
  const double dd = dd_seconds(dir, bytes);
  std::printf("checkpoint.%s.dd: %.0f MB with dd conv=fsync in %.2f s = %.0f MB/s; save = %.0f%% (sync), %.0f%% (async) "
              "of dd (target >= 70%%)\n",
              label.c_str(), bytes / 1e6, dd, bytes / 1e6 / dd, 100 * dd / sync_seconds, 100 * dd / async_seconds);
  for (const char* mode : {"cold", "warm"}) {
    if (std::string(mode) == "cold") drop_cache(file);
    const auto t0 = Clock::now();
    const app::LoadedCheckpoint l = app::checkpoint_load(file, true);
    const double t = since(t0);
    std::printf("checkpoint.%s.load_%s: %.0f MB in %.2f s = %.0f MB/s (every tensor's CRC-32C verified)\n", label.c_str(),
                mode, bytes / 1e6, t, bytes / 1e6 / t);
  }
  std::fflush(stdout);
  fs::remove_all(ckdir);
}

// Under mpirun with 2+ ranks: the AdamW moments sharded over the ranks (parallel.shard_optimizer). Saves
// written by all ranks together (parallel HDF5, checkpoint.collective) against the moments gathered on rank
// 0, which writes alone (synchronously, and from its host snapshot in the background).
void bench_sharded(const std::string& label, const model::ModelConfig& cfg, const std::string& dir,
                   const parallel::Comm& comm) {
  const bool lead = comm.rank() == 0;
  if (lead)
    std::printf("checkpoint.%s.sharded_np%d: building random weights ...\n", label.c_str(), comm.size());
  std::fflush(stdout);
  app::RunState s;
  random_state(s, label, cfg, comm, true);
  app::RunFacts facts;
  facts.kind = "grpo";
  facts.config_yaml = "run:\n  seed: 1\n";
  const std::string ckdir = dir + "/" + label + "_sharded";
  if (lead) fs::remove_all(ckdir);
  comm.barrier();
  struct Mode {
    const char* name;
    bool collective, async;
  };
  for (const Mode m : {Mode{"together", true, false}, Mode{"gathered_sync", false, false},
                       Mode{"gathered_async", false, true}}) {
    app::CheckpointSection c;
    c.keep = 2;
    c.async = m.async;
    c.collective = m.collective;
    app::CheckpointSaver saver(ckdir, c, lead, -1, true, m.collective);
    if (m.async) {
      saver.prepare(s);
      saver.wait();
    }
    for (const char* which : {"first", "later"}) {
      comm.barrier();
      const auto t0 = Clock::now();
      const double blocked = comm.allreduce_max(saver.save(s, facts));
      saver.wait();
      comm.barrier();
      const double total = since(t0);
      const double bytes =
          lead ? static_cast<double>(fs::file_size(ckdir + "/" + io::checkpoint_file_name(s.step))) : 0;
      if (lead)
        std::printf(
            "checkpoint.%s.sharded_np%d.%s_%s: %.0f MB, training blocked %.2f s, complete after %.2f s = "
            "%.0f "
            "MB/s\n",
            label.c_str(), comm.size(), m.name, which, bytes / 1e6, blocked, total, bytes / 1e6 / total);
      std::fflush(stdout);
      ++s.step;
    }
  }
  comm.barrier();
  if (lead) fs::remove_all(ckdir);
}

}  // namespace

int main(int argc, char** argv) {
  parallel::Runtime rt(argc, argv);
  std::string which = "all", dir = fs::temp_directory_path().string() + "/toolgrpo_bench_checkpoint";
  bool prepare = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: bench_checkpoint [--model bench|qwen2.5-0.5b|all] [--dir DIR] [--no-prepare]\n"
          "Checkpoint save/load throughput and blocking seconds next to dd on the same disk (DIR, default "
          "%s).\n"
          "Under mpirun with 2+ ranks: a sharded optimizer's saves, written together or gathered on rank "
          "0.\n",
          dir.c_str());
      return 0;
    }
    if (a == "--no-prepare") {
      prepare = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_checkpoint: %s needs a value (see --help)\n", a.c_str());
      return 2;
    }
    if (a == "--model") which = argv[++i];
    else if (a == "--dir") dir = argv[++i];
    else {
      std::fprintf(stderr, "bench_checkpoint: unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  fs::create_directories(dir);
  const parallel::Comm& world = rt.world();
  if (world.rank() == 0)
    std::printf(
        "bench_checkpoint: HDF5 checkpoints in %s, %d rank(s); BLAS: not used (disk and memory bound)\n",
        dir.c_str(), world.size());
  const auto one = [&](const std::string& label, const model::ModelConfig& cfg) {
    if (world.size() > 1)
      bench_sharded(label, cfg, dir, world);
    else
      bench(label, cfg, dir, world, prepare);
  };
  if (which == "bench" || which == "all") one("bench38.9M", model::model_preset("qwen2", "bench", 32000));
  if (which == "qwen2.5-0.5b" || which == "all") one("qwen2.5-0.5b", qwen25_05b_shape());
  return 0;
}
