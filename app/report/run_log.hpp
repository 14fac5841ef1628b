// What a run leaves behind and prints, owned by one rank (world rank 0): the run directory with the resolved
// config.yaml, metrics.jsonl/csv (a row per step), eval.jsonl/csv, progress lines, the final model directory and
// the report (plots and index.html).
// On every other rank each call does nothing, so the trainers call it unconditionally.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "app/config/config.hpp"
#include "app/train/policy.hpp"
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
  // Writes RUN_DIR/DONE (done_marker_text): the run is complete after `steps` steps of `kind`; a job started on it
  // again exits at once unless it asks for more steps (it then extends the run).
  void mark_done(int64_t steps);
  // Writes the run's report (app/report/report.hpp) into RUN_DIR/report and says where; a report that cannot be written
  // is a warning on stderr, never an error of the run.
  void write_report();

 private:
  bool active_, save_, print_;
  int64_t resume_step_;
  std::string command_, dir_;
  std::unique_ptr<io::MetricsWriter> metrics_, eval_;
};

// RUN_DIR/DONE, the marker of a finished run: a small text file, written atomically, of the lines
//   complete
//   kind: grpo
//   steps: 4
// DONE files of earlier versions hold the first line only: `steps` is then unknown (-1).
struct DoneMarker {
  std::string kind;    // "grpo" | "sft"; "" when the file does not say
  int64_t steps = -1;  // steps the run had completed when it finished; -1: not recorded
};
std::string done_marker_text(const DoneMarker& d);
// Parses a DONE file's text; throws UsageError naming `path` and the expected form when it is damaged.
DoneMarker done_marker_parse(const std::string& text, const std::string& path);
// Reads RUN_DIR/DONE: nullopt when the run has none; a damaged one is a UsageError naming it.
std::optional<DoneMarker> done_marker_read(const std::string& run_dir);

// "%.{digits}f" of v, for progress lines.
std::string format_fixed(double v, int digits);
// "%.2e" of v (learning rates).
std::string format_sci(double v);
// Seconds elapsed since t.
double seconds_since(std::chrono::steady_clock::time_point t);

}  // namespace toolgrpo::app
