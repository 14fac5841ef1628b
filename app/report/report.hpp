// The report of a run directory: SVG plots of its metrics (reward and its parts, response length, KL and
// entropy, clip fraction, throughput, phase times, SFT loss, evaluations) and an index.html showing them with
// a summary table and the resolved config.yaml. `toolgrpo report` writes it, and so do train and sft when
// they end; any command that adds to a run directory (eval --summary) can call report_write again.
#pragma once

#include <string>
#include <vector>

namespace toolgrpo::app {

struct ReportFiles {
  std::string dir;                 // where the report was written
  std::vector<std::string> plots;  // the SVG files written (names inside dir), in page order
  std::string index;               // the path of index.html
};

// Reads RUN_DIR/config.yaml (optional), metrics.jsonl (required), eval.jsonl and eval_summaries.jsonl
// (optional: one `toolgrpo eval --summary` object per line with "label" and "step" added) and writes the
// plots whose series exist, and index.html, into `out_dir` (empty: RUN_DIR/report), each file atomically.
// Everything is read before anything is written: a missing RUN_DIR or metrics.jsonl, or a malformed line
// (named FILE:LINE), throws a UsageError and writes nothing.
ReportFiles report_write(const std::string& run_dir, const std::string& out_dir = "");

}  // namespace toolgrpo::app
