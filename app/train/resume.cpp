// Where a run starts; see resume.hpp.
#include "app/train/resume.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/cli/commands.hpp"
#include "app/report/run_log.hpp"
#include "io/checkpoint_file.hpp"
#include "model/optimizer.hpp"

namespace toolgrpo::app {
namespace {

namespace fs = std::filesystem;

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

}  // namespace

std::string steps_source(const Config& c, const std::string& kind, int64_t asked) {
  const bool sft = kind == "sft";
  if ((sft ? c.sft.steps : c.grpo.steps) > 0) return kind + ".steps=" + std::to_string(asked);
  return kind + ".epochs=" + std::to_string(sft ? c.sft.epochs : c.grpo.epochs) + " (" + std::to_string(asked) +
         " steps)";
}

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

FinishedVerdict finished_run_verdict(const Config& c, const std::string& kind, const std::string& run_dir,
                                     const FinishedRun& done, int64_t asked) {
  const bool by_steps = (kind == "sft" ? c.sft.steps : c.grpo.steps) > 0;
  const std::string earlier = done.recorded ? "" : " (its newest checkpoint; DONE of an earlier version records no step count)";
  if (done.steps < 0)
    return {false, kind + ": " + run_dir + " is complete (DONE, written by an earlier version without a step count, and no "
           "checkpoint to extend from); nothing to do. Use another run.name, or checkpoint.resume=never to train it "
           "again from the start."};
  if (asked >= 0 && asked <= done.steps)
    return {false, kind + ": " + run_dir + " is complete (DONE) at step " + std::to_string(done.steps) + earlier + " and " +
           steps_source(c, kind, asked) + " asks for no more; nothing to do. Raise " + kind + ".steps" +
           (by_steps ? "" : " or " + kind + ".epochs") + " to extend it, use another run.name, or "
           "checkpoint.resume=never to train it again from the start."};
  if (asked < 0) return {true, ""};  // counted from the epochs: decided once the rows are loaded
  // The schedule is a function of the step and the run's total (RunState::step; the checkpoint records no total),
  // so it follows the new count from the first extended step on.
  const bool sft = kind == "sft";
  const model::LrSchedule schedule = sft ? c.sft.schedule : c.grpo.schedule;
  const double lr = model::lr_at(schedule, sft ? c.sft.lr : c.grpo.lr, done.steps,
                                 sft ? c.sft.warmup_steps : c.grpo.warmup_steps, asked);
  return {true, kind + ": extending the finished run " + run_dir + " from step " + std::to_string(done.steps) + earlier +
      " to " + std::to_string(asked) + " (" + steps_source(c, kind, asked) + "); the learning-rate schedule (" +
      model::lr_schedule_name(schedule) + ") now spans " + std::to_string(asked) + " steps: step " +
      std::to_string(done.steps + 1) + " runs at lr " + format_sci(lr)};
}

RunFacts run_facts(const Config& c, const std::string& kind, const parallel::Comm& world, const RunData& data) {
  RunFacts facts;
  facts.kind = kind;
  facts.config_yaml = config_to_yaml(c);
  facts.seed = c.run.seed;
  facts.world_size = world.size();
  facts.data_path = c.data.train;
  facts.data_rows = static_cast<int64_t>(data.train.rows.size());
  facts.data_checksum = file_checksum(c.data.train);
  return facts;
}

std::optional<LoadedCheckpoint> resume_load(const Config& c, const parallel::Comm& world, const std::string& kind,
                                            bool trains_here, const Say& say) {
  const std::vector<std::string> candidates = resume_candidates(c, world);
  if (candidates.empty()) return std::nullopt;
  // A sharded optimizer's training ranks (in the order the trainer's will have) read their shards only.
  const parallel::Comm shard_ranks =
      c.parallel.shard_optimizer ? world.split(trains_here ? 0 : -1, world.rank()) : parallel::Comm();
  for (const auto& path : candidates) {
    std::optional<LoadedCheckpoint> ck;
    std::string error;
    try {
      ck = checkpoint_load(path, trains_here, shard_ranks.valid() ? &shard_ranks : nullptr);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (world.allreduce_min(error.empty() ? 1.0 : 0.0) > 0) return ck;
    if (error.empty()) error = path + ": could not be loaded on another rank";
    if (c.checkpoint.resume.mode != ResumeMode::Auto) throw UsageError("checkpoint.resume: " + error);
    say(kind + ": resume: " + error + "\n" + kind + ": resume: falling back to the previous checkpoint");
  }
  throw UsageError("checkpoint.resume: none of the " + std::to_string(candidates.size()) + " checkpoints in " +
                   checkpoint_dir(c) + " could be loaded (see above); move them away or set checkpoint.resume=never "
                   "to start the run over");
}

RunState run_state_start(const Config& c, const TrainOptions& opt, const LoadedCheckpoint* ck, const RunFacts& facts,
                         std::vector<std::string>& changed) {
  RunState s;
  if (ck) {
    changed = resume_check(*ck, facts, model_config_of(c.model));
    s.step = ck->step;
    s.cursor = ck->cursor;
    s.train_seconds = ck->train_seconds;
    s.eval_pending = ck->eval_pending;
    s.reference = ck->reference;
    s.policy = policy_from_checkpoint(*ck, policy_device(c.model, opt.local_rank));
    if (c.model.chat_template) s.policy.chat = *c.model.chat_template;
  } else {
    s.policy = policy_load(c.model, static_cast<uint64_t>(c.run.seed), opt.local_rank);
    s.reference = s.policy.origin;
  }
  policy_mixed_precision(s.policy, c.model.dtype);
  return s;
}

void optimizer_restore(const LoadedCheckpoint& ck, Learner& learner) {
  if (ck.shard_exp_avg.defined())
    learner.moments_set_shards(ck.shard_exp_avg, ck.shard_exp_avg_sq);
  else
    learner.moments_set(ck.exp_avg, ck.exp_avg_sq);
  learner.set_optimizer_steps(ck.optimizer_step);
}

}  // namespace toolgrpo::app
