// toolgrpo train | sft: read the config (file + key=value overrides), decide this rank's CPU threads, and run
// the GRPO or SFT loop over MPI_COMM_WORLD. TOOLGRPO_FAULT_INJECT=RANK:STEP makes that rank throw at that
// step (the failure tests use it to show that one failing rank ends the whole job);
// TOOLGRPO_SIGNAL_INJECT=RANK:STEP:PHASE makes that rank raise SIGUSR1 on itself in that phase (generate,
// train, eval) of that step, and TOOLGRPO_PAUSE_SAVE_STEP=N pauses the save of step N before its commit
// marker (the crash tests kill it there). A run stopped by a signal or its time limit returns
// kRequeueExitCode.

#include <algorithm>
#include <cstdlib>
#include <string>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "app/config/config.hpp"
#include "app/report/progress.hpp"
#include "app/train/stop_signal.hpp"
#include "app/train/trainer.hpp"

namespace toolgrpo::app {
namespace {

TrainOptions options_for(const Config& c, parallel::Runtime& rt) {
  TrainOptions opt;
  opt.threads = c.parallel.threads > 0 ? static_cast<int>(c.parallel.threads) : rt.default_threads();
  opt.local_rank = rt.local_rank();
  opt.local_size = rt.local_size();
  opt.progress = progress_style_for_stdout();
  if (const char* f = std::getenv("TOOLGRPO_FAULT_INJECT")) {
    const std::string s = f;
    const std::size_t colon = s.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument(s);
      opt.fail_rank = std::stoi(s.substr(0, colon));
      opt.fail_step = std::stoll(s.substr(colon + 1)) - 1;
    } catch (const std::exception&) {
      throw UsageError("TOOLGRPO_FAULT_INJECT: expected RANK:STEP (step counted from 1), got '" + s + "'");
    }
  }
  if (const char* f = std::getenv("TOOLGRPO_SIGNAL_INJECT")) {  // RANK:STEP:PHASE, phase generate|train|eval
    const std::string s = f;
    const std::size_t a = s.find(':'), b = a == std::string::npos ? a : s.find(':', a + 1);
    try {
      if (b == std::string::npos) throw std::invalid_argument(s);
      opt.signal_rank = std::stoi(s.substr(0, a));
      opt.signal_step = std::stoll(s.substr(a + 1, b - a - 1)) - 1;
      opt.signal_phase = signal_phase_from_name(s.substr(b + 1));
    } catch (const std::exception&) {
      throw UsageError("TOOLGRPO_SIGNAL_INJECT: expected RANK:STEP:PHASE (step counted from 1), got '" + s + "'");
    }
  }
  if (const char* f = std::getenv("TOOLGRPO_PAUSE_SAVE_STEP")) opt.pause_save_step = std::atoll(f);
  return opt;
}

int run(parallel::Runtime& rt, const std::vector<std::string>& args, bool sft) {
  const CliArgs cli(args, train_spec(sft));
  const Config c = config_load(cli.has("--config") ? cli.get("--config") : "", cli.positional(), rt.size());
  const TrainOptions opt = options_for(c, rt);
  const TrainResult r = sft ? sft_train(c, rt.world(), opt) : grpo_train(c, rt.world(), opt);
  return r.end == RunEnd::Stopped ? kRequeueExitCode : 0;
}

}  // namespace

int cmd_train(parallel::Runtime& rt, const std::vector<std::string>& args) { return run(rt, args, false); }
int cmd_sft(parallel::Runtime& rt, const std::vector<std::string>& args) { return run(rt, args, true); }

}  // namespace toolgrpo::app
