// The report of a run directory; see report.hpp. The plots are declared once in plot_specs(); the page is
// XHTML (it parses as XML) with each plot as an <img> under a heading that names it.
#include "app/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "app/cli/cli_args.hpp"
#include "app/report/metric_names.hpp"
#include "io/atomic_file.hpp"
#include "io/svg_plot.hpp"
#include "reward/arena.hpp"
#include "reward/json.hpp"

namespace toolgrpo::app {
namespace {

namespace fs = std::filesystem;
namespace mn = metric_names;
using io::xml_escape;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One JSON Lines file: a row per line, its numeric members (null and non-finite: NaN) and its string members.
struct Table {
  std::string path;
  std::vector<std::map<std::string, double>> numbers;
  std::vector<std::map<std::string, std::string>> texts;
  std::vector<std::string> columns;  // numeric members in order of first appearance

  bool has(const std::string& column) const {
    return std::find(columns.begin(), columns.end(), column) != columns.end();
  }
  // (step, value) of every row with `column` (a null value: NaN, which the plot skips).
  std::vector<std::pair<double, double>> points(const std::string& column) const {
    std::vector<std::pair<double, double>> out;
    for (const auto& row : numbers) {
      const auto it = row.find(column);
      if (it != row.end()) out.emplace_back(row.at(mn::kStep), it->second);
    }
    return out;
  }
};

double number_of(const reward::Value& v) {
  switch (v.kind) {
    case reward::JsonKind::Bool:
      return v.flag ? 1 : 0;
    case reward::JsonKind::Int:
      return static_cast<double>(v.u.i);
    case reward::JsonKind::Float:
      return v.u.f;
    case reward::JsonKind::BigInt:
      return (v.flag ? -1 : 1) * std::strtod(std::string(v.string()).c_str(), nullptr);
    default:
      return kNaN;  // null
  }
}

// Reads PATH ({} rows when it does not exist and is not required). Every line must be a JSON object with a
// numeric "step"; nested arrays and objects are ignored.
Table table_read(const std::string& path, bool required) {
  Table t;
  t.path = path;
  std::ifstream in(path);
  if (!in) {
    if (!required && !fs::exists(path)) return t;
    throw UsageError(path + ": cannot read it" + (fs::exists(path) ? "" : " (no such file)"));
  }
  reward::JsonParser parser;
  reward::Arena arena;
  std::size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    arena.reset();
    reward::JsonError err;
    const reward::Value* v = parser.parse(line, arena, &err);
    if (v == nullptr)
      throw UsageError(where + "not valid JSON (" + err.message + " at column " +
                       std::to_string(err.offset + 1) + "); expected one JSON object per line");
    if (!v->is_object()) throw UsageError(where + "expected a JSON object per line");
    std::map<std::string, double> numbers;
    std::map<std::string, std::string> texts;
    for (uint32_t i = 0; i < v->size; ++i) {
      const reward::Member& m = v->u.members[i];
      const std::string key(m.key);
      if (m.value.is_string()) {
        texts[key] = std::string(m.value.string());
      } else if (!m.value.is_array() && !m.value.is_object()) {
        const double x = number_of(m.value);
        numbers[key] = std::isfinite(x) ? x : kNaN;
        if (!t.has(key)) t.columns.push_back(key);
      }
    }
    const auto step = numbers.find(mn::kStep);
    if (step == numbers.end() || std::isnan(step->second))
      throw UsageError(where + "expected a number in \"" + mn::kStep + "\"");
    t.numbers.push_back(std::move(numbers));
    t.texts.push_back(std::move(texts));
  }
  return t;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Inputs {
  std::string config;  // config.yaml ("" when absent)
  Table metrics, eval, summaries;
};

enum class Source { Metrics, Eval, Summaries };

struct SeriesSpec {
  Source source;
  std::string column;
  std::string legend;  // "" : the column
  int moving_mean = 0;  // > 0: the trailing mean over this many steps instead of the raw points
};

constexpr int kRewardSmoothing = 10;  // steps in the reward plot's moving mean

struct PlotSpec {
  std::string file, title, y_label;
  std::vector<SeriesSpec> series;
};

// The plots of a report, in page order. A plot is drawn when at least one of its series is in the files.
std::vector<PlotSpec> plot_specs(const Inputs& in) {
  const auto m = [](const std::string& c) { return SeriesSpec{Source::Metrics, c, "", 0}; };
  const auto e = [](const std::string& c) { return SeriesSpec{Source::Eval, c, "", 0}; };
  std::vector<PlotSpec> specs = {
      {"reward.svg",
       "Reward per step (mean over the step's samples)",
       "reward",
       {m(mn::mean_of(mn::kRewardTotal)),
        {Source::Metrics, mn::mean_of(mn::kRewardTotal),
         mn::mean_of(mn::kRewardTotal) + ", " + std::to_string(kRewardSmoothing) + "-step moving mean",
         kRewardSmoothing},
        m(mn::mean_of(mn::kRewardFormat)),
        m(mn::mean_of(mn::kRewardCorrectness)), m(mn::mean_of(mn::kRewardLength))}},
      {"response_length.svg",
       "Response length",
       "tokens",
       {m(mn::mean_of(mn::kResponseLength)), m(mn::stat_name(mn::kResponseLength, mn::Stat::Min)),
        m(mn::stat_name(mn::kResponseLength, mn::Stat::Max))}},
      {"kl_entropy.svg", "KL and entropy", "nats per token", {m(mn::kKl), m(mn::kApproxKl), m(mn::kEntropy)}},
      {"clip_fraction.svg", "Clip fraction", "fraction of tokens", {m(mn::kClipFraction)}},
      {"tokens_per_s.svg", "Throughput", "tokens/s", {m(mn::kTokensPerS)}},
      {"phase_times.svg",
       "Phase times per step",
       "seconds",
       {m(mn::kSecondsGenerate), m(mn::kSecondsScore), m(mn::kSecondsTrain), m(mn::kSecondsSync),
        m(mn::kSecondsCheckpoint), m(mn::kSecondsStep)}},
      {"sft_loss.svg", "SFT loss", "loss per answer token", {m(mn::kLoss), e(mn::kEvalLoss)}},
  };
  PlotSpec eval = {"eval.svg",
                   "Evaluation",
                   "reward / accuracy",
                   {e(mn::mean_of(mn::kEvalRewardTotal)), e(mn::mean_of(mn::kEvalRewardFormat)),
                    e(mn::mean_of(mn::kEvalRewardCorrectness))}};
  for (const auto& c : in.eval.columns)  // accuracies an evaluation may add
    if (c.size() > 9 && c.compare(c.size() - 9, 9, "_accuracy") == 0) eval.series.push_back(e(c));
  for (const char* c : {mn::kSummaryExactCallAccuracy, mn::kSummaryFormatAccuracy})
    eval.series.push_back({Source::Summaries, c, std::string(c) + " (eval --summary)", 0});
  specs.push_back(eval);
  return specs;
}

const Table& table_of(const Inputs& in, Source s) {
  return s == Source::Metrics ? in.metrics : s == Source::Eval ? in.eval : in.summaries;
}

// The plot of `spec` with the series the files hold (none: nothing to draw).
io::Plot plot_make(const PlotSpec& spec, const Inputs& in) {
  io::Plot p{spec.title, "step", spec.y_label, {}, true};
  for (const auto& s : spec.series) {
    const Table& t = table_of(in, s.source);
    if (!t.has(s.column)) continue;
    p.series.push_back({s.legend.empty() ? s.column : s.legend,
                        s.moving_mean > 0 ? io::moving_mean(t.points(s.column), s.moving_mean) : t.points(s.column)});
  }
  return p;
}

std::string number_text(double v) {
  if (std::isnan(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string table_row(const std::string& name, const std::string& value) {
  return "<tr><th>" + xml_escape(name) + "</th><td>" + xml_escape(value) + "</td></tr>\n";
}

// Last and best (max or min) finite value of a metrics column, as "last (step S); best B (step S)".
std::string last_and_best(const Table& t, const std::string& column, bool higher_is_better) {
  double last = kNaN, last_step = kNaN, best = kNaN, best_step = kNaN;
  for (const auto& [step, v] : t.points(column)) {
    if (std::isnan(v)) continue;
    last = v, last_step = step;
    if (std::isnan(best) || (higher_is_better ? v > best : v < best)) best = v, best_step = step;
  }
  if (std::isnan(last)) return "-";
  return number_text(last) + " (step " + number_text(last_step) + "); best " + number_text(best) + " (step " +
         number_text(best_step) + ")";
}

// The last finite value of a metrics column, or "-" with the reason when the run wrote it as null throughout
// (a metric its configuration does not compute: metric_names::grpo_metric_computed).
std::string last_or_not_computed(const Table& t, const std::string& column, const std::string& why) {
  double last = kNaN, last_step = kNaN;
  for (const auto& [step, v] : t.points(column))
    if (!std::isnan(v)) last = v, last_step = step;
  if (std::isnan(last)) return std::string(mn::kNotComputed) + " (not computed by this run: " + why + ")";
  return number_text(last) + " (step " + number_text(last_step) + ")";
}

std::string summary_html(const Inputs& in) {
  std::string h = "<table class=\"summary\">\n";
  const Table& m = in.metrics;
  const double last_step = m.numbers.empty() ? kNaN : m.numbers.back().at(mn::kStep);
  h += table_row("steps run", std::to_string(m.numbers.size()) + " rows in metrics.jsonl, last step " +
                                  number_text(last_step));
  if (m.has(mn::mean_of(mn::kRewardTotal)))
    h += table_row("reward (mean total): last, best", last_and_best(m, mn::mean_of(mn::kRewardTotal), true));
  if (m.has(mn::kLoss)) h += table_row("SFT loss: last, lowest", last_and_best(m, mn::kLoss, false));
  if (m.has(mn::kKl))
    h += table_row("KL to the reference: last",
                   last_or_not_computed(m, mn::kKl, "grpo.kl_coef is 0, no reference model"));
  if (m.has(mn::kEntropy))
    h += table_row("entropy: last", last_or_not_computed(m, mn::kEntropy, "grpo.entropy_coef is 0"));
  if (!in.eval.numbers.empty()) {
    const auto& last = in.eval.numbers.back();
    h += table_row("final evaluation", "after step " + number_text(last.at(mn::kStep)) + " (eval.jsonl)");
    for (const auto& c : in.eval.columns)
      if (c != mn::kStep && last.count(c)) h += table_row(c, number_text(last.at(c)));
  }
  h += "</table>\n";
  if (!in.summaries.numbers.empty()) {
    std::vector<std::string> cols;
    for (const auto& c : in.summaries.columns)
      if (c != mn::kStep) cols.push_back(c);
    h += "<h3>Evaluations (eval_summaries.jsonl)</h3>\n<table "
         "class=\"summaries\">\n<tr><th>label</th><th>step</th>";
    for (const auto& c : cols) h += "<th>" + xml_escape(c) + "</th>";
    h += "</tr>\n";
    for (std::size_t i = 0; i < in.summaries.numbers.size(); ++i) {
      const auto& row = in.summaries.numbers[i];
      const auto label = in.summaries.texts[i].find(mn::kSummaryLabel);
      h += "<tr><td>" + xml_escape(label == in.summaries.texts[i].end() ? "" : label->second) + "</td><td>" +
           number_text(row.at(mn::kStep)) + "</td>";
      for (const auto& c : cols) h += "<td>" + (row.count(c) ? number_text(row.at(c)) : "") + "</td>";
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  return h;
}

std::string page_html(const std::string& run_dir, const Inputs& in,
                      const std::vector<std::pair<std::string, std::string>>& plots) {
  const std::string name = fs::path(run_dir).lexically_normal().filename().string();
  std::string h =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta "
      "charset=\"utf-8\"/>\n"
      "<title>toolgrpo report: " +
      xml_escape(name) +
      "</title>\n"
      "<style>body{font-family:sans-serif;margin:2em;max-width:70em} img{max-width:100%;border:1px solid "
      "#ddd} "
      "table{border-collapse:collapse} th,td{border:1px solid #ccc;padding:0.2em 0.6em;text-align:left} "
      "pre{background:#f6f6f6;padding:1em;overflow:auto}</style>\n</head>\n<body>\n";
  h += "<h1>toolgrpo report: " + xml_escape(name) + "</h1>\n<p>Run directory: <code>" + xml_escape(run_dir) +
       "</code></p>\n";
  h += "<h2 id=\"summary\">Summary</h2>\n" + summary_html(in);
  h += "<h2 id=\"plots\">Plots</h2>\n";
  if (plots.empty()) h += "<p>No metrics to plot.</p>\n";
  for (const auto& [file, title] : plots) {
    const std::string id = "plot-" + fs::path(file).stem().string();
    h += "<h3 id=\"" + xml_escape(id) + "\">" + xml_escape(title) + "</h3>\n<p><img src=\"" +
         xml_escape(file) + "\" alt=\"" + xml_escape(title) + "\"/></p>\n";
  }
  h += "<h2 id=\"config\">Configuration (config.yaml)</h2>\n<pre>" +
       xml_escape(in.config.empty() ? "(no config.yaml in the run directory)" : in.config) + "</pre>\n";
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace

ReportFiles report_write(const std::string& run_dir, const std::string& out_dir) {
  if (!fs::is_directory(run_dir))
    throw UsageError("report: " + run_dir + " is not a run directory (no such directory)");
  const std::string metrics = (fs::path(run_dir) / "metrics.jsonl").string();
  if (!fs::exists(metrics))
    throw UsageError("report: " + run_dir +
                     " has no metrics.jsonl; expected the run directory of a train or sft run");
  Inputs in;
  in.config = file_text((fs::path(run_dir) / "config.yaml").string());
  in.metrics = table_read(metrics, true);
  in.eval = table_read((fs::path(run_dir) / "eval.jsonl").string(), false);
  in.summaries = table_read((fs::path(run_dir) / mn::kEvalSummariesFile).string(), false);

  std::vector<std::pair<std::string, io::Plot>> plots;
  for (const PlotSpec& spec : plot_specs(in)) {
    io::Plot p = plot_make(spec, in);
    if (!p.series.empty()) plots.emplace_back(spec.file, std::move(p));
  }
  ReportFiles out;
  out.dir = out_dir.empty() ? (fs::path(run_dir) / "report").string() : out_dir;
  fs::create_directories(out.dir);
  std::vector<std::pair<std::string, std::string>> listed;
  for (const auto& [file, plot] : plots) {
    io::svg_plot_write((fs::path(out.dir) / file).string(), plot);
    out.plots.push_back(file);
    listed.emplace_back(file, plot.title);
  }
  out.index = (fs::path(out.dir) / "index.html").string();
  io::AtomicFile f(out.index);
  f.write(page_html(run_dir, in, listed));
  f.commit();
  return out;
}

}  // namespace toolgrpo::app
