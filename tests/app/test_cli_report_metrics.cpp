// `toolgrpo report` on a run that wrote some metrics as null (metrics its configuration does not compute: KL
// without a reference model, entropy without an entropy term): they are printed as "-" with the reason, never
// as 0, and left out of the plots, while computed ones keep their values.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "tests/app/cli_run.hpp"

namespace toolgrpo::testing {
namespace {

std::string text_of(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ReportMetrics, MetricsARunDoesNotComputeArePrintedAsADash) {
  const fs::path run_dir = scratch() / "report_null_metrics";
  fs::remove_all(run_dir);
  fs::create_directories(run_dir);
  {
    std::ofstream f(run_dir / "metrics.jsonl");
    f << "{\"step\": 1, \"reward_total_mean\": 0.5, \"kl\": null, \"entropy\": 1.25, \"approx_kl\": 0.01}\n"
         "{\"step\": 2, \"reward_total_mean\": 0.75, \"kl\": null, \"entropy\": 1.5, \"approx_kl\": 0.02}\n";
  }
  const RunResult r = run("report " + run_dir.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string index = text_of(run_dir / "report" / "index.html");
  EXPECT_TRUE(contains(index,
                       "<tr><th>KL to the reference: last</th><td>- (not computed by this run: "
                       "grpo.kl_coef is 0, no reference model)</td></tr>"))
      << index;
  EXPECT_TRUE(contains(index, "<tr><th>entropy: last</th><td>1.5 (step 2)</td></tr>")) << index;
  const std::string svg = text_of(run_dir / "report" / "kl_entropy.svg");
  EXPECT_TRUE(contains(svg, "data-series=\"approx_kl\" data-points=\"2\"")) << svg;
  EXPECT_TRUE(contains(svg, "data-series=\"entropy\" data-points=\"2\"")) << svg;
  EXPECT_FALSE(contains(svg, "data-series=\"kl\"")) << "no line of zeros for a KL that was not computed";
  fs::remove_all(run_dir);
}

TEST(ReportMetrics, RewardPlotAddsATenStepMovingMean) {
  const fs::path run_dir = scratch() / "report_moving_mean";
  fs::remove_all(run_dir);
  fs::create_directories(run_dir);
  {
    std::ofstream f(run_dir / "metrics.jsonl");
    for (int step = 1; step <= 12; ++step)
      f << "{\"step\": " << step << ", \"reward_total_mean\": " << (step % 2 ? 0.0 : 2.0) << "}\n";
  }
  const RunResult r = run("report " + run_dir.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string svg = text_of(run_dir / "report" / "reward.svg");
  EXPECT_TRUE(contains(svg, "data-series=\"reward_total_mean\" data-points=\"12\"")) << svg;
  EXPECT_TRUE(contains(svg, "data-series=\"reward_total_mean, 10-step moving mean\" data-points=\"12\"")) << svg;
  fs::remove_all(run_dir);
}

}  // namespace
}  // namespace toolgrpo::testing
