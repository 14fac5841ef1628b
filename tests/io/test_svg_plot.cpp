// SVG line plots on hand-made series: the file parses as XML (with python3's parser, independent of ours),
// holds one polyline per series with the finite points only, at coordinates computed by hand; ticks and
// escaping.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>

#include "io/svg_plot.hpp"

namespace fs = std::filesystem;
using namespace toolgrpo::io;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether python3's XML parser accepts the file (skips the test when python3 is missing).
bool xml_parses(const fs::path& p) {
  return std::system(("python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' '" +
                      p.string() + "' 2>/dev/null")
                         .c_str()) == 0;
}

bool have_python() {
  return std::system("python3 -c 'import xml.dom.minidom' 2>/dev/null") == 0;
}

// The polyline of series `name`: its data-points count and points attribute ("" when absent).
struct Line {
  int count = -1;
  std::string points;
};
Line polyline_of(const std::string& svg, const std::string& name) {
  const std::regex re("<polyline class=\"series\" data-series=\"" + name +
                      "\" data-points=\"([0-9]+)\"[^>]* points=\"([^\"]*)\"");
  std::smatch m;
  if (!std::regex_search(svg, m, re)) return {};
  return {std::stoi(m[1]), m[2]};
}

fs::path scratch() {
  const fs::path d = fs::temp_directory_path() / ("toolgrpo_svg_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

TEST(SvgPlot, TicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(plot_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(plot_ticks(1, 3, 5, 1.0), (std::vector<double>{1, 2, 3}));  // whole steps
  const std::vector<double> t = plot_ticks(0.13, 0.92, 5);              // step 0.2: 0 ... 1
  ASSERT_EQ(t.size(), 6u);
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  EXPECT_NEAR(t.back(), 1.0, 1e-12);
  const std::vector<double> flat = plot_ticks(0, 0, 5);  // a constant series gets a range around it
  EXPECT_LT(flat.front(), 0);
  EXPECT_GT(flat.back(), 0);
  EXPECT_EQ(plot_tick_text(0.6000000000000001, 0.2), "0.6");
  EXPECT_EQ(plot_tick_text(0.05, 0.05), "0.05");
  EXPECT_EQ(plot_tick_text(1500, 500), "1500");
  EXPECT_EQ(plot_tick_text(2e6, 5e5), "2e+06");
  EXPECT_EQ(plot_tick_text(-0.0, 1), "0");
}

TEST(SvgPlot, SeriesArePolylinesAtHandComputedCoordinates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Plot p;
  p.title = "Reward & <loss>";
  p.x_label = "step";
  p.y_label = "value";
  // x 0..10 -> ticks 0..10 (step 2); y 0..1 -> ticks 0..1 (step 0.2): the corners of the plot area.
  p.series.push_back({"up", {{0, 0}, {5, nan}, {10, 1}}});
  p.series.push_back({"mid \"q\"", {{0, 0.5}, {5, 0.5}, {10, 0.5}}});
  p.series.push_back({"none", {{nan, 1}, {2, std::numeric_limits<double>::infinity()}}});
  const fs::path path = scratch() / "plot.svg";
  svg_plot_write(path.string(), p);
  ASSERT_TRUE(fs::exists(path));
  const std::string svg = read_all(path);
  if (have_python()) {
    EXPECT_TRUE(xml_parses(path)) << svg;
  }

  const Line up = polyline_of(svg, "up");
  EXPECT_EQ(up.count, 2);                             // the NaN point is skipped
  EXPECT_EQ(up.points, "72.00,320.00 560.00,44.00");  // (left, bottom) and (right, top) of PlotLayout
  const Line mid = polyline_of(svg, "mid &quot;q&quot;");
  EXPECT_EQ(mid.count, 3);
  EXPECT_EQ(mid.points, "72.00,182.00 316.00,182.00 560.00,182.00");
  EXPECT_EQ(polyline_of(svg, "none").count, -1) << "a series without a finite point draws no line";
  EXPECT_NE(svg.find(">none</text>"), std::string::npos) << "but it is in the legend";
  EXPECT_NE(svg.find("<title>Reward &amp; &lt;loss&gt;</title>"), std::string::npos);
  for (const char* tick : {">0</text>", ">0.2</text>", ">0.8</text>", ">10</text>"})
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  fs::remove_all(path.parent_path());
}

TEST(SvgPlot, MovingMeanAveragesTheTrailingWindow) {
  // Hand-computed: window 3 over y = 1, 2, 6, 3, NaN, 9 (the NaN is skipped: the window runs over the finite
  // points 1, 2, 6, 3, 9): 1, 1.5, 3, 11/3, 6.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto m = moving_mean({{1, 1}, {2, 2}, {3, 6}, {4, 3}, {5, nan}, {6, 9}}, 3);
  const std::vector<std::pair<double, double>> want = {{1, 1}, {2, 1.5}, {3, 3}, {4, 11.0 / 3}, {6, 6}};
  ASSERT_EQ(m.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(m[i].first, want[i].first) << i;
    EXPECT_DOUBLE_EQ(m[i].second, want[i].second) << i;  // at most three additions and one division
  }
  EXPECT_EQ(moving_mean({{1, 4}, {2, 8}}, 1), (std::vector<std::pair<double, double>>{{1, 4}, {2, 8}}));
  EXPECT_TRUE(moving_mean({}, 10).empty());
  EXPECT_THROW(moving_mean({{1, 1}}, 0), std::invalid_argument);
}

TEST(SvgPlot, EmptyPlotIsStillAValidDocument) {
  const fs::path path = scratch() / "empty.svg";
  svg_plot_write(path.string(), Plot{"Nothing", "step", "", {}});
  const std::string svg = read_all(path);
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
  if (have_python()) {
    EXPECT_TRUE(xml_parses(path)) << svg;
  }
  // And a file the parser must reject is rejected (the check can fail).
  std::ofstream(path) << "<svg><polyline></svg>";
  if (have_python()) {
    EXPECT_FALSE(xml_parses(path));
  }
  fs::remove_all(path.parent_path());
}

}  // namespace
