// Metrics files of a run: one JSON object per step in metrics.jsonl and the same numbers in metrics.csv
// (header from the first row). Appended and flushed line by line, so a crash loses at most the line being
// written and a long run never rewrites its history.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace toolgrpo::io {

using MetricsRow = std::vector<std::pair<std::string, double>>;

// Shortest text that reads back to the same double ("0.1", "3", "1e-06"); "nan"/"inf"/"-inf" for those.
std::string metric_text(double v);

class MetricsWriter {
 public:
  // Creates (truncates) DIR/NAME.jsonl and DIR/NAME.csv; throws std::runtime_error naming the file. With
  // `keep_through_step` >= 0 (a resumed run) the files are continued instead: rows whose "step" is at most that
  // are kept, later ones dropped (each file rewritten atomically), and new rows are appended.
  explicit MetricsWriter(const std::string& dir, const std::string& name = "metrics", int64_t keep_through_step = -1);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Every row must have the keys of the first, in the same order (the CSV columns); throws otherwise.
  void append(const MetricsRow& row);

 private:
  std::string dir_;
  std::FILE* jsonl_ = nullptr;
  std::FILE* csv_ = nullptr;
  std::vector<std::string> columns_;
};

}  // namespace toolgrpo::io
