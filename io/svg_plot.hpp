// Line plots as standalone SVG files: one or more named series of (x, y) points on shared axes with "nice"
// ticks (1, 2, 5 times a power of ten), a legend and a title. Points with a NaN or infinite coordinate are
// skipped. Pure standard C++; the text is well-formed XML (names and titles are escaped).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace toolgrpo::io {

struct PlotSeries {
  std::string name;                               // legend text; also the series' data-series attribute
  std::vector<std::pair<double, double>> points;  // (x, y), in drawing order
};

struct Plot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PlotSeries> series;
  bool integer_x = false;  // x ticks at whole numbers only (steps)
};

// The geometry every plot shares, in SVG user units: the plot area spans [left, right] x [top, bottom]; the
// legend sits right of it. Data coordinates map linearly onto the area (x from the first to the last x tick,
// y from the lowest to the highest y tick, upwards).
struct PlotLayout {
  static constexpr double width = 820, height = 380;
  static constexpr double left = 72, right = 560, top = 44, bottom = 320;
};

// About `target` evenly spaced round values covering [lo, hi] (the first <= lo, the last >= hi), spaced at
// least `min_step` apart; a degenerate range is widened around its value first.
std::vector<double> plot_ticks(double lo, double hi, int target = 5, double min_step = 0);

// A tick's text: as many decimals as the tick spacing `step` needs ("0.4", "0.05", "1500"), exponent form for
// very large or very small values ("2e+06", "1.5e-05").
std::string plot_tick_text(double v, double step);

// The SVG document of `plot`. Each series is a <polyline class="series" data-series="NAME" data-points="N">
// (N: the points drawn) with a <title>; series with no finite point are listed in the legend only.
std::string svg_plot_render(const Plot& plot);

// svg_plot_render written to `path` atomically (throws std::runtime_error naming the path).
void svg_plot_write(const std::string& path, const Plot& plot);

// The trailing moving mean of `points` over `window` points: point i becomes (x_i, mean of y over points
// max(0, i - window + 1) .. i), so the first window - 1 points average what came before them. Points with a
// non-finite y are left out of the averages and of the result. window < 1 throws std::invalid_argument.
std::vector<std::pair<double, double>> moving_mean(const std::vector<std::pair<double, double>>& points, int window);

// `text` with &, <, >, " and ' replaced by XML entities (for SVG and XHTML text and attributes).
std::string xml_escape(const std::string& text);

}  // namespace toolgrpo::io
