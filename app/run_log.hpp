// What a run leaves behind and prints, owned by one rank (world rank 0): the run directory with the resolved
// config.yaml, metrics.jsonl/csv (a row per step), eval.jsonl/csv, progress lines, the final model directory and
// the report (plots and index.html).
// On every other rank each call does nothing, so the trainers call it unconditionally.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "app/config.hpp"
#include "app/policy.hpp"
#include "io/metrics.hpp"

namespace toolgrpo::app {

class RunLog {
 public:
  // `active`: this rank writes and prints. `save`: write files (tests may only want the numbers).
  // `resume_step` >= 0: a resumed run continues the metrics and eval files after that step (later rows dropped).
  RunLog(const Config& c, const std::string& command, bool active, bool save, bool print, int64_t resume_step = -1);
  const std::string& dir() const { return dir_; }
  void step(const io::MetricsRow& row, const std::string& progress);
  void eval(const io::MetricsRow& row, const std::string& progress);
  void message(const std::string& text);
  void save_policy(const Policy& p);
  // Writes RUN_DIR/DONE: the run is complete, and a job started on it again exits at once.
  void mark_done();
  // Writes the run's report (app/report.hpp) into RUN_DIR/report and says where; a report that cannot be written
  // is a warning on stderr, never an error of the run.
  void write_report();

 private:
  bool active_, save_, print_;
  int64_t resume_step_;
  std::string command_, dir_;
  std::unique_ptr<io::MetricsWriter> metrics_, eval_;
};

// "%.{digits}f" of v, for progress lines.
std::string format_fixed(double v, int digits);
// "%.2e" of v (learning rates).
std::string format_sci(double v);
// Seconds elapsed since t.
double seconds_since(std::chrono::steady_clock::time_point t);

}  // namespace toolgrpo::app
