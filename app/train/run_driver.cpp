// The run driver shared by GRPO and SFT; see run_driver.hpp. run_driver reads as the run's parts: where it starts
// (app/train/resume.hpp), the memory plan, the step loop with its cadence (evaluations, checkpoints) and its stop rule
// (signals, the time limit), and the end (final save, DONE, report).
#include "app/train/run_driver.hpp"

#include "common/name_table.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>

#include <unistd.h>

#include "app/cli/commands.hpp"
#include "app/report/metric_names.hpp"
#include "app/report/run_log.hpp"
#include "app/train/checkpoint.hpp"
#include "app/train/memory_workload.hpp"
#include "app/train/resume.hpp"
#include "app/train/stop_signal.hpp"
#include "io/checkpoint_file.hpp"
#include "model/decoder.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string host_name() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string("(unknown)");
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

void signal_if_asked(const TrainOptions& opt, int rank, int64_t step, SignalPhase phase) {
  if (opt.signal_rank == rank && opt.signal_step == step && opt.signal_phase == phase) std::raise(SIGUSR1);
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

// What this rank may use, read before any rank of the node loads data or weights: the host's memory
// (run.memory_limit_gb, else MemAvailable or the cgroup's room, shared by the node's ranks) and, with
// model.device cuda, its GPU's free memory (shared by the ranks that use that GPU).
MemoryBudget memory_budget(const Config& c, const TrainOptions& opt) {
  MemoryBudget b;
  if (c.run.memory_limit_gb > 0) {
    b.host = c.run.memory_limit_gb * 1e9;
    b.host_source = "run.memory_limit_gb";
  } else {
    b.host = memory_available(opt.local_size, b.host_source);
    b.host_source += ", read before loading";
  }
  if (c.model.device == ModelDevice::Cuda && model::cuda_available()) {
    const int devices = model::cuda_device_count();
    b.device = device_memory_free(opt.local_rank % std::max(1, devices),
                                  ranks_on_device(opt.local_rank, opt.local_size, devices), b.device_source);
  }
  return b;
}

// Prints rank 0's memory plan; stops the run on every rank when any rank's plan does not fit, with what the
// trainer's settings (StepTrainer::memory_remedies) and the run's can lower.
// `budget`: what a rank may use, as read before anything was loaded (host memory, and a GPU's on device runs).
void memory_plan_check(const Config& c, const parallel::Comm& world, const MemoryBudget& budget,
                       const std::string& kind, const model::ModelConfig& cfg, const StepTrainer& trainer,
                       const CheckpointSaver& saver, const Say& say) {
  MemoryWorkload w = trainer.memory_workload();
  const bool device = c.model.device == ModelDevice::Cuda && budget.device > 0;
  memory_workload_add_run(w, c, trainer.training_ranks(), saver, device,
                          model::attention_fused_available() &&
                              model::attention_kernel() != model::AttentionKernel::Reference);
  const MemoryPlan plan = memory_plan(cfg, w, budget);
  // Rank 0 reports the largest plan of all ranks (the ranks that hold the checkpoint snapshot, or train).
  const double peak = world.allreduce_max(plan.peak);
  const bool fits = world.allreduce_min(plan.fits() ? 1.0 : 0.0) > 0;
  say(plan.table() + (peak > plan.peak ? "\n  (another rank's plan peaks at " + format_fixed(peak / 1e9, 2) + " GB)" : ""));
  if (fits || !c.run.memory_check) {
    if (!fits) say(kind + ": warning: the memory plan does not fit, but run.memory_check is false: going on");
    return;
  }
  throw UsageError(kind + ": the memory plan needs about " + format_fixed(peak / 1e9, 2) +
                   " GB per rank but a rank has " + format_fixed(plan.available / 1e9, 2) + " GB (" +
                   plan.available_source + "; see the plan above). To fit: " + trainer.memory_remedies() +
                   "; set checkpoint.async=false (no host snapshot)" +
                   (c.parallel.shard_optimizer || trainer.training_ranks() < 2
                        ? ""
                        : "; set parallel.shard_optimizer=true (AdamW moments split over the " +
                              std::to_string(trainer.training_ranks()) + " training ranks)") +
                   (c.model.dtype == ModelDtype::Bf16 ? "" : "; set model.dtype=bf16 (half the activations)") +
                   "; run fewer ranks per node or a smaller model; or set run.memory_limit_gb if the "
                   "detected memory is wrong "
                   "(run.memory_check=false to go on regardless)");
}

// When the loop stops before the next step: a stop signal on any rank, or a time limit that the next step (with
// its evaluation and a checkpoint) would not fit in, by the longest step and evaluation measured so far.
class StopRule {
 public:
  StopRule(const Config& c, const parallel::Comm& world, const StopSignals& signals, const CheckpointSaver& saver,
           double save_estimate, Clock::time_point start)
      : limit_(c.run.time_limit), world_(world), signals_(signals), saver_(saver), save_estimate_(save_estimate),
        start_(start) {}
  static constexpr const char* kSignal = "a stop signal (SIGUSR1/SIGTERM)";

  void step_took(double seconds) { longest_step_ = std::max(longest_step_, seconds); }
  void eval_took(double seconds) { longest_eval_ = std::max(longest_eval_, seconds); }

  // Collective: the reason to stop before the next step ("" to go on); `eval_next`: an evaluation follows it.
  std::string reason(bool eval_next) const {
    double time_up = 0;
    if (limit_ > 0 && longest_step_ > 0) {
      const double save = saver_.write_seconds() > 0 ? saver_.write_seconds() : save_estimate_;
      const double next = longest_step_ + (eval_next ? longest_eval_ : 0) + save;
      time_up = seconds_since(start_) + 1.1 * next > limit_ ? 1 : 0;
    }
    std::vector<double> v = {signals_.requested() ? 1.0 : 0.0, time_up};
    world_.allreduce_sum(v);
    if (v[0] > 0) return kSignal;
    if (v[1] > 0) return "run.time_limit (" + format_fixed(limit_, 0) + " s): the next step would not fit";
    return "";
  }

 private:
  const double limit_;
  const parallel::Comm& world_;
  const StopSignals& signals_;
  const CheckpointSaver& saver_;
  const double save_estimate_;  // before a save is measured
  const Clock::time_point start_;
  double longest_step_ = 0, longest_eval_ = 0;
};

// The step's row as logged: the metrics this configuration does not compute (KL without a reference model,
// entropy without its loss term) as null and "-", not as a measured 0 (metric_names.hpp).
io::MetricsRow shown_row(const Config& c, io::MetricsRow row) {
  for (auto& [name, value] : row)
    if (!metric_names::grpo_metric_computed(name, c.grpo.kl_coef, c.grpo.entropy_coef))
      value = std::numeric_limits<double>::quiet_NaN();
  return row;
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
  const Say say = [&](const std::string& text) {
    if (lead && opt.print && !text.empty()) {
      std::printf("%s\n", text.c_str());
      std::fflush(stdout);
    }
  };
  const std::string run_dir = (fs::path(c.run.out_dir) / c.run.name).string();
  const bool resumes = opt.save && c.checkpoint.resume.mode != ResumeMode::Never;  // a run that writes nothing reads nothing either

  // 1. A finished run (RUN_DIR/DONE) is extended when the configuration asks for more steps than it completed, and
  // otherwise left alone: nothing is read or written. Rank 0 decides for all (ranks on other nodes may see the file
  // system later than it does). Steps counted from the epochs are known once the rows are loaded.
  const std::optional<FinishedRun> done = resumes ? finished_run(c, world, run_dir) : std::nullopt;
  if (done) {
    const FinishedVerdict v = finished_run_verdict(c, kind, run_dir, *done, steps_asked(c, kind, -1));
    if (!v.extend) {
      say(v.line);
      result.end = RunEnd::AlreadyDone;
      return result;
    }
  }
  const auto t_start = Clock::now();
  // The memory a rank may use, read before any rank of the node loads data or weights: the plan counts those
  // itself, so a reading taken after loading would count them twice.
  world.barrier();
  const MemoryBudget memory_at_start = memory_budget(c, opt);
  world.barrier();
  const RunData data = run_data_load(c);
  const int64_t asked = steps_asked(c, kind, static_cast<int64_t>(data.train.rows.size()));
  if (done) {
    const FinishedVerdict v = finished_run_verdict(c, kind, run_dir, *done, asked);
    say(v.line);
    if (!v.extend) {
      result.end = RunEnd::AlreadyDone;
      return result;
    }
  }
  model::cpu_threads_set(opt.threads);
  model::cpu_allocator_keep_memory();
  say(kind + ": " + model::blas_description() + "; " + parallel::Runtime::kokkos_description() +
      " (reward scoring)");
  if (const std::string w = model::blas_warning(); !w.empty()) say(kind + ": " + w);

  // 2. Where the run starts: the newest checkpoint every rank can load, or the configured model (on GPUs, one
  // rank per GPU unless parallel.share_gpus).
  if (c.model.device == ModelDevice::Cuda) {
    // Which GPU each rank will use, by bus id where the build can ask (every rank takes part: collective).
    const bool here = model::cuda_available();  // without: policy_device says why
    const int devices = here ? model::cuda_device_count() : 0;
    const std::string node = host_name(), bus = devices > 0 ? gpu_bus_id(opt.local_rank % devices) : "";
    const std::vector<std::string> buses = world.allgather(bus), nodes = world.allgather(node);
    const bool identified = std::none_of(buses.begin(), buses.end(), [](const std::string& b) { return b.empty(); });
    if (here && identified) {
      std::vector<std::pair<std::string, std::string>> node_gpu;
      for (std::size_t r = 0; r < buses.size(); ++r) node_gpu.emplace_back(nodes[r], buses[r]);
      gpu_sharing_check(node_gpu, c.parallel.share_gpus);
    } else if (here) {
      gpu_placement_check(opt.local_rank, opt.local_size, devices, c.parallel.share_gpus, node);
    }
    if (here) model::cuda_allow_tf32(c.parallel.tf32);
  }
  RunFacts facts = run_facts(c, kind, world, data);
  std::optional<LoadedCheckpoint> ck = resumes ? resume_load(c, world, kind, trains_here, say) : std::nullopt;
  if (done && !ck)
    throw UsageError(run_dir + " is complete (DONE) at step " + std::to_string(done->steps) + " and " +
                     steps_source(c, kind, asked) + " asks for more, but " + checkpoint_dir(c) +
                     " holds no checkpoint to continue from (set checkpoint.resume to a checkpoint of the run, or "
                     "checkpoint.resume=never to train it again from the start)");
  std::vector<std::string> changed;
  RunState s = run_state_start(c, opt, ck ? &*ck : nullptr, facts, changed);
  const std::unique_ptr<StepTrainer> trainer = make(s, data);
  CheckpointSaver saver(checkpoint_dir(c), c.checkpoint, opt.save && trainer->holds_state(),
                        opt.pause_save_step, opt.save, checkpoint_collective(c, trainer->training_ranks()));

  // 3. The memory plan, before any step allocates.
  memory_phase_end(world.rank(), "loading");
  memory_plan_check(c, world, memory_at_start, kind, s.policy.cfg, *trainer, saver, say);
  if (ck && s.learner) optimizer_restore(*ck, *s.learner);
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
    for (const auto& n : changed) log.message(kind + ": resume: setting changed: " + n);
    ck.reset();  // the loaded tensors now live in the state
  }
  saver.prepare(s);  // the async snapshot's buffers are faulted in while the first steps run

  // 4. The steps, with the cadence of evaluations (log.eval_every and the last step) and checkpoints
  // (checkpoint.every; the last step's is the final save), until the end or the stop rule.
  const int64_t total = trainer->total_steps();
  const StopPoll stop{&signals.flag(), &world};
  StopRule stop_rule(c, world, signals, saver,
                     static_cast<double>(model::parameter_count(s.policy.cfg)) * sizeof(float) * 3 / 2e8, t_start);
  const auto eval_due = [&](int64_t steps) {
    return !data.eval.rows.empty() && (steps % c.log.eval_every == 0 || steps == total);
  };
  const auto checkpoint_due = [&](int64_t steps) {
    return c.checkpoint.every > 0 && steps % c.checkpoint.every == 0 && steps < total;
  };
  const auto run_eval = [&]() -> bool {  // false when a stop signal cut it short
    const auto t0 = Clock::now();
    std::optional<io::MetricsRow> e = trainer->evaluate(s, stop);
    memory_phase_end(world.rank(), "evaluation");
    stop_rule.eval_took(world.allreduce_max(seconds_since(t0)));
    s.eval_pending = !e;
    if (e) {
      log.eval(*e, trainer->eval_line(*e));
      result.eval.push_back(std::move(*e));
    }
    return e.has_value();
  };
  std::string stopped;
  const auto t_loop = Clock::now();
  if (s.eval_pending && !run_eval()) stopped = StopRule::kSignal;
  while (stopped.empty() && s.step < total) {
    if (!(stopped = stop_rule.reason(eval_due(s.step + 1))).empty()) break;
    if (opt.fail_rank == world.rank() && opt.fail_step == s.step)
      throw std::runtime_error("injected fault on rank " + std::to_string(world.rank()) + " at step " + std::to_string(s.step + 1));
    const auto t0 = Clock::now();
    const io::DataCursor before = s.cursor;
    std::optional<io::MetricsRow> row = trainer->step(s, stop);
    if (!row) {
      s.cursor = before;
      stopped = StopRule::kSignal;
      break;
    }
    ++s.step;
    const double step_seconds = world.allreduce_max(seconds_since(t0));
    stop_rule.step_took(step_seconds);
    s.train_seconds += step_seconds;
    double blocked = 0;
    if (checkpoint_due(s.step)) {
      blocked = saver.save(s, facts);
      memory_phase_end(world.rank(), "checkpoint save");
    }
    const double eta = seconds_since(t_loop) / static_cast<double>(s.step - result.first_step) *
                       static_cast<double>(total - s.step);
    row->insert(row->end(), {{metric_names::kSecondsCheckpoint, world.allreduce_max(blocked)}, {metric_names::kEtaSeconds, eta}});
    const io::MetricsRow shown = shown_row(c, *row);
    log.step(shown, (s.step % c.log.every == 0 || s.step == total) ? trainer->step_line(shown, total) : "");
    result.metrics.push_back(std::move(*row));
    if (eval_due(s.step)) {
      if (stop.any()) s.eval_pending = true;
      if (s.eval_pending || !run_eval()) stopped = StopRule::kSignal;
    }
  }

  // 5. The end: the final save; then either the requeue message (stopped) or the exported policy and DONE.
  if (saver.saved_step() != s.step || s.eval_pending) saver.save(s, facts);
  saver.wait();
  memory_phase_end(world.rank(), "final checkpoint save");
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
