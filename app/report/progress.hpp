// A one-line progress bar with an ETA for rank 0's long phases (a step's generation, an evaluation). On a
// terminal it is redrawn in place with \r, at most ten times a second, and cleared when the phase ends, so
// the lines printed after it are the same as without it. Elsewhere (a log file, a pipe) it prints nothing for
// a short phase and one plain line every `plain_every` seconds of a long one. add() may be called from
// several threads. Which style stdout gets is decided once per command (progress_style_for_stdout) and passed
// down. The clock it reads is the steady clock unless the constructor is given another (tests pass one they
// move by hand).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

namespace toolgrpo::app {

enum class ProgressStyle {
  Off,    // nothing (ranks other than 0, tests)
  Bar,    // a terminal: redrawn in place
  Plain,  // a log: a line now and then in long phases
};

// The style for stdout: TOOLGRPO_PROGRESS=bar|plain|off when set; otherwise Bar when stdout is a terminal
// that Open MPI's mpirun did not make (it gives every rank a pseudo-terminal, even when its own output goes
// to a file), else Plain. Another TOOLGRPO_PROGRESS value is a UsageError.
ProgressStyle progress_style_for_stdout();

// The time now, as the progress line sees it; called from every thread that calls add() or update().
using ProgressClock = std::function<std::chrono::steady_clock::time_point()>;

class Progress {
 public:
  // `unit` non-empty: the line shows "done/total unit" besides the percentage. `plain_every`: seconds between
  // Plain lines (the first after that long). `clock`: empty for std::chrono::steady_clock::now.
  Progress(std::string label, int64_t total, ProgressStyle style, std::string unit = "",
           std::FILE* out = stdout, double plain_every = 30, ProgressClock clock = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(int64_t done);  // `done` of `total` finished
  void add(int64_t n);        // n more finished
  void finish();              // clears the bar (terminal); idempotent

 private:
  using Clock = std::chrono::steady_clock;
  void maybe_draw();
  std::string text(double elapsed) const;

  std::string label_, unit_;
  int64_t total_;
  bool active_, terminal_;
  std::FILE* out_;
  double plain_every_;
  ProgressClock clock_;
  std::atomic<int64_t> done_{0};
  std::mutex draw_;  // one drawer at a time; others skip
  Clock::time_point start_, last_draw_, last_plain_;
  std::size_t drawn_width_ = 0;  // characters of the bar on screen (0: none)
  bool finished_ = false;
};

}  // namespace toolgrpo::app
