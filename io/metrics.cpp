// Metrics writers; see metrics.hpp.
#include "io/metrics.hpp"

#include <charconv>
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
std::FILE* open_or_throw(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write metrics file " + path);
  return f;
}
}  // namespace

MetricsWriter::MetricsWriter(const std::string& dir, const std::string& name) : dir_(dir) {
  jsonl_ = open_or_throw(dir + "/" + name + ".jsonl");
  try {
    csv_ = open_or_throw(dir + "/" + name + ".csv");
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
