// Stopping a run early and keeping its work: SIGUSR1 and SIGTERM (Slurm's --signal, PBS's kill_delay, a user's
// kill) set a flag that the run driver combines over all ranks at every step and that long phases (generation
// rounds, evaluation) poll; the run then checkpoints and exits with kRequeueExitCode. The flag is the one piece of
// process-wide state a signal handler can reach; StopSignals installs and removes the handlers around a run.
#pragma once

#include <atomic>

namespace toolgrpo::app {

// The exit code of a run stopped by a signal or its time limit after writing its checkpoint: the job scripts
// requeue or resubmit on it (EX_TEMPFAIL of sysexits.h).
constexpr int kRequeueExitCode = 75;

class StopSignals {
 public:
  StopSignals();   // installs the SIGUSR1 and SIGTERM handlers (the previous ones are restored on destruction)
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Becomes true when a stop signal arrives (generation polls it between tokens).
  const std::atomic<bool>& flag() const;
  bool requested() const { return flag().load(std::memory_order_relaxed); }
  int signal_number() const;  // the last stop signal received, 0 when none
};

}  // namespace toolgrpo::app
