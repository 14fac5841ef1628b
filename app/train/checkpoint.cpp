// Checkpoint save (snapshot, background write, latest pointer, retention) and load; see checkpoint.hpp.
#include "app/train/checkpoint.hpp"

#include <ATen/Functions.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "io/checkpoint_file.hpp"
#include "model/decoder.hpp"

namespace toolgrpo::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The file's path of a parameter's AdamW moment: moment 0 is exp_avg, 1 is exp_avg_sq (the order in which the
// file lists them after the weights).
std::string moment_path(const std::string& param, int moment) {
  return "optim/" + param + (moment == 0 ? "/exp_avg" : "/exp_avg_sq");
}

io::CheckpointGroup group_of(const parallel::Comm& comm) {
  return {comm.rank(), comm.size(), comm.mpi_handle(),
          [&comm](const std::string& bytes) { return comm.allgather(bytes); }};
}

io::TensorView view_of(std::string path, const at::Tensor& t) {
  return io::TensorView{std::move(path), io::ElemType::F32, t.sizes().vec(), t.data_ptr()};
}

// Everything a save writes, owned: the tensors (the snapshot's or the live CPU tensors) and the metadata.
struct SaveJob {
  std::string path;
  std::vector<at::Tensor> owned;
  std::vector<io::TensorView> views;
  std::vector<io::MetaItem> meta;
};

bool host_fp32(const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous(); }

// Copies `from[i]` into `to[i]` (same shapes, `to` contiguous fp32 CPU) on a few threads: host tensors in pieces of
// at most 64 MB taken in turn (the copy is memory bound; one thread reaches about a third of the bandwidth), others
// (device or other dtypes) by copy_ as one piece each.
void copy_parallel(const std::vector<at::Tensor>& from, std::vector<at::Tensor>& to) {
  struct Piece {
    std::size_t tensor;
    int64_t offset, bytes;
  };
  constexpr int64_t kPiece = int64_t{64} << 20;
  std::vector<Piece> pieces;
  for (std::size_t i = 0; i < from.size(); ++i) {
    const int64_t bytes = static_cast<int64_t>(to[i].nbytes());
    if (!host_fp32(from[i])) {
      pieces.push_back({i, 0, -1});
      continue;
    }
    for (int64_t o = 0; o < bytes; o += kPiece) pieces.push_back({i, o, std::min(kPiece, bytes - o)});
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (std::size_t k; (k = next.fetch_add(1)) < pieces.size();) {
      const Piece& p = pieces[k];
      try {
        if (p.bytes < 0) {
          to[p.tensor].copy_(from[p.tensor].detach());
        } else {
          std::memcpy(static_cast<char*>(to[p.tensor].data_ptr()) + p.offset,
                      static_cast<const char*>(from[p.tensor].data_ptr()) + p.offset, static_cast<std::size_t>(p.bytes));
        }
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        error = std::current_exception();
      }
    }
  };
  const unsigned helpers = std::min(3u, std::max(1u, std::thread::hardware_concurrency()) - 1);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < helpers && t + 1 < pieces.size(); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

// The job of saving `s` at `path`. With `snapshot` (the async save) every tensor is copied into it — its buffers
// are allocated on the first save and reused after, so a save costs one copy, not fresh pages; without, the live
// tensors are written in place (a fp32 copy only where a tensor is on a device or in another dtype).
}  // namespace

// The tensors a checkpoint of `s` holds, with their paths in the file: the weights, then each one's AdamW moments.
std::vector<std::pair<std::string, at::Tensor>> checkpoint_tensors(const RunState& s) {
  const auto named = model::decoder_named_parameters(s.policy.cfg, s.policy.w);
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, t] : named) out.emplace_back("model/" + name, t);
  if (s.learner) {  // sharded: the moments gathered for this save (none before, e.g. when sizing the
                    // snapshot)
    const std::vector<at::Tensor> m = s.learner->exp_avg(), v = s.learner->exp_avg_sq();
    for (std::size_t i = 0; i < named.size() && i < m.size(); ++i) {
      out.emplace_back(moment_path(named[i].first, 0), m[i]);
      out.emplace_back(moment_path(named[i].first, 1), v[i]);
    }
  }
  return out;
}

namespace {

// Host fp32 buffers of the given shapes in `snapshot` (kept where the shape already matches), every page touched.
void snapshot_allocate(const std::vector<std::vector<int64_t>>& shapes, std::vector<at::Tensor>& snapshot) {
  snapshot.resize(shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i)
    if (!snapshot[i].defined() || snapshot[i].sizes().vec() != shapes[i]) {
      snapshot[i] = at::empty(shapes[i], at::TensorOptions().dtype(at::kFloat));
      std::memset(snapshot[i].data_ptr(), 0, snapshot[i].nbytes());
    }
}

std::vector<std::vector<int64_t>> shapes_of(const std::vector<at::Tensor>& tensors) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& t : tensors) out.push_back(t.sizes().vec());
  return out;
}

// The metadata of a checkpoint of `s`.
std::vector<io::MetaItem> job_meta(const RunState& s, const RunFacts& f) {
  const int64_t opt_step = s.learner ? s.learner->optimizer_steps() : 0;
  const auto i64 = [](int64_t v) { return io::MetaValue(v); };
  return {
      {"toolgrpo_version", std::string(TOOLGRPO_VERSION)},
      {"kind", f.kind},
      {"step", i64(s.step)},
      {"epoch", i64(s.cursor.epoch)},
      {"cursor_position", i64(s.cursor.position)},
      {"consumed_prompts", i64(s.cursor.epoch * f.data_rows + s.cursor.position)},
      {"schedule_step", i64(s.step)},
      {"reward_step", i64(s.step)},
      {"optimizer_step", i64(opt_step)},
      {"eval_pending", i64(s.eval_pending ? 1 : 0)},
      {"seed", i64(f.seed)},
      {"dtype", std::string("fp32")},
      {"config_yaml", f.config_yaml},
      {"model_config_json", model::model_config_to_json(s.policy.cfg)},
      {"tokenizer_json", s.policy.tokenizer_json},
      {"chat_format", std::string(model::chat_format_name(s.policy.chat))},
      {"source_dir", s.policy.source_dir},
      {"world_size", i64(f.world_size)},
      {"generation_ranks", i64(f.generation_ranks)},
      {"training_ranks", i64(f.training_ranks)},
      {"wall_time", s.train_seconds},
      {"saved_at", i64(static_cast<int64_t>(std::time(nullptr)))},
      {"data_path", f.data_path},
      {"data_rows", i64(f.data_rows)},
      {"data_checksum", i64(f.data_checksum)},
      {"reference_kind", std::string(origin_kind_name(s.reference.kind))},
      {"reference_path", s.reference.path},
      {"reference_seed", i64(s.reference.seed)},
      {"reference_checksum", i64(s.reference.checksum)},
  };
}

SaveJob job_make(const std::string& path, const RunState& s, const RunFacts& f,
                 std::vector<at::Tensor>* snapshot) {
  SaveJob job;
  job.path = path;
  std::vector<std::string> names;
  std::vector<at::Tensor> live;
  for (auto& [name, t] : checkpoint_tensors(s)) {
    names.push_back(std::move(name));
    live.push_back(std::move(t));
  }
  if (snapshot) {
    snapshot_allocate(shapes_of(live), *snapshot);
    copy_parallel(live, *snapshot);
    job.owned = *snapshot;
  } else {
    for (const auto& t : live)
      job.owned.push_back(host_fp32(t) ? t.detach() : t.detach().to(at::kCPU, at::kFloat).contiguous());
  }
  for (std::size_t i = 0; i < names.size(); ++i) job.views.push_back(view_of(names[i], job.owned[i]));
  job.meta = job_meta(s, f);
  return job;
}

// A sharded optimizer's run saved by every training rank into one file (io::checkpoint_write_collective):
// each rank writes the elements of the weights and of both moments that its optimizer shard owns.
void save_collective(const std::string& path, const RunState& s, const RunFacts& f,
                     const io::CheckpointWriteOptions& wo) {
  const auto named = model::decoder_named_parameters(s.policy.cfg, s.policy.w);
  const std::vector<at::Tensor>& params = s.learner->params();
  const std::size_t n = named.size();
  if (params.size() != n)
    throw std::logic_error("checkpoint: the learner holds " + std::to_string(params.size()) +
                           " parameters, the model " + std::to_string(n));
  std::vector<io::TensorView> views;
  for (const auto& [name, t] : named)
    views.push_back({"model/" + name, io::ElemType::F32, t.sizes().vec(), nullptr});
  for (const auto& [name, t] : named)
    for (int moment = 0; moment < 2; ++moment)
      views.push_back({moment_path(name, moment), io::ElemType::F32, t.sizes().vec(), nullptr});
  // checkpoint_tensors' order: the weights, then each one's two moments.
  const std::vector<ShardedAdamW::SavePiece> pieces = s.learner->save_pieces();
  std::vector<io::TensorPart> parts;
  for (const ShardedAdamW::SavePiece& p : pieces) {
    const auto off = static_cast<uint64_t>(p.offset), len = static_cast<uint64_t>(p.length);
    parts.push_back({p.param, off, len, p.weight.data_ptr()});
    parts.push_back({n + 2 * p.param, off, len, p.exp_avg.data_ptr()});
    parts.push_back({n + 2 * p.param + 1, off, len, p.exp_avg_sq.data_ptr()});
  }
  const parallel::Comm& comm = *s.learner->shard_comm();
  io::checkpoint_write_collective(path, job_meta(s, f), views, parts, group_of(comm), wo);
}

}  // namespace

std::string checkpoint_dir(const Config& c) {
  return (fs::path(c.run.out_dir) / c.run.name / "checkpoints").string();
}

std::string checkpoint_resolve(const std::string& path) {
  if (!fs::is_directory(path)) return path;
  const fs::path dir = fs::exists(fs::path(path) / "checkpoints") ? fs::path(path) / "checkpoints" : fs::path(path);
  const std::string latest = io::checkpoint_latest(dir.string());
  if (!latest.empty() && fs::exists(latest)) return latest;
  const std::vector<std::string> all = io::checkpoint_list(dir.string());
  return all.empty() ? "" : all.front();
}

namespace {

// This rank's shard of the checkpoint's moments into l.shard_exp_avg[_sq]: the pieces ShardedAdamW::layout
// gives it among `shards`, read one by one; `paths` and `sums` receive what checkpoint_verify_parts checks.
void read_moment_shards(const io::CheckpointReader& r, LoadedCheckpoint& l, const parallel::Comm& shards,
                        std::vector<std::string>& paths, std::vector<io::PartChecksum>& sums) {
  std::vector<int64_t> numels;
  for (const auto& [name, t] : model::decoder_named_parameters(l.cfg, l.weights)) {
    numels.push_back(t.numel());
    for (int moment = 0; moment < 2; ++moment) {
      paths.push_back(moment_path(name, moment));
      const io::CheckpointReader::TensorInfo& info = r.info(paths.back());
      if (info.type != io::ElemType::F32 || info.shape != t.sizes().vec())
        throw io::CheckpointError(l.path + ": tensor '" + paths.back() + "' is " + io::elem_name(info.type) +
                                  " " + io::shape_text(info.shape) +
                                  ", expected F32 of its parameter's shape " +
                                  io::shape_text(t.sizes().vec()));
    }
  }
  const ShardedAdamW::Layout layout = ShardedAdamW::layout(numels, shards.rank(), shards.size());
  l.shard_exp_avg = at::zeros({layout.shard_numel()}, at::kFloat);
  l.shard_exp_avg_sq = at::zeros({layout.shard_numel()}, at::kFloat);
  for (const ShardedAdamW::Piece& p : layout.pieces)
    for (std::size_t which = 0; which < 2; ++which) {
      const std::size_t tensor = 2 * p.param + which;
      float* dst = (which == 0 ? l.shard_exp_avg : l.shard_exp_avg_sq).data_ptr<float>() + p.shard;
      const auto off = static_cast<uint64_t>(p.offset), len = static_cast<uint64_t>(p.length);
      sums.push_back({tensor, off, len, r.read_part(paths[tensor], off, len, dst)});
    }
}

// The checkpoint `r` reads; `with_optimizer` also reads every AdamW moment whole.
LoadedCheckpoint load_from(const io::CheckpointReader& r, bool with_optimizer) {
  const std::string& path = r.path();
  LoadedCheckpoint l;
  l.path = path;
  l.facts.kind = r.meta_string("kind");
  l.facts.config_yaml = r.meta_string("config_yaml");
  l.facts.seed = r.meta_int("seed");
  l.facts.world_size = r.meta_int("world_size");
  l.facts.generation_ranks = r.meta_int("generation_ranks");
  l.facts.training_ranks = r.meta_int("training_ranks");
  l.facts.data_path = r.meta_string("data_path");
  l.facts.data_rows = r.meta_int("data_rows");
  l.facts.data_checksum = static_cast<uint32_t>(r.meta_int("data_checksum"));
  l.step = r.meta_int("step");
  l.cursor.epoch = r.meta_int("epoch");
  l.cursor.position = r.meta_int("cursor_position");
  l.train_seconds = r.meta_double("wall_time");
  l.eval_pending = r.meta_int("eval_pending") != 0;
  l.reference.kind = origin_kind_from_name(r.meta_string("reference_kind"));
  l.reference.path = r.meta_string("reference_path");
  l.reference.seed = r.meta_int("reference_seed");
  l.reference.checksum = static_cast<uint32_t>(r.meta_int("reference_checksum"));
  l.model_config_json = r.meta_string("model_config_json");
  l.tokenizer_json = r.meta_string("tokenizer_json");
  l.chat_format = r.meta_string("chat_format");
  l.source_dir = r.meta_string("source_dir");
  l.optimizer_step = r.meta_int("optimizer_step");
  const auto read = [&](const std::string& name) {
    const io::CheckpointReader::TensorInfo& info = r.info(name);
    if (info.type != io::ElemType::F32)
      throw io::CheckpointError(path + ": tensor '" + name + "' is " + io::elem_name(info.type) + ", expected F32");
    at::Tensor t = at::empty(info.shape, at::kFloat);
    r.read(name, t.data_ptr());
    return t;
  };
  l.cfg = model::model_config_parse(l.model_config_json, path + ":/meta/model_config_json");
  try {
    l.weights = model::decoder_weights_from(
        l.cfg, [&](const std::string& n) { return std::make_pair(read("model/" + n), path); }, at::kCPU);
  } catch (const io::CheckpointError&) {
    throw;
  } catch (const std::runtime_error& e) {  // a tensor the model config does not expect (its shape): the file's fault
    throw io::CheckpointError(e.what());   // names the file (the tensors' origin) and the tensor
  }
  if (with_optimizer)
    for (const auto& [name, unused] : model::decoder_named_parameters(l.cfg, l.weights)) {
      l.exp_avg.push_back(read(moment_path(name, 0)));
      l.exp_avg_sq.push_back(read(moment_path(name, 1)));
    }
  return l;
}

}  // namespace

LoadedCheckpoint checkpoint_load(const std::string& path, bool with_optimizer, const parallel::Comm* shards) {
  if (!shards || !with_optimizer) return load_from(io::CheckpointReader(path), with_optimizer);
  // Every rank of `shards` reaches the collective check, whatever failed here before it.
  std::unique_ptr<io::CheckpointReader> r;
  LoadedCheckpoint l;
  std::vector<std::string> paths;
  std::vector<io::PartChecksum> sums;
  std::string error;
  try {
    r = std::make_unique<io::CheckpointReader>(path);
    l = load_from(*r, false);
    read_moment_shards(*r, l, *shards, paths, sums);
  } catch (const std::exception& e) {
    error = e.what();
  }
  io::checkpoint_verify_parts(r.get(), paths, sums, group_of(*shards), error);
  return l;
}

bool checkpoint_collective(const Config& c, int64_t training_ranks) {
  return c.checkpoint.collective && c.parallel.shard_optimizer && training_ranks > 1;
}

CheckpointSaver::CheckpointSaver(std::string dir, const CheckpointSection& cfg, bool active,
                                 int64_t pause_step, bool saving, bool collective)
    : dir_(std::move(dir)),
      cfg_(cfg),
      active_(active),
      saving_(saving || active),
      collective_(collective),
      pause_step_(pause_step) {}

CheckpointSaver::~CheckpointSaver() {
  try {
    wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "toolgrpo: checkpoint save failed: %s\n", e.what());
  }
}

void CheckpointSaver::wait() {
  if (worker_.joinable()) worker_.join();
  if (error_) {
    const std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void CheckpointSaver::prepare(const RunState& s) {
  if (!snapshots()) return;
  wait();
  std::vector<at::Tensor> live;
  for (auto& [name, t] : checkpoint_tensors(s)) live.push_back(std::move(t));
  worker_ = std::thread([this, shapes = shapes_of(live)] {
    try {
      snapshot_allocate(shapes, snapshot_);
    } catch (...) {
      error_ = std::current_exception();
    }
  });
}

double CheckpointSaver::save(const RunState& s, const RunFacts& facts) {
  const auto t0 = Clock::now();
  const std::string name = io::checkpoint_file_name(s.step);
  const auto pause_hook = [&](const std::string& path) {
    io::CheckpointWriteOptions wo;
    if (s.step == pause_step_)
      wo.before_commit = [marker =
                              path + ".paused"] {  // the crash test kills the process while it sleeps here
        std::ofstream(marker) << "paused before the commit marker\n";
        std::this_thread::sleep_for(std::chrono::seconds(300));
      };
    return wo;
  };
  if (collective_ && saving_ && s.learner && s.learner->sharded()) {  // every training rank writes its shard
    wait();
    if (active_) fs::create_directories(dir_);
    const std::string path = dir_ + "/" + name;
    save_collective(path, s, facts, pause_hook(path));
    if (active_) {
      io::checkpoint_latest_set(dir_, name);
      io::checkpoint_prune(dir_, cfg_.keep);
    }
    saved_step_ = s.step;
    write_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
    return write_seconds_;
  }
  // A sharded optimizer's moments come together on the writing rank (every training rank takes part).
  const bool gather = saving_ && s.learner && s.learner->sharded();
  if (gather) s.learner->moments_gather();
  if (!active_) {
    saved_step_ = s.step;  // every rank agrees on whether the last step was saved (the gather is collective)
    return gather ? std::chrono::duration<double>(Clock::now() - t0).count() : 0;
  }
  wait();
  fs::create_directories(dir_);
  auto job = std::make_shared<SaveJob>(job_make(dir_ + "/" + name, s, facts, cfg_.async ? &snapshot_ : nullptr));
  if (gather) s.learner->moments_release();  // the job holds (or has copied) what it writes
  const io::CheckpointWriteOptions wo = pause_hook(job->path);
  const auto write = [this, job, wo, name] {
    const auto t = Clock::now();
    try {
      io::checkpoint_write(job->path, job->meta, job->views, wo);
      io::checkpoint_latest_set(dir_, name);
      io::checkpoint_prune(dir_, cfg_.keep);
    } catch (...) {
      error_ = std::current_exception();
    }
    write_seconds_ = std::chrono::duration<double>(Clock::now() - t).count();
  };
  saved_step_ = s.step;
  if (cfg_.async) {
    worker_ = std::thread(write);
  } else {
    write();
    wait();
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace toolgrpo::app
