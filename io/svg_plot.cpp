// SVG line plots; see svg_plot.hpp.
#include "io/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "io/atomic_file.hpp"

namespace toolgrpo::io {
namespace {

using L = PlotLayout;

// Colour-blind-safe palette (Okabe-Ito), then greys.
const char* const kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                "#56B4E9", "#000000", "#F0E442", "#777777", "#AAAAAA"};

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

bool finite(const std::pair<double, double>& p) {
  return std::isfinite(p.first) && std::isfinite(p.second);
}

// Linear map of [d0, d1] onto [p0, p1].
double map(double v, double d0, double d1, double p0, double p1) {
  return p0 + (v - d0) / (d1 - d0) * (p1 - p0);
}

}  // namespace

std::vector<std::pair<double, double>> moving_mean(const std::vector<std::pair<double, double>>& points, int window) {
  if (window < 1) throw std::invalid_argument("moving_mean: the window must be at least 1, got " + std::to_string(window));
  std::vector<std::pair<double, double>> finite, out;
  for (const auto& p : points)
    if (std::isfinite(p.second)) finite.push_back(p);
  out.reserve(finite.size());
  for (size_t i = 0; i < finite.size(); ++i) {
    const size_t first = i + 1 >= static_cast<size_t>(window) ? i + 1 - static_cast<size_t>(window) : 0;
    double sum = 0;  // summed afresh over each window: no running-sum drift over long runs
    for (size_t j = first; j <= i; ++j) sum += finite[j].second;
    out.emplace_back(finite[i].first, sum / static_cast<double>(i - first + 1));
  }
  return out;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 allows no control characters but tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

std::vector<double> plot_ticks(double lo, double hi, int target, double min_step) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {
    const double d = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= d, hi += d;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  step = std::max(step, min_step);
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double i = first; i <= last + 0.5; i += 1) {
    const double t = i * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.size() < 2) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string plot_tick_text(double v, double step) {
  char b[64];
  if (v == 0) return "0";
  if (std::abs(v) >= 1e6 || step < 1e-4) {
    std::snprintf(b, sizeof b, "%.3g", v);
  } else {
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
  }
  return b;
}

std::string svg_plot_render(const Plot& plot) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& s : plot.series)
    for (const auto& p : s.points)
      if (finite(p)) {
        xmin = std::min(xmin, p.first), xmax = std::max(xmax, p.first);
        ymin = std::min(ymin, p.second), ymax = std::max(ymax, p.second);
      }
  const bool empty = !std::isfinite(xmin);
  if (empty) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  const std::vector<double> xt = plot_ticks(xmin, xmax, 6, plot.integer_x ? 1.0 : 0.0);
  const std::vector<double> yt = plot_ticks(ymin, ymax, 5);
  const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();
  const auto px = [&](double x) { return map(x, x0, x1, L::left, L::right); };
  const auto py = [&](double y) { return map(y, y0, y1, L::bottom, L::top); };

  const std::string title = xml_escape(plot.title);
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(L::width) + "\" height=\"" +
       num(L::height) + "\" viewBox=\"0 0 " + num(L::width) + " " + num(L::height) +
       "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<title>" + title + "</title>\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + num(L::width) + "\" height=\"" + num(L::height) +
       "\" fill=\"white\"/>\n";
  s += "<text x=\"" + num((L::left + L::right) / 2) +
       "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
       "font-weight=\"bold\">" +
       title + "</text>\n";

  // Grid and tick labels.
  s += "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
  for (const double t : xt)
    s += "<line x1=\"" + num(px(t)) + "\" y1=\"" + num(L::top) + "\" x2=\"" + num(px(t)) + "\" y2=\"" +
         num(L::bottom) + "\"/>\n";
  for (const double t : yt)
    s += "<line x1=\"" + num(L::left) + "\" y1=\"" + num(py(t)) + "\" x2=\"" + num(L::right) + "\" y2=\"" +
         num(py(t)) + "\"/>\n";
  s += "</g>\n<g class=\"ticks\" fill=\"#333\">\n";
  const double xstep = xt[1] - xt[0], ystep = yt[1] - yt[0];
  for (const double t : xt)
    s += "<text class=\"xtick\" x=\"" + num(px(t)) + "\" y=\"" + num(L::bottom + 16) +
         "\" text-anchor=\"middle\">" + plot_tick_text(t, xstep) + "</text>\n";
  for (const double t : yt)
    s += "<text class=\"ytick\" x=\"" + num(L::left - 6) + "\" y=\"" + num(py(t) + 4) +
         "\" text-anchor=\"end\">" + plot_tick_text(t, ystep) + "</text>\n";
  s += "</g>\n";
  s += "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">\n<line x1=\"" + num(L::left) + "\" y1=\"" +
       num(L::bottom) + "\" x2=\"" + num(L::right) + "\" y2=\"" + num(L::bottom) + "\"/>\n<line x1=\"" +
       num(L::left) + "\" y1=\"" + num(L::top) + "\" x2=\"" + num(L::left) + "\" y2=\"" + num(L::bottom) +
       "\"/>\n</g>\n";
  s += "<text x=\"" + num((L::left + L::right) / 2) + "\" y=\"" + num(L::bottom + 40) +
       "\" text-anchor=\"middle\">" + xml_escape(plot.x_label) + "</text>\n";
  const std::string ly = num((L::top + L::bottom) / 2);
  s += "<text x=\"16\" y=\"" + ly + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " + ly + ")\">" +
       xml_escape(plot.y_label) + "</text>\n";
  if (empty)
    s += "<text x=\"" + num((L::left + L::right) / 2) + "\" y=\"" + num((L::top + L::bottom) / 2) +
         "\" text-anchor=\"middle\" fill=\"#777\">no data</text>\n";

  // Series, then the legend.
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    const PlotSeries& ser = plot.series[i];
    const std::string colour = kColours[i % (sizeof kColours / sizeof kColours[0])];
    const std::string name = xml_escape(ser.name);
    std::string pts;
    std::size_t n = 0;
    for (const auto& p : ser.points)
      if (finite(p)) pts += (n++ ? " " : "") + num(px(p.first)) + "," + num(py(p.second));
    if (n == 0) continue;
    s += "<polyline class=\"series\" data-series=\"" + name + "\" data-points=\"" + std::to_string(n) +
         "\" fill=\"none\" stroke=\"" + colour +
         "\" stroke-width=\"1.8\" stroke-linejoin=\"round\" points=\"" + pts + "\"><title>" + name +
         "</title></polyline>\n";
    if (n <= 60) {  // markers while they do not crowd the line (and so that a single point shows)
      s += "<g class=\"markers\" fill=\"" + colour + "\">\n";
      for (const auto& p : ser.points)
        if (finite(p))
          s += "<circle cx=\"" + num(px(p.first)) + "\" cy=\"" + num(py(p.second)) + "\" r=\"2.5\"/>\n";
      s += "</g>\n";
    }
  }
  s += "<g class=\"legend\">\n";
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    const double y = L::top + 8 + 20 * static_cast<double>(i);
    const std::string colour = kColours[i % (sizeof kColours / sizeof kColours[0])];
    s += "<line x1=\"" + num(L::right + 14) + "\" y1=\"" + num(y) + "\" x2=\"" + num(L::right + 36) +
         "\" y2=\"" + num(y) + "\" stroke=\"" + colour + "\" stroke-width=\"3\"/>\n";
    s += "<text x=\"" + num(L::right + 42) + "\" y=\"" + num(y + 4) + "\">" +
         xml_escape(plot.series[i].name) + "</text>\n";
  }
  s += "</g>\n</svg>\n";
  return s;
}

void svg_plot_write(const std::string& path, const Plot& plot) {
  AtomicFile f(path);
  f.write(svg_plot_render(plot));
  f.commit();
}

}  // namespace toolgrpo::io
