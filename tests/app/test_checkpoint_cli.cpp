// Checkpoints as a user meets them, through the executable: a stop signal during generation and during training
// under mpirun (exit code 75 on every rank, a checkpoint, then a resume that finishes), the local runner looping
// on the requeue code, a process killed with SIGKILL in the middle of a save, damaged checkpoints (truncated,
// bit-flipped) named and skipped, the time limit, DONE (a finished run extended by raising grpo.steps, or left
// alone), the Slurm and PBS batch scripts on a finished run (with stand-in scheduler commands), `ckpt info`, and
// damaged checkpoints given to ckpt info, export and generate: exit code 2, one line naming the file, and no
// library detail (libtorch backtrace, HDF5 error stack) unless --verbose or TOOLGRPO_VERBOSE=1 asks for it.
// A finished run's checkpoint is read with the raw HDF5 C API by the names README documents, and its weights
// compared with the run's model.safetensors read by a few lines of JSON here — neither through the checkpoint code.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "io/checkpoint_file.hpp"
#include "tests/app/cli_run.hpp"

namespace fs = std::filesystem;

namespace {

using namespace toolgrpo::testing;

constexpr int kRequeue = 75;

std::string train_args(const fs::path& out, const std::string& name, int steps) {
  return "train data.train=" + shared() + "/toolrl/test.jsonl run.out_dir=" + out.string() + " run.name=" + name +
         " rollout.prompts_per_step=2 rollout.group_size=2 rollout.max_new_tokens=8 rollout.max_prompt_tokens=48"
         " grpo.mini_batches=2 grpo.kl_coef=0.01 grpo.steps=" + std::to_string(steps);
}

std::string ckpt(int step) {
  char b[32];
  std::snprintf(b, sizeof b, "ckpt-%08d.h5", step);
  return b;
}

std::string latest_of(const fs::path& run) {
  const auto l = lines_of(run / "checkpoints" / "latest");
  return l.empty() ? "" : l[0];
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A tensor of a safetensors file, as raw little-endian bytes (format: u64 header length, JSON header, data).
std::string safetensors_bytes(const fs::path& file, const std::string& name) {
  const std::string all = slurp(file);
  uint64_t n = 0;
  std::memcpy(&n, all.data(), 8);
  const auto header = nlohmann::json::parse(all.substr(8, n));
  const auto& off = header.at(name).at("data_offsets");
  return all.substr(8 + n + off[0].get<size_t>(), off[1].get<size_t>() - off[0].get<size_t>());
}

int64_t h5_int(hid_t f, const char* path) {
  int64_t v = -1;
  const hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
  EXPECT_GE(d, 0) << path;
  if (d < 0) return v;
  EXPECT_GE(H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), 0) << path;
  H5Dclose(d);
  return v;
}

// A scalar variable-length string dataset (the checkpoint writes its strings so).
std::string h5_string(hid_t f, const char* path) {
  const hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
  EXPECT_GE(d, 0) << path;
  if (d < 0) return "";
  const hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, H5T_VARIABLE);
  H5Tset_cset(mem, H5T_CSET_UTF8);
  char* p = nullptr;
  EXPECT_GE(H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), 0) << path;
  const std::string out = p ? p : "";
  H5free_memory(p);
  H5Tclose(mem);
  H5Dclose(d);
  return out;
}

// The checkpoint of the last step of a finished np 2 GRPO run, read by name with the HDF5 C API.
void expect_documented_layout(const fs::path& run, int step) {
  const fs::path file = run / "checkpoints" / ckpt(step);
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0) << file;
  EXPECT_EQ(h5_int(f, "/meta/format_version"), 1);
  EXPECT_EQ(h5_int(f, "/meta/step"), step);
  EXPECT_EQ(h5_int(f, "/meta/world_size"), 2);
  EXPECT_EQ(h5_int(f, "/meta/optimizer_step"), 2 * step);  // grpo.mini_batches=2 updates per step
  EXPECT_EQ(h5_string(f, "/meta/kind"), "grpo");
  EXPECT_EQ(h5_string(f, "/meta/reference_kind"), "preset");
  EXPECT_NE(h5_string(f, "/meta/config_yaml").find("steps: 4"), std::string::npos);
  EXPECT_NE(h5_string(f, "/meta/model_config_json").find("\"hidden_size\""), std::string::npos);
  EXPECT_GT(H5Aexists(f, "toolgrpo_commit"), 0) << "the commit marker on /";
  for (const char* name : {"model.norm.weight", "model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight"}) {
    const std::string path = std::string("/model/") + name;
    const hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
    ASSERT_GE(d, 0) << path;
    const hid_t space = H5Dget_space(d);
    const hssize_t count = H5Sget_simple_extent_npoints(space);
    std::string bytes(static_cast<std::size_t>(count) * 4, '\0');
    EXPECT_GE(H5Dread(d, H5T_IEEE_F32LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), 0) << path;
    EXPECT_GT(H5Aexists(d, "crc32c"), 0) << path;
    H5Sclose(space);
    H5Dclose(d);
    // The run's final model is the state of its last step.
    EXPECT_EQ(bytes, safetensors_bytes(run / "model.safetensors", name)) << path;
    for (const char* moment : {"exp_avg", "exp_avg_sq"}) {
      const std::string m = std::string("/optim/") + name + "/" + moment;
      const hid_t md = H5Dopen2(f, m.c_str(), H5P_DEFAULT);
      EXPECT_GE(md, 0) << m;
      if (md >= 0) H5Dclose(md);
    }
  }
  H5Fclose(f);
}

TEST(CheckpointCli, SignalDuringGenerationThenResumeFinishes) {
  const fs::path out = scratch() / "sig_gen";
  fs::remove_all(out);
  // SIGUSR1 reaches rank 1 while it generates step 2: the step is abandoned, step 1's state is saved.
  const RunResult stop = mpirun(2, "TOOLGRPO_SIGNAL_INJECT=1:2:generate", train_args(out, "r", 4));
  EXPECT_EQ(stop.code, kRequeue) << stop.out;
  EXPECT_TRUE(contains(stop.out, "stopped after step 1 by a stop signal")) << stop.out;
  EXPECT_TRUE(fs::exists(out / "r" / "checkpoints" / ckpt(1)));
  EXPECT_EQ(latest_of(out / "r"), ckpt(1));
  EXPECT_FALSE(fs::exists(out / "r" / "DONE"));
  EXPECT_EQ(lines_of(out / "r" / "metrics.jsonl").size(), 1u);
  // The next job resumes at step 1 and finishes; the metrics hold each step once.
  const RunResult rest = mpirun(2, "", train_args(out, "r", 4));
  ASSERT_EQ(rest.code, 0) << rest.out;
  EXPECT_TRUE(contains(rest.out, "resumed from " + (out / "r" / "checkpoints" / ckpt(1)).string() + " at step 1")) << rest.out;
  EXPECT_TRUE(contains(rest.out, "step 4/4 reward")) << rest.out;
  const auto rows = lines_of(out / "r" / "metrics.jsonl");
  ASSERT_EQ(rows.size(), 4u);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(rows[s].rfind("{\"step\": " + std::to_string(s + 1) + ",", 0), 0u) << rows[s];
  EXPECT_TRUE(fs::exists(out / "r" / "DONE"));
  // A requeued job on a finished run exits at once.
  const RunResult again = mpirun(2, "", train_args(out, "r", 4));
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_TRUE(contains(again.out, "nothing to do")) << again.out;
  EXPECT_EQ(lines_of(out / "r" / "metrics.jsonl").size(), 4u);
}

TEST(CheckpointCli, SignalDuringTrainingAndTheLocalRunnerFinishes) {
  const fs::path out = scratch() / "sig_train";
  fs::remove_all(out);
  // SIGUSR1 reaches rank 0 while it trains step 2: the step completes and is saved; the runner sees 75 and runs
  // the job again, which resumes at step 2 and finishes.
  const std::string cmd = "TOOLGRPO_BIN=" + std::string(TOOLGRPO_BIN) + " TOOLGRPO_SIGNAL_INJECT=0:2:train bash " +
                          std::string(TOOLGRPO_SOURCE_DIR) + "/jobs/run_local.sh --np 2 --max-restarts 3 -- " +
                          train_args(out, "r", 4);
  const RunResult r = run_command(cmd);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "stopped after step 2 by a stop signal")) << r.out;
  EXPECT_TRUE(contains(r.out, "requeue code 75")) << r.out;
  EXPECT_TRUE(contains(r.out, "at step 2")) << r.out;
  EXPECT_TRUE(contains(r.out, "step 4/4 reward")) << r.out;
  EXPECT_TRUE(fs::exists(out / "r" / "DONE"));
  EXPECT_EQ(lines_of(out / "r" / "metrics.jsonl").size(), 4u);
  EXPECT_EQ(latest_of(out / "r"), ckpt(4));
  expect_documented_layout(out / "r", 4);
  // generate and sft take the checkpoint file where they take a model directory: the same greedy text as the run's
  // final model (the same weights), and a fine-tuning run whose starting point is recorded as that checkpoint.
  const std::string file = (out / "r" / "checkpoints" / ckpt(4)).string();
  const std::string gen = " --prompt hello --max-new-tokens 8 --greedy";
  const RunResult from_ckpt = run("generate --model " + file + gen);
  const RunResult from_dir = run("generate --model " + (out / "r").string() + gen);
  ASSERT_EQ(from_ckpt.code, 0) << from_ckpt.out;
  const auto samples = [](const std::string& out) {  // the JSON lines, without the timing line
    std::string rows;
    std::size_t at = 0;
    while ((at = out.find("{\"prompt\"", at)) != std::string::npos) {
      const std::size_t end = out.find('\n', at);
      rows += out.substr(at, end - at) + "\n";
      at = end;
    }
    return rows;
  };
  EXPECT_TRUE(contains(samples(from_ckpt.out), "\"ids\": [")) << from_ckpt.out;
  EXPECT_EQ(samples(from_ckpt.out), samples(from_dir.out));
  const RunResult sft = run("sft model.path=" + file + " data.train=" + shared() + "/toolrl/test.jsonl sft.steps=1 "
                            "sft.batch_size=2 sft.max_seq_tokens=96 run.out_dir=" + out.string() + " run.name=ft");
  ASSERT_EQ(sft.code, 0) << sft.out;
  const RunResult info = run("ckpt info --brief " + (out / "ft" / "checkpoints" / ckpt(1)).string());
  EXPECT_TRUE(contains(info.out, "reference_kind: checkpoint")) << info.out;
  EXPECT_TRUE(contains(info.out, "reference_path: " + file)) << info.out;
}

TEST(CheckpointCli, KilledInTheMiddleOfASaveKeepsThePreviousCheckpoint) {
  const fs::path out = scratch() / "kill";
  fs::remove_all(out);
  fs::create_directories(out);
  const fs::path pid_file = out / "pid";
  const fs::path paused = out / "r" / "checkpoints" / (ckpt(2) + ".paused");
  // One rank (no mpirun); the save of step 2 stops before its commit marker until the process is killed.
  const std::string cmd = "TOOLGRPO_PAUSE_SAVE_STEP=2 " + std::string(TOOLGRPO_BIN) + " " + train_args(out, "r", 4) +
                          " checkpoint.every=1 > " + (out / "log").string() + " 2>&1 & echo $! > " + pid_file.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto t0 = std::chrono::steady_clock::now();
  while (!fs::exists(paused) && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(paused)) << slurp(out / "log");
  const int pid = std::stoi(lines_of(pid_file).at(0));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  fs::remove(paused);
  // The half-written file never took the final name; `latest` still names step 1, which loads.
  EXPECT_FALSE(fs::exists(out / "r" / "checkpoints" / ckpt(2)));
  EXPECT_TRUE(fs::exists(out / "r" / "checkpoints" / (ckpt(2) + ".tmp")));
  EXPECT_EQ(latest_of(out / "r"), ckpt(1));
  const RunResult info = run("ckpt info " + (out / "r" / "checkpoints" / ckpt(1)).string() + " --verify");
  EXPECT_EQ(info.code, 0) << info.out;
  EXPECT_TRUE(contains(info.out, "model/model.embed_tokens.weight")) << info.out;
  EXPECT_TRUE(contains(info.out, "optim/model.norm.weight/exp_avg_sq")) << info.out;
  // The next job resumes from step 1 and the stale temporary file is cleaned up.
  const RunResult rest = run(train_args(out, "r", 4) + " checkpoint.every=1");
  ASSERT_EQ(rest.code, 0) << rest.out;
  EXPECT_TRUE(contains(rest.out, "at step 1")) << rest.out;
  EXPECT_FALSE(fs::exists(out / "r" / "checkpoints" / (ckpt(2) + ".tmp")));
  EXPECT_EQ(latest_of(out / "r"), ckpt(4));
}

// A dataset's bytes as stored (fp32 little-endian), "" when it cannot be read.
std::string h5_f32_bytes(const fs::path& file, const std::string& path) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return "";
  std::string bytes;
  const hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  if (d >= 0) {
    const hid_t space = H5Dget_space(d);
    bytes.assign(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)) * 4, '\0');
    if (H5Dread(d, H5T_IEEE_F32LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0) bytes.clear();
    H5Sclose(space);
    H5Dclose(d);
  }
  H5Fclose(f);
  return bytes;
}

TEST(CheckpointCli, ShardedRanksWriteOneFileTogether) {
  const fs::path out = scratch() / "collective";
  fs::remove_all(out);
  // The same np 2 sharded run twice: its checkpoints written by both ranks together (the default), and
  // gathered on rank 0, which writes alone.
  const std::string args =
      train_args(out, "together", 4) + " parallel.shard_optimizer=true checkpoint.every=2";
  const RunResult together = mpirun(2, "", args);
  ASSERT_EQ(together.code, 0) << together.out;
  EXPECT_TRUE(contains(together.out, "2 training ranks write their optimizer shards into one file together"))
      << together.out;
  const RunResult alone =
      mpirun(2, "",
             train_args(out, "alone", 4) +
                 " parallel.shard_optimizer=true checkpoint.every=2 checkpoint.collective=false");
  ASSERT_EQ(alone.code, 0) << alone.out;
  EXPECT_FALSE(contains(alone.out, "into one file together")) << alone.out;
  expect_documented_layout(out / "together", 4);  // the weights the ranks wrote are the run's final model
  for (int step : {2, 4}) {
    const fs::path a = out / "together" / "checkpoints" / ckpt(step),
                   b = out / "alone" / "checkpoints" / ckpt(step);
    const RunResult verify = run("ckpt info --brief --verify " + a.string());
    EXPECT_EQ(verify.code, 0) << verify.out;
    for (const char* name :
         {"model.embed_tokens.weight", "model.norm.weight", "model.layers.1.mlp.down_proj.weight"})
      for (const std::string& kind :
           {"/model/" + std::string(name), "/optim/" + std::string(name) + "/exp_avg",
            "/optim/" + std::string(name) + "/exp_avg_sq"}) {
        const std::string x = h5_f32_bytes(a, kind), y = h5_f32_bytes(b, kind);
        EXPECT_FALSE(x.empty()) << a << kind;
        EXPECT_EQ(x, y) << kind << " at step " << step;
      }
  }
  EXPECT_EQ(latest_of(out / "together"), ckpt(4));
}

TEST(CheckpointCli, DamagedCheckpointsAreNamedAndSkipped) {
  const fs::path out = scratch() / "damaged";
  fs::remove_all(out);
  // Three checkpoints (steps 1-3), stopped after step 3 by a signal in its training.
  const RunResult first = mpirun(2, "TOOLGRPO_SIGNAL_INJECT=0:3:train", train_args(out, "r", 6) + " checkpoint.every=1");
  ASSERT_EQ(first.code, kRequeue) << first.out;
  const fs::path dir = out / "r" / "checkpoints";
  ASSERT_TRUE(fs::exists(dir / ckpt(3)));
  // Truncate the newest, flip one bit in the middle of the one before.
  fs::resize_file(dir / ckpt(3), fs::file_size(dir / ckpt(3)) / 2);
  {
    std::fstream f(dir / ckpt(2), std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff mid = static_cast<std::streamoff>(fs::file_size(dir / ckpt(2)) / 2);
    f.seekg(mid);
    char b = 0;
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x10);
    f.seekp(mid);
    f.write(&b, 1);
  }
  // An explicit path to the damaged file: exit 2 naming it.
  const RunResult explicit_path = run(train_args(out, "r", 6) + " checkpoint.resume=" + (dir / ckpt(3)).string());
  EXPECT_EQ(explicit_path.code, 2) << explicit_path.out;
  EXPECT_TRUE(contains(explicit_path.out, (dir / ckpt(3)).string())) << explicit_path.out;
  const RunResult info = run("ckpt info " + (dir / ckpt(2)).string() + " --verify");
  EXPECT_EQ(info.code, 2) << info.out;
  EXPECT_TRUE(contains(info.out, ckpt(2)) && contains(info.out, "checksum")) << info.out;
  // auto: both damaged files are named, the run falls back to step 1 and finishes.
  const RunResult rest = mpirun(2, "", train_args(out, "r", 6) + " checkpoint.every=1");
  ASSERT_EQ(rest.code, 0) << rest.out;
  EXPECT_TRUE(contains(rest.out, ckpt(3)) && contains(rest.out, ckpt(2))) << rest.out;
  EXPECT_TRUE(contains(rest.out, "falling back to the previous checkpoint")) << rest.out;
  EXPECT_TRUE(contains(rest.out, "at step 1")) << rest.out;
  EXPECT_EQ(lines_of(out / "r" / "metrics.jsonl").size(), 6u);
}

// Bad checkpoints are bad input: exit code 2 and "toolgrpo: error: FILE: ..." from the light executable (ckpt
// info) and from toolgrpo-torch (export, generate), none of the libraries' own detail (libtorch's "Exception
// raised from ... frame #0", HDF5's "HDF5-DIAG" error stack) unless asked for, and nothing left behind by export.
TEST(CheckpointCli, DamagedCheckpointsExitTwoWithoutLibraryDetail) {
  const fs::path out = scratch() / "bad_input";
  fs::remove_all(out);
  const RunResult sft = run("sft data.train=" + shared() + "/toolrl/test.jsonl run.out_dir=" + out.string() +
                            " run.name=s sft.steps=1 sft.batch_size=2 checkpoint.every=1 checkpoint.async=false");
  ASSERT_EQ(sft.code, 0) << sft.out;
  const fs::path good = out / "s" / "checkpoints" / ckpt(1);
  ASSERT_TRUE(fs::exists(good));
  // Truncated: HDF5 cannot open it.
  const fs::path truncated = out / "truncated.h5";
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, fs::file_size(good) / 2);
  // One flipped byte in the embedding's data: the metadata is intact, the tensor's checksum is not.
  const std::string embed = "model/model.embed_tokens.weight";
  const fs::path flipped = out / "flipped.h5";
  fs::copy_file(good, flipped);
  {
    const hid_t f = H5Fopen(flipped.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t d = H5Dopen2(f, ("/" + embed).c_str(), H5P_DEFAULT);
    ASSERT_GE(d, 0);
    const haddr_t at = H5Dget_offset(d) + 100;
    H5Dclose(d);
    H5Fclose(f);
    std::fstream io(flipped, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(at));
    char b = 0;
    io.read(&b, 1);
    b = static_cast<char>(b ^ 0x40);
    io.seekp(static_cast<std::streamoff>(at));
    io.write(&b, 1);
  }
  // A consistent file (every checksum right) whose final norm has the wrong shape for its model: [1, H], not [H].
  const std::string norm = "model/model.norm.weight";
  const fs::path reshaped = out / "reshaped.h5";
  {
    const toolgrpo::io::CheckpointReader r(good.string());
    std::vector<std::vector<char>> data;
    std::vector<toolgrpo::io::TensorView> views;
    for (const auto& t : r.tensors()) {
      data.emplace_back(t.bytes);
      r.read(t.path, data.back().data());
      views.push_back({t.path, t.type, t.shape, data.back().data()});
      if (t.path == norm) views.back().shape.insert(views.back().shape.begin(), 1);
    }
    toolgrpo::io::checkpoint_write(reshaped.string(), r.meta(), views);
  }
  // `prefix`: how the command introduces the file (generate names its --model option first).
  const auto clean = [](const RunResult& r, const fs::path& file, const std::string& what,
                        const std::string& prefix = "toolgrpo: error: ") {
    EXPECT_EQ(r.code, 2) << what << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, prefix + file.string() + ": ")) << what << "\n" << r.out;
    for (const char* detail : {"frame #", "Exception raised from", "HDF5-DIAG"})
      EXPECT_FALSE(contains(r.out, detail)) << what << " shows '" << detail << "'\n" << r.out;
  };
  const fs::path model_out = out / "exported";
  for (const fs::path& bad : {truncated, flipped, reshaped}) {
    if (bad != reshaped)  // a good checkpoint file, of another model than its config describes (checked below)
      clean(run("ckpt info --verify " + bad.string()), bad, "ckpt info " + bad.string());
    const RunResult e = run("export --checkpoint " + bad.string() + " --out " + model_out.string());
    clean(e, bad, "export " + bad.string());
    EXPECT_FALSE(fs::exists(model_out)) << e.out;
    clean(run("generate --model " + bad.string() + " --prompt hi --max-new-tokens 2"), bad, "generate " + bad.string());
  }
  // What each says.
  EXPECT_TRUE(contains(run("ckpt info " + truncated.string()).out, "not a complete HDF5 file (truncated?)"));
  const RunResult f = run("export --checkpoint " + flipped.string() + " --out " + model_out.string());
  EXPECT_TRUE(contains(f.out, "tensor '" + embed + "': checksum mismatch")) << f.out;
  const RunResult s = run("export --checkpoint " + reshaped.string() + " --out " + model_out.string());
  EXPECT_TRUE(contains(s.out, "model.norm.weight") && contains(s.out, "shape")) << s.out;
  EXPECT_EQ(run("ckpt info --verify " + reshaped.string()).code, 0);  // ckpt info does not build the model
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find("exported"), std::string::npos) << e.path();
  // Asked for, the HDF5 error stack is shown (either spelling); the exit code is the same.
  for (const std::string& ask : {std::string("TOOLGRPO_VERBOSE=1 ") + TOOLGRPO_BIN, std::string(TOOLGRPO_BIN) + " --verbose"}) {
    const RunResult v = run_command(ask + " ckpt info " + truncated.string());
    EXPECT_EQ(v.code, 2) << ask << "\n" << v.out;
    EXPECT_TRUE(contains(v.out, "HDF5-DIAG")) << ask << "\n" << v.out;
    EXPECT_TRUE(contains(v.out, "toolgrpo: error: " + truncated.string())) << ask << "\n" << v.out;
  }
  const RunResult vt = run_command(std::string(TOOLGRPO_BIN) + " --verbose export --checkpoint " + truncated.string() +
                                   " --out " + model_out.string());
  EXPECT_EQ(vt.code, 2) << vt.out;
  EXPECT_TRUE(contains(vt.out, "HDF5-DIAG")) << vt.out;  // --verbose reaches toolgrpo-torch too
  // A checkpoint that cannot be written is not bad input: exit code 1. Here the `latest` pointer's temporary
  // name is taken by a directory; the checkpoint file itself is complete.
  const fs::path blocked = out / "w" / "checkpoints";
  fs::create_directories(blocked / "latest.tmp" / "in-the-way");
  const RunResult w = run("sft data.train=" + shared() + "/toolrl/test.jsonl run.out_dir=" + out.string() +
                          " run.name=w sft.steps=1 sft.batch_size=2 checkpoint.every=1 checkpoint.async=false");
  EXPECT_EQ(w.code, 1) << w.out;
  EXPECT_TRUE(contains(w.out, "toolgrpo: error: " + (blocked / "latest").string() + ": cannot point it at " + ckpt(1)))
      << w.out;
  EXPECT_EQ(run("ckpt info --verify " + (blocked / ckpt(1)).string()).code, 0);
  fs::remove_all(out);
}

TEST(CheckpointCli, TimeLimitStopsBeforeAStepThatWouldNotFit) {
  const fs::path out = scratch() / "limit";
  fs::remove_all(out);
  const RunResult r = mpirun(2, "", train_args(out, "r", 200) + " run.time_limit=00:00:02");
  EXPECT_EQ(r.code, kRequeue) << r.out;
  EXPECT_TRUE(contains(r.out, "run.time_limit (2 s)")) << r.out;
  const auto rows = lines_of(out / "r" / "metrics.jsonl");
  EXPECT_GE(rows.size(), 1u);
  EXPECT_LT(rows.size(), 200u);
  EXPECT_EQ(latest_of(out / "r"), ckpt(static_cast<int>(rows.size())));
}

// Every file under `dir` with its size, modification time and content: what "no file changed" compares.
std::map<std::string, std::string> tree_state(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).string()] = std::to_string(e.last_write_time().time_since_epoch().count()) +
                                                  " " + slurp(e.path());
  return out;
}

// The "step" of each line of a run's metrics.jsonl, in order.
std::vector<int> metric_steps(const fs::path& run) {
  std::vector<int> out;
  for (const auto& l : lines_of(run / "metrics.jsonl")) {
    const std::size_t at = l.find("\"step\": ");
    out.push_back(at == std::string::npos ? -1 : std::atoi(l.c_str() + at + 8));
  }
  return out;
}

TEST(CheckpointCli, RaisingGrpoStepsExtendsAFinishedRun) {
  const fs::path out = scratch() / "extend";
  fs::remove_all(out);
  const fs::path run_dir = out / "r";
  const RunResult first = run(train_args(out, "r", 2));
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_EQ(slurp(run_dir / "DONE"), "complete\nkind: grpo\nsteps: 2\n");
  // An extension that fails before its first step (here the memory plan) leaves the finished run as it was.
  const auto finished = tree_state(out);
  const RunResult refused = run(train_args(out, "r", 4) + " run.memory_limit_gb=0.0001");
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_TRUE(contains(refused.out, "the memory plan needs about")) << refused.out;
  EXPECT_EQ(tree_state(out), finished);
  // More steps: the run continues from its last checkpoint, and says so before anything else.
  const RunResult more = run(train_args(out, "r", 4) + " checkpoint.resume=auto");
  ASSERT_EQ(more.code, 0) << more.out;
  const std::string extending = "grpo: extending the finished run " + run_dir.string() +
                                " from step 2 to 4 (grpo.steps=4); the learning-rate schedule (constant) now spans 4 "
                                "steps: step 3 runs at lr ";
  EXPECT_EQ(more.out.rfind(extending, 0), 0u) << more.out;
  EXPECT_TRUE(contains(more.out, "resumed from " + (run_dir / "checkpoints" / ckpt(2)).string() + " at step 2"))
      << more.out;
  EXPECT_TRUE(contains(more.out, "setting changed: grpo.steps: 2 -> 4")) << more.out;
  EXPECT_TRUE(contains(more.out, "step 3/4 reward") && contains(more.out, "step 4/4 reward")) << more.out;
  EXPECT_FALSE(contains(more.out, "step 1/4 reward")) << more.out;
  EXPECT_EQ(metric_steps(run_dir), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(slurp(run_dir / "DONE"), "complete\nkind: grpo\nsteps: 4\n");
  EXPECT_EQ(latest_of(run_dir), ckpt(4));
  // The same or fewer steps: exit 0 at once, no file touched.
  const auto before = tree_state(out);
  for (int steps : {4, 3}) {
    const RunResult again = run(train_args(out, "r", steps));
    EXPECT_EQ(again.code, 0) << again.out;
    EXPECT_TRUE(contains(again.out, run_dir.string() + " is complete (DONE) at step 4 and grpo.steps=" +
                                        std::to_string(steps) + " asks for no more; nothing to do")) << again.out;
    EXPECT_FALSE(contains(again.out, "resolved configuration")) << again.out;
  }
  EXPECT_EQ(tree_state(out), before);
  // A damaged DONE: exit 2, naming it and what was expected.
  std::ofstream(run_dir / "DONE") << "compl";
  const RunResult bad = run(train_args(out, "r", 6));
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_TRUE(contains(bad.out, (run_dir / "DONE").string() + ": not the marker of a finished run: expected the line "
                                "'complete'")) << bad.out;
  EXPECT_EQ(metric_steps(run_dir), (std::vector<int>{1, 2, 3, 4}));
}

// The batch scripts on a run directory, with stand-ins for the scheduler's commands on PATH: squeue and qstat
// answer nothing, scontrol and qsub log their arguments, srun starts the program as one rank (Slurm's launcher);
// PBS's launcher is mpirun. A start that ends with a requeue (scontrol requeue, or qsub of the continuation) is
// followed by the next start, as the scheduler would do.
struct BatchScript {
  fs::path dir;     // scratch: the stand-ins, their logs and the config
  std::string env;  // the environment both scripts get

  BatchScript(const fs::path& scratch_dir, const fs::path& out) : dir(scratch_dir) {
    fs::create_directories(dir / "bin");
    const auto tool = [&](const char* name, const std::string& body) {
      std::ofstream(dir / "bin" / name) << "#!/bin/sh\n" << body << "\n";
      fs::permissions(dir / "bin" / name, fs::perms::owner_all);
    };
    tool("scontrol", "echo \"$*\" >> " + (dir / "scontrol.log").string());
    tool("qsub", "echo \"$*\" >> " + (dir / "qsub.log").string() + "; echo 2.fake");
    tool("squeue", "exit 0");
    tool("qstat", "exit 1");
    tool("srun", "while [ $# -gt 0 ]; do case \"$1\" in --*) shift ;; *) break ;; esac; done; exec \"$@\"");
    std::ofstream(dir / "run.yaml") << "run:\n  name: r\n  out_dir: " << out.string() << "\n";
    env = "PATH=" + (dir / "bin").string() + ":$PATH CONFIG=" + (dir / "run.yaml").string() +
          " TOOLGRPO_BIN=" + std::string(TOOLGRPO_BIN);
  }
  std::size_t requeues(const char* log) const { return lines_of(dir / log).size(); }
  // Starts `script` (slurm.sbatch or pbs.sh) with `overrides` until a start ends without a requeue (at most 4
  // starts); returns every start's output and the last exit code.
  RunResult loop(const std::string& script, const std::string& overrides, const std::string& extra_env, int& starts) {
    const bool slurm = script == "slurm.sbatch";
    const std::string source = TOOLGRPO_SOURCE_DIR;
    const char* log = slurm ? "scontrol.log" : "qsub.log";
    RunResult all;
    for (starts = 0; starts < 4;) {
      const std::size_t before = requeues(log);
      const std::string scheduler =
          slurm ? " SLURM_JOB_ID=7 SLURM_SUBMIT_DIR=" + source + " SLURM_RESTART_COUNT=" + std::to_string(starts)
                : " PBS_O_WORKDIR=" + source + " NP=1 MPIRUN_ARGS=--oversubscribe JOB_SCRIPT=" + source +
                      "/jobs/pbs.sh TOOLGRPO_REQUEUE_COUNT=" + std::to_string(starts);
      const RunResult r = run_command(env + scheduler + " " + extra_env + " OVERRIDES='" + overrides + "' bash " +
                                      source + "/jobs/" + script);
      ++starts;
      all.out += r.out;
      all.code = r.code;
      if (requeues(log) == before) break;
    }
    return all;
  }
};

TEST(CheckpointCli, BatchScriptsOnAFinishedRunEndOrExtend) {
  const fs::path out = scratch() / "batch";
  fs::remove_all(out);
  BatchScript job(out / "job", out);
  const std::string args = train_args(out, "r", 2).substr(6);  // the overrides, without "train "
  const auto with_steps = [&](int steps) {
    return args.substr(0, args.rfind("grpo.steps=")) + "grpo.steps=" + std::to_string(steps);
  };
  int starts = 0;
  const RunResult first = job.loop("slurm.sbatch", with_steps(2), "", starts);
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(slurp(out / "r" / "DONE"), "complete\nkind: grpo\nsteps: 2\n");
  // A finished run, started again by either script: toolgrpo exits 0 at once, no requeue, no file changed.
  const auto before = tree_state(out / "r");
  for (const char* script : {"slurm.sbatch", "pbs.sh"}) {
    const RunResult again = job.loop(script, with_steps(2), "", starts);
    EXPECT_EQ(again.code, 0) << again.out;
    EXPECT_EQ(starts, 1) << script;
    EXPECT_TRUE(contains(again.out, "DONE exists: the run finished")) << again.out;
    EXPECT_TRUE(contains(again.out, "asks for no more; nothing to do")) << again.out;
    EXPECT_TRUE(contains(again.out, "the run ended with exit code 0")) << again.out;
  }
  EXPECT_EQ(tree_state(out / "r"), before);
  EXPECT_EQ(job.requeues("scontrol.log") + job.requeues("qsub.log"), 0u);
  // More steps through Slurm: the extension is stopped after step 3 (exit 75, requeue), the requeued start
  // resumes and finishes step 4, and the loop ends there.
  const RunResult slurm = job.loop("slurm.sbatch", with_steps(4), "TOOLGRPO_SIGNAL_INJECT=0:3:train", starts);
  ASSERT_EQ(slurm.code, 0) << slurm.out;
  EXPECT_EQ(starts, 2) << slurm.out;
  EXPECT_EQ(lines_of(job.dir / "scontrol.log"), (std::vector<std::string>{"requeue 7"}));
  EXPECT_TRUE(contains(slurm.out, "extending the finished run " + (out / "r").string() + " from step 2 to 4"))
      << slurm.out;
  EXPECT_TRUE(contains(slurm.out, "stopped after step 3 by a stop signal")) << slurm.out;
  EXPECT_TRUE(contains(slurm.out, "at step 3")) << slurm.out;
  EXPECT_EQ(metric_steps(out / "r"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(slurp(out / "r" / "DONE"), "complete\nkind: grpo\nsteps: 4\n");
  // The same through PBS, from 4 to 6: one continuation submitted, then the chain ends.
  const RunResult pbs = job.loop("pbs.sh", with_steps(6), "TOOLGRPO_SIGNAL_INJECT=0:5:train", starts);
  ASSERT_EQ(pbs.code, 0) << pbs.out;
  EXPECT_EQ(starts, 2) << pbs.out;
  EXPECT_EQ(job.requeues("qsub.log"), 1u);
  EXPECT_TRUE(contains(pbs.out, "from step 4 to 6")) << pbs.out;
  EXPECT_EQ(metric_steps(out / "r"), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(slurp(out / "r" / "DONE"), "complete\nkind: grpo\nsteps: 6\n");
}

}  // namespace
