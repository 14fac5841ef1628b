// The run driver shared by GRPO and SFT; see run_driver.hpp.
#include "app/run_driver.hpp"

#include "common/name_table.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "app/checkpoint.hpp"
#include "app/commands.hpp"
#include "app/metric_names.hpp"
#include "app/run_log.hpp"
#include "app/stop_signal.hpp"
#include "io/checkpoint_file.hpp"
#include "model/optimizer.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

uint32_t file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read the training data");
  std::vector<char> buf(1 << 20);
  uint32_t crc = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    crc = io::crc32c(buf.data(), static_cast<std::size_t>(in.gcount()), crc);
  }
  return crc;
}

// "section.key: value" for every line of a config_to_yaml dump.
std::map<std::string, std::string> flat_yaml(const std::string& yaml) {
  std::map<std::string, std::string> out;
  std::stringstream ss(yaml);
  std::string section;
  for (std::string line; std::getline(ss, line);) {
    if (line.empty()) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (line[0] != ' ') {
      section = line.substr(0, colon);
      continue;
    }
    const std::size_t start = line.find_first_not_of(' ');
    out[section + "." + line.substr(start, colon - start)] = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
  }
  return out;
}

// The checkpoints a resume may start from, newest first (rank 0 looks; every rank gets the same list).
std::vector<std::string> resume_candidates(const Config& c, const parallel::Comm& world) {
  std::string joined;
  if (world.rank() == 0 && c.checkpoint.resume.mode != ResumeMode::Never) {
    std::vector<std::string> list;
    if (c.checkpoint.resume.mode == ResumeMode::Auto) {
      list = io::checkpoint_list(checkpoint_dir(c));
    } else {
      const std::string p = checkpoint_resolve(c.checkpoint.resume.path);
      if (p.empty() || !fs::exists(p))
        joined = "!checkpoint.resume: " + c.checkpoint.resume.path + " is neither a checkpoint file nor a run directory with checkpoints";
      else list = {p};
    }
    if (joined.empty())
      for (const auto& p : list) joined += p + "\n";
  }
  world.broadcast(joined, 0);
  if (!joined.empty() && joined[0] == '!') throw UsageError(joined.substr(1));
  std::vector<std::string> out;
  std::stringstream ss(joined);
  for (std::string line; std::getline(ss, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// Refuses a resume whose run means something else (model shape, data, seed, kind); returns the other settings
// that changed, one line each, to be logged.
std::vector<std::string> resume_check(const LoadedCheckpoint& l, const RunFacts& now, const model::ModelConfig& intended) {
  std::vector<std::string> refused;
  if (l.facts.kind != now.kind)
    refused.push_back("the checkpoint is of a " + l.facts.kind + " run, this is a " + now.kind +
                      " run (to start " + now.kind + " from its weights, set model.path to it and use a new run.name)");
  if (l.facts.seed != now.seed)
    refused.push_back("run.seed: the checkpoint's run has seed " + std::to_string(l.facts.seed) + ", the config " +
                      std::to_string(now.seed) + " (the data order and samples would change)");
  if (l.facts.data_rows != now.data_rows || l.facts.data_checksum != now.data_checksum)
    refused.push_back("data.train: " + now.data_path + " (" + std::to_string(now.data_rows) + " rows, CRC-32C " +
                      std::to_string(now.data_checksum) + ") is not the data of the checkpoint's run (" + l.facts.data_path +
                      ", " + std::to_string(l.facts.data_rows) + " rows, CRC-32C " + std::to_string(l.facts.data_checksum) + ")");
  if (model::model_config_to_json(intended) != l.model_config_json)
    refused.push_back("model: the configured model (model.path / model.arch / model.preset) has another config.json "
                      "than the checkpoint's model (its shape or architecture differs)");
  if (!refused.empty()) {
    std::string msg = l.path + ": cannot resume this run from it:";
    for (const auto& r : refused) msg += "\n  - " + r;
    msg += "\n(set checkpoint.resume=never or another run.name to start a new run)";
    throw UsageError(msg);
  }
  std::vector<std::string> changed;
  const auto before = flat_yaml(l.facts.config_yaml), after = flat_yaml(now.config_yaml);
  for (const auto& [key, value] : after) {
    const auto it = before.find(key);
    const std::string old = it == before.end() ? "(unset)" : it->second;
    if (old != value && key != "checkpoint.resume") changed.push_back(key + ": " + old + " -> " + value);
  }
  return changed;
}

const common::EnumName<SignalPhase> kSignalPhases[] = {
    {SignalPhase::Generate, "generate"}, {SignalPhase::Train, "train"}, {SignalPhase::Eval, "eval"}};

}  // namespace

SignalPhase signal_phase_from_name(const std::string& name) {
  return common::enum_from_name(kSignalPhases, name, "signal phase");
}
const char* signal_phase_name(SignalPhase phase) {
  return phase == SignalPhase::None ? "none" : common::enum_name(kSignalPhases, phase);
}

int64_t steps_asked(const Config& c, const std::string& kind, int64_t rows) {
  const bool sft = kind == "sft";
  const int64_t steps = sft ? c.sft.steps : c.grpo.steps;
  if (steps > 0) return steps;
  if (rows < 0) return -1;
  const int64_t per_step = sft ? c.sft.batch_size : c.rollout.prompts_per_step;
  return std::max<int64_t>(1, rows / per_step) * (sft ? c.sft.epochs : c.grpo.epochs);
}

namespace {

// Which setting asked for `asked` steps: "grpo.steps=4" or "grpo.epochs=2 (80 steps)".
std::string steps_source(const Config& c, const std::string& kind, int64_t asked) {
  const bool sft = kind == "sft";
  if ((sft ? c.sft.steps : c.grpo.steps) > 0) return kind + ".steps=" + std::to_string(asked);
  return kind + ".epochs=" + std::to_string(sft ? c.sft.epochs : c.grpo.epochs) + " (" + std::to_string(asked) +
         " steps)";
}

// RUN_DIR/DONE as every rank sees it: rank 0 reads it and, for a DONE of an earlier version (no step count), takes
// the step of the newest checkpoint in the run's checkpoint directory. nullopt when the run has no DONE; steps -1
// when neither says how far the run got. A damaged DONE is a UsageError on every rank.
struct FinishedRun {
  int64_t steps = -1;
  bool recorded = true;  // DONE itself records the count (false: DONE of an earlier version)
};
std::optional<FinishedRun> finished_run(const Config& c, const parallel::Comm& world, const std::string& run_dir) {
  std::string text;  // "" no DONE; "!message" damaged, "#message" another failure; "STEPS RECORDED"
  if (world.rank() == 0) {
    try {
      if (const std::optional<DoneMarker> d = done_marker_read(run_dir)) {
        FinishedRun f;
        f.steps = d->steps;
        f.recorded = d->steps >= 0;
        if (!f.recorded) {
          const std::vector<std::string> all = io::checkpoint_list(checkpoint_dir(c));
          if (!all.empty()) {  // newest first; names are ckpt-<8 digits>.h5
            const std::string name = fs::path(all.front()).filename().string();
            f.steps = std::stoll(name.substr(5, name.size() - 8));
          }
        }
        text = std::to_string(f.steps) + " " + (f.recorded ? "1" : "0");
      }
    } catch (const UsageError& e) {
      text = std::string("!") + e.what();
    } catch (const std::exception& e) {  // e.g. an unreadable checkpoint directory: every rank stops, none waits
      text = std::string("#") + e.what();
    }
  }
  world.broadcast(text, 0);
  if (text.empty()) return std::nullopt;
  if (text[0] == '!') throw UsageError(text.substr(1));
  if (text[0] == '#') throw std::runtime_error(text.substr(1));
  FinishedRun f;
  int recorded = 1;
  std::stringstream(text) >> f.steps >> recorded;
  f.recorded = recorded != 0;
  return f;
}

// Prints rank 0's memory plan; stops the run on every rank when any rank's plan does not fit.
template <class Say>
void memory_plan_check(const Config& c, const parallel::Comm& world, const TrainOptions& opt, const std::string& kind,
                       const model::ModelConfig& cfg, const StepTrainer& trainer, const CheckpointSaver& saver,
                       const Say& say) {
  MemoryWorkload w = trainer.memory_workload();
  w.snapshot = saver.snapshots();
  w.bf16 = c.model.dtype == ModelDtype::Bf16;
  if (c.parallel.shard_optimizer && w.trains) {
    w.optimizer_shards = trainer.training_ranks();
    w.gathers_moments = saver.gathers_moments();
  }
  std::string source = "run.memory_limit_gb";
  const double available =
      c.run.memory_limit_gb > 0 ? c.run.memory_limit_gb * 1e9 : memory_available(opt.local_size, source);
  const MemoryPlan plan = memory_plan(cfg, w, available, source);
  // Rank 0 reports the largest plan of all ranks (the ranks that hold the checkpoint snapshot, or train).
  const double peak = world.allreduce_max(plan.peak);
  const bool fits = world.allreduce_min(plan.fits() ? 1.0 : 0.0) > 0;
  say(plan.table() + (peak > plan.peak ? "\n  (another rank's plan peaks at " + format_fixed(peak / 1e9, 2) + " GB)" : ""));
  if (fits || !c.run.memory_check) {
    if (!fits) say(kind + ": warning: the memory plan does not fit, but run.memory_check is false: going on");
    return;
  }
  // kind is the config section of the run: "grpo" or "sft".
  const bool sft = kind == "sft";
  const int64_t budget = sft ? c.sft.micro_batch_tokens : c.grpo.micro_batch_tokens;
  const bool checkpointing = sft ? c.sft.activation_checkpointing : c.grpo.activation_checkpointing;
  throw UsageError(kind + ": the memory plan needs about " + format_fixed(peak / 1e9, 2) +
                   " GB per rank but a rank has " + format_fixed(plan.available / 1e9, 2) + " GB (" +
                   plan.available_source + "; see the plan above). To fit: lower " + kind +
                   ".micro_batch_tokens (now " + std::to_string(budget) + ")" +
                   (checkpointing ? "" : ", set " + kind + ".activation_checkpointing=true") +
                   (sft ? ", sft.max_seq_tokens" : ", rollout.max_prompt_tokens or rollout.max_new_tokens") +
                   "; set checkpoint.async=false (no host snapshot)" +
                   (sft ? "" : "; grpo.kl_coef=0 (no reference copy)") +
                   (c.parallel.shard_optimizer || trainer.training_ranks() < 2
                        ? ""
                        : "; set parallel.shard_optimizer=true (AdamW moments split over the " +
                              std::to_string(trainer.training_ranks()) + " training ranks)") +
                   (c.model.dtype == ModelDtype::Bf16 ? "" : "; set model.dtype=bf16 (half the activations)") +
                   "; run fewer ranks per node or a smaller model; or set run.memory_limit_gb if the "
                   "detected memory is wrong "
                   "(run.memory_check=false to go on regardless)");
}

}  // namespace

bool StopPoll::any() const {
  return world->allreduce_max(flag != nullptr && flag->load(std::memory_order_relaxed) ? 1.0 : 0.0) > 0;
}

TrainResult run_driver(const Config& c, const parallel::Comm& world, const TrainOptions& opt, const std::string& kind,
                       bool trains_here, const TrainerFactory& make) {
  StopSignals signals;  // first: a signal during start-up (loading data and weights) is kept, not fatal
  TrainResult result;
  const bool lead = world.rank() == 0;
  const auto say = [&](const std::string& text) {
    if (lead && opt.print) {
      std::printf("%s\n", text.c_str());
      std::fflush(stdout);
    }
  };
  const std::string run_dir = (fs::path(c.run.out_dir) / c.run.name).string();
  const bool resumes = opt.save && c.checkpoint.resume.mode != ResumeMode::Never;  // a run that writes nothing reads nothing either
  // A finished run (RUN_DIR/DONE) is extended when the configuration asks for more steps than it completed, and
  // otherwise left alone: nothing is read or written. Rank 0 decides for all (ranks on other nodes may see the file
  // system later than it does).
  const std::optional<FinishedRun> done = resumes ? finished_run(c, world, run_dir) : std::nullopt;
  const auto nothing_to_do = [&](int64_t asked) {
    const bool by_steps = (kind == "sft" ? c.sft.steps : c.grpo.steps) > 0;
    if (done->steps < 0)
      say(kind + ": " + run_dir + " is complete (DONE, written by an earlier version without a step count, and no "
          "checkpoint to extend from); nothing to do. Use another run.name, or checkpoint.resume=never to train it "
          "again from the start.");
    else
      say(kind + ": " + run_dir + " is complete (DONE) at step " + std::to_string(done->steps) +
          (done->recorded ? "" : " (its newest checkpoint; DONE of an earlier version records no step count)") +
          " and " + steps_source(c, kind, asked) + " asks for no more; nothing to do. Raise " + kind + ".steps" +
          (by_steps ? "" : " or " + kind + ".epochs") + " to extend it, use another run.name, or "
          "checkpoint.resume=never to train it again from the start.");
    result.end = RunEnd::AlreadyDone;
  };
  if (done) {
    const int64_t early = steps_asked(c, kind, -1);  // -1: counted from the epochs, once the rows are loaded
    if (done->steps < 0 || (early >= 0 && early <= done->steps)) {
      nothing_to_do(early);
      return result;
    }
  }
  const auto t_start = Clock::now();
  const RunData data = run_data_load(c);
  const int64_t asked = steps_asked(c, kind, static_cast<int64_t>(data.train.rows.size()));
  if (done && asked <= done->steps) {  // counted from the epochs and the rows
    nothing_to_do(asked);
    return result;
  }
  if (done) {
    // The schedule is a function of the step and the run's total (RunState::step; the checkpoint records no total),
    // so it follows the new count from the first extended step on.
    const bool sft = kind == "sft";
    const model::LrSchedule schedule = sft ? c.sft.schedule : c.grpo.schedule;
    const double lr = model::lr_at(schedule, sft ? c.sft.lr : c.grpo.lr, done->steps,
                                   sft ? c.sft.warmup_steps : c.grpo.warmup_steps, asked);
    say(kind + ": extending the finished run " + run_dir + " from step " + std::to_string(done->steps) +
        (done->recorded ? "" : " (its newest checkpoint; DONE of an earlier version records no step count)") +
        " to " + std::to_string(asked) + " (" + steps_source(c, kind, asked) + "); the learning-rate schedule (" +
        model::lr_schedule_name(schedule) + ") now spans " + std::to_string(asked) + " steps: step " + std::to_string(done->steps + 1) +
        " runs at lr " + format_sci(lr));
  }
  model::cpu_threads_set(opt.threads);
  model::cpu_allocator_keep_memory();
  say(kind + ": " + model::blas_description() + "; " + parallel::Runtime::kokkos_description() +
      " (reward scoring)");
  if (const std::string w = model::blas_warning(); !w.empty()) say(kind + ": " + w);

  RunFacts facts;
  facts.kind = kind;
  facts.config_yaml = config_to_yaml(c);
  facts.seed = c.run.seed;
  facts.world_size = world.size();
  facts.data_path = c.data.train;
  facts.data_rows = static_cast<int64_t>(data.train.rows.size());
  facts.data_checksum = file_checksum(c.data.train);

  // Resume: the newest checkpoint every rank can load; a damaged one is named and the previous one tried.
  const std::vector<std::string> candidates = resumes ? resume_candidates(c, world) : std::vector<std::string>{};
  std::optional<LoadedCheckpoint> ck;
  std::vector<std::string> notes;
  // A sharded optimizer's training ranks (in the order the trainer's will have) read their shards only.
  const parallel::Comm shard_ranks = c.parallel.shard_optimizer && !candidates.empty()
                                         ? world.split(trains_here ? 0 : -1, world.rank())
                                         : parallel::Comm();
  for (const auto& path : candidates) {
    std::string error;
    try {
      ck = checkpoint_load(path, trains_here, shard_ranks.valid() ? &shard_ranks : nullptr);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (world.allreduce_min(error.empty() ? 1.0 : 0.0) > 0) break;
    ck.reset();
    if (error.empty()) error = path + ": could not be loaded on another rank";
    if (c.checkpoint.resume.mode != ResumeMode::Auto) throw UsageError("checkpoint.resume: " + error);
    say(kind + ": resume: " + error + "\n" + kind + ": resume: falling back to the previous checkpoint");
  }
  if (done && candidates.empty())
    throw UsageError(run_dir + " is complete (DONE) at step " + std::to_string(done->steps) + " and " +
                     steps_source(c, kind, asked) + " asks for more, but " + checkpoint_dir(c) +
                     " holds no checkpoint to continue from (set checkpoint.resume to a checkpoint of the run, or "
                     "checkpoint.resume=never to train it again from the start)");
  if (!candidates.empty() && !ck)
    throw UsageError("checkpoint.resume: none of the " + std::to_string(candidates.size()) + " checkpoints in " +
                     checkpoint_dir(c) + " could be loaded (see above); move them away or set checkpoint.resume=never "
                     "to start the run over");

  RunState s;
  if (ck) {
    notes = resume_check(*ck, facts, model_config_of(c.model));
    s.step = ck->step;
    s.cursor = ck->cursor;
    s.train_seconds = ck->train_seconds;
    s.eval_pending = ck->eval_pending;
    s.reference = ck->reference;
    s.policy = checkpoint_policy(*ck, policy_device(c.model, opt.local_rank));
    if (c.model.chat_template) s.policy.chat = *c.model.chat_template;
  } else {
    s.policy = policy_load(c.model, static_cast<uint64_t>(c.run.seed), opt.local_rank);
    s.reference = s.policy.origin;
  }
  policy_mixed_precision(s.policy, c.model.dtype);
  const std::unique_ptr<StepTrainer> trainer = make(s, data);
  const bool collective_saves =
      c.checkpoint.collective && c.parallel.shard_optimizer && trainer->training_ranks() > 1;
  CheckpointSaver saver(checkpoint_dir(c), c.checkpoint, opt.save && trainer->holds_state(),
                        opt.pause_save_step, opt.save, collective_saves);
  memory_plan_check(c, world, opt, kind, s.policy.cfg, *trainer, saver, say);
  if (ck && s.learner) {
    if (ck->shard_exp_avg.defined())
      s.learner->moments_set_shards(ck->shard_exp_avg, ck->shard_exp_avg_sq);
    else
      s.learner->moments_set(ck->exp_avg, ck->exp_avg_sq);
    s.learner->set_optimizer_steps(ck->optimizer_step);
  }
  facts.generation_ranks = trainer->generation_ranks();
  facts.training_ranks = trainer->training_ranks();
  result.first_step = s.step;

  RunLog log(c, kind, lead, opt.save, opt.print, ck ? s.step : -1);
  if (opt.save && saver.collective())
    log.message(
        kind + ": checkpoints: the " + std::to_string(trainer->training_ranks()) +
        " training ranks write their optimizer shards into one file together (parallel HDF5, MPI-IO); "
        "training waits for each save (checkpoint.async applies to single-writer saves)");
  // checkpoint.resume=never over a finished run, or a finished run extended: not done until this run finishes.
  if (lead && opt.save) fs::remove(run_dir + "/DONE");
  if (ck) {
    log.message(kind + ": resumed from " + ck->path + " at step " + std::to_string(s.step) + " (epoch " +
                std::to_string(s.cursor.epoch) + ", row " + std::to_string(s.cursor.position) + "; saved by " +
                std::to_string(ck->facts.world_size) + " ranks, " + std::to_string(ck->facts.generation_ranks) +
                " generating and " + std::to_string(ck->facts.training_ranks) + " training; now " +
                std::to_string(facts.world_size) + ", " + std::to_string(facts.generation_ranks) + " and " +
                std::to_string(facts.training_ranks) + ")");
    for (const auto& n : notes) log.message(kind + ": resume: setting changed: " + n);
    ck.reset();  // the loaded tensors now live in the state
  }
  saver.prepare(s);  // the async snapshot's buffers are faulted in while the first steps run
  const int64_t total = trainer->total_steps();
  const StopPoll stop{&signals.flag(), &world};
  const double save_estimate = static_cast<double>(model::parameter_count(s.policy.cfg)) * sizeof(float) * 3 / 2e8;  // before a save is measured
  const auto eval_due = [&](int64_t done) {
    return !data.eval.rows.empty() && (done % c.log.eval_every == 0 || done == total);
  };
  double longest_step = 0, longest_eval = 0;
  const auto run_eval = [&]() -> bool {  // false when a stop signal cut it short
    const auto t0 = Clock::now();
    std::optional<io::MetricsRow> e = trainer->evaluate(s, stop);
    longest_eval = std::max(longest_eval, world.allreduce_max(seconds_since(t0)));
    s.eval_pending = !e;
    if (e) {
      log.eval(*e, trainer->eval_line(*e));
      result.eval.push_back(std::move(*e));
    }
    return e.has_value();
  };
  // Whether to stop before the next step: a stop signal on any rank, or a time limit the next step (with its
  // evaluation and a checkpoint) would not fit in, by the longest step measured so far.
  const auto stop_reason = [&]() -> std::string {
    double time_up = 0;
    if (c.run.time_limit > 0 && longest_step > 0) {
      const double save = saver.write_seconds() > 0 ? saver.write_seconds() : save_estimate;
      const double next = longest_step + (eval_due(s.step + 1) ? longest_eval : 0) + save;
      time_up = seconds_since(t_start) + 1.1 * next > c.run.time_limit ? 1 : 0;
    }
    std::vector<double> v = {signals.requested() ? 1.0 : 0.0, time_up};
    world.allreduce_sum(v);
    if (v[0] > 0) return "a stop signal (SIGUSR1/SIGTERM)";
    if (v[1] > 0) return "run.time_limit (" + format_fixed(c.run.time_limit, 0) + " s): the next step would not fit";
    return "";
  };

  std::string stopped;
  const auto t_loop = Clock::now();
  if (s.eval_pending && !run_eval()) stopped = "a stop signal (SIGUSR1/SIGTERM)";
  while (stopped.empty() && s.step < total) {
    if (!(stopped = stop_reason()).empty()) break;
    if (opt.fail_rank == world.rank() && opt.fail_step == s.step)
      throw std::runtime_error("injected fault on rank " + std::to_string(world.rank()) + " at step " + std::to_string(s.step + 1));
    const auto t0 = Clock::now();
    const io::DataCursor before = s.cursor;
    std::optional<io::MetricsRow> row = trainer->step(s, stop);
    if (!row) {
      s.cursor = before;
      stopped = "a stop signal (SIGUSR1/SIGTERM)";
      break;
    }
    ++s.step;
    const double step_seconds = world.allreduce_max(seconds_since(t0));
    longest_step = std::max(longest_step, step_seconds);
    s.train_seconds += step_seconds;
    const double blocked = c.checkpoint.every > 0 && s.step % c.checkpoint.every == 0 && s.step < total
                               ? saver.save(s, facts) : 0.0;
    const double eta = seconds_since(t_loop) / static_cast<double>(s.step - result.first_step) *
                       static_cast<double>(total - s.step);
    row->insert(row->end(), {{metric_names::kSecondsCheckpoint, world.allreduce_max(blocked)}, {metric_names::kEtaSeconds, eta}});
    // The files and progress lines show the metrics this configuration does not compute (KL without a reference
    // model, entropy without its loss term) as null and "-", not as a measured 0 (metric_names.hpp).
    io::MetricsRow shown = *row;
    for (auto& [name, value] : shown)
      if (!metric_names::grpo_metric_computed(name, c.grpo.kl_coef, c.grpo.entropy_coef))
        value = std::numeric_limits<double>::quiet_NaN();
    log.step(shown, (s.step % c.log.every == 0 || s.step == total) ? trainer->step_line(shown, total) : "");
    result.metrics.push_back(std::move(*row));
    if (eval_due(s.step)) {
      if (stop.any()) s.eval_pending = true;
      if (s.eval_pending || !run_eval()) stopped = "a stop signal (SIGUSR1/SIGTERM)";
    }
  }
  if (saver.saved_step() != s.step || s.eval_pending) saver.save(s, facts);
  saver.wait();
  world.barrier();  // the checkpoint is complete before any rank reports or exits
  const std::string ckpt = checkpoint_dir(c) + "/" + io::checkpoint_file_name(s.step);
  if (!stopped.empty()) {
    log.message(kind + ": stopped after step " + std::to_string(s.step) + " by " + stopped + "; checkpoint " + ckpt +
                "; exit code " + std::to_string(kRequeueExitCode) + " (requeue: the next job resumes here)");
    result.end = RunEnd::Stopped;
  } else {
    log.save_policy(s.policy);
    log.mark_done(s.step);
    world.barrier();  // DONE is written before any rank returns: a job started next finds it
    log.message(kind + ": " + std::to_string(total) + " steps (" + std::to_string(total - result.first_step) +
                " in this job) in " + format_fixed(seconds_since(t_start), 1) + " s; checkpoint " + ckpt +
                "; run directory " + log.dir());
  }
  log.write_report();  // rank 0, after the final save; metrics files flush every row
  result.policy = std::move(s.policy);
  return result;
}

}  // namespace toolgrpo::app
