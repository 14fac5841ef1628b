// Metrics writers; see metrics.hpp.
#include "io/metrics.hpp"

#include "io/atomic_file.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <cmath>
#include <stdexcept>

namespace toolgrpo::io {

std::string metric_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

namespace {
std::FILE* open_or_throw(const std::string& path, const char* mode) {
  std::FILE* f = std::fopen(path.c_str(), mode);
  if (f == nullptr) throw std::runtime_error("cannot write metrics file " + path);
  return f;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::vector<std::string> csv_split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, ',');) out.push_back(cell);
  return out;
}

void rewrite(const std::string& path, const std::vector<std::string>& lines) {
  AtomicFile f(path);
  for (const auto& l : lines) f.write(l + "\n");
  f.commit();
}

// Keeps the rows of DIR/NAME.{jsonl,csv} whose step is at most `last` (a row that cannot be read ends the kept
// part: it was being written when the run stopped); returns the CSV columns ({} when there is no header).
std::vector<std::string> continue_files(const std::string& base, int64_t last) {
  std::vector<std::string> jsonl;
  for (const auto& line : lines_of(base + ".jsonl")) {
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.contains("step") || !row["step"].is_number()) break;
    if (row["step"].get<double>() > static_cast<double>(last)) break;
    jsonl.push_back(line);
  }
  const std::vector<std::string> csv_in = lines_of(base + ".csv");
  std::vector<std::string> csv, columns;
  if (!csv_in.empty()) {
    columns = csv_split(csv_in[0]);
    const auto step_col = std::find(columns.begin(), columns.end(), "step") - columns.begin();
    csv.push_back(csv_in[0]);
    for (std::size_t i = 1; i < csv_in.size(); ++i) {
      const std::vector<std::string> cells = csv_split(csv_in[i]);
      if (cells.size() != columns.size() || std::strtod(cells[static_cast<std::size_t>(step_col)].c_str(), nullptr) >
                                                static_cast<double>(last))
        break;
      csv.push_back(csv_in[i]);
    }
  }
  rewrite(base + ".jsonl", jsonl);
  rewrite(base + ".csv", csv);
  return csv.empty() ? std::vector<std::string>{} : columns;
}
}  // namespace

MetricsWriter::MetricsWriter(const std::string& dir, const std::string& name, int64_t keep_through_step) : dir_(dir) {
  const std::string base = dir + "/" + name;
  const char* mode = "w";
  if (keep_through_step >= 0) {
    columns_ = continue_files(base, keep_through_step);
    mode = "a";
  }
  jsonl_ = open_or_throw(base + ".jsonl", mode);
  try {
    csv_ = open_or_throw(base + ".csv", mode);
  } catch (...) {
    std::fclose(jsonl_);
    throw;
  }
}

MetricsWriter::~MetricsWriter() {
  std::fclose(jsonl_);
  std::fclose(csv_);
}

void MetricsWriter::append(const MetricsRow& row) {
  if (columns_.empty()) {
    std::string header;
    for (const auto& [k, v] : row) {
      columns_.push_back(k);
      header += (header.empty() ? "" : ",") + k;
    }
    std::fprintf(csv_, "%s\n", header.c_str());
  } else {
    bool same = row.size() == columns_.size();
    for (std::size_t i = 0; same && i < row.size(); ++i) same = row[i].first == columns_[i];
    if (!same) throw std::logic_error("metrics row does not have the columns of the first row");
  }
  std::string json = "{", csv;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const std::string t = metric_text(row[i].second);
    json += (i ? ", \"" : "\"") + row[i].first + "\": " + (std::isfinite(row[i].second) ? t : "null");
    csv += (i ? "," : "") + t;
  }
  json += "}\n";
  csv += "\n";
  if (std::fputs(json.c_str(), jsonl_) < 0 || std::fputs(csv.c_str(), csv_) < 0 || std::fflush(jsonl_) != 0 ||
      std::fflush(csv_) != 0)
    throw std::runtime_error("cannot append to the metrics files in " + dir_ + " (disk full?)");
}

}  // namespace toolgrpo::io
