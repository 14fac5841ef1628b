// Metrics files: JSON Lines and CSV with the same numbers, shortest round-trip number text, non-finite values.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/metrics.hpp"

namespace fs = std::filesystem;
using namespace toolgrpo::io;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST(Metrics, NumberText) {
  EXPECT_EQ(metric_text(0.1), "0.1");
  EXPECT_EQ(metric_text(3.0), "3");
  EXPECT_EQ(metric_text(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(metric_text(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(metric_text(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(std::stod(metric_text(1.0 / 3)), 1.0 / 3);
}

TEST(Metrics, WritesJsonLinesAndCsv) {
  const fs::path dir = fs::temp_directory_path() / ("toolgrpo_metrics_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    MetricsWriter w(dir.string());
    w.append({{"step", 1}, {"loss", 0.5}});
    w.append({{"step", 2}, {"loss", std::numeric_limits<double>::quiet_NaN()}});
    EXPECT_THROW(w.append({{"step", 3}}), std::logic_error);
    EXPECT_THROW(w.append({{"loss", 1}, {"step", 3}}), std::logic_error);
  }
  EXPECT_EQ(slurp(dir / "metrics.jsonl"), "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": null}\n");
  EXPECT_EQ(slurp(dir / "metrics.csv"), "step,loss\n1,0.5\n2,nan\n");
  MetricsWriter eval(dir.string(), "eval");
  eval.append({{"step", 1}});
  EXPECT_TRUE(fs::exists(dir / "eval.csv"));
  EXPECT_THROW(MetricsWriter((dir / "missing" / "deeper").string()), std::runtime_error);
  fs::remove_all(dir);
}
