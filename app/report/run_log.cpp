// Run directory, metrics files and progress output; see run_log.hpp.
#include "app/report/run_log.hpp"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/cli/cli_args.hpp"
#include "app/report/report.hpp"
#include "io/atomic_file.hpp"

namespace toolgrpo::app {

RunLog::RunLog(const Config& c, const std::string& command, bool active, bool save, bool print, int64_t resume_step)
    : active_(active), save_(save && active), print_(print && active), resume_step_(resume_step),
      command_(command), dir_((std::filesystem::path(c.run.out_dir) / c.run.name).string()) {
  const std::string yaml = config_to_yaml(c);
  if (save_) {
    std::filesystem::create_directories(dir_);
    io::AtomicFile f(dir_ + "/config.yaml");
    f.write(yaml);
    f.commit();
    metrics_ = std::make_unique<io::MetricsWriter>(dir_, "metrics", resume_step_);
    if (resume_step_ >= 0 && std::filesystem::exists(dir_ + "/eval.jsonl"))
      eval_ = std::make_unique<io::MetricsWriter>(dir_, "eval", resume_step_);
  }
  if (print_) std::printf("%s: resolved configuration (%s/config.yaml)\n%s", command.c_str(), dir_.c_str(), yaml.c_str());
  if (print_) std::fflush(stdout);
}

void RunLog::step(const io::MetricsRow& row, const std::string& progress) {
  if (save_) metrics_->append(row);
  message(progress);
}

void RunLog::eval(const io::MetricsRow& row, const std::string& progress) {
  if (save_) {
    if (!eval_) eval_ = std::make_unique<io::MetricsWriter>(dir_, "eval");
    eval_->append(row);
  }
  message(progress);
}

void RunLog::message(const std::string& text) {
  if (!print_ || text.empty()) return;
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

void RunLog::save_policy(const Policy& p) {
  if (save_) policy_save(p, dir_);
}

void RunLog::mark_done(int64_t steps) {
  if (!save_) return;
  io::AtomicFile f(dir_ + "/DONE");
  f.write(done_marker_text({command_, steps}));
  f.commit();
}

void RunLog::write_report() {
  if (!save_) return;
  try {
    const ReportFiles r = report_write(dir_);
    message(command_ + ": report " + r.index + " (" + std::to_string(r.plots.size()) + " plots)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: warning: the report of %s was not written: %s\n", command_.c_str(), dir_.c_str(), e.what());
  }
}

std::string done_marker_text(const DoneMarker& d) {
  std::string text = "complete\n";
  if (!d.kind.empty()) text += "kind: " + d.kind + "\n";
  if (d.steps >= 0) text += "steps: " + std::to_string(d.steps) + "\n";
  return text;
}

DoneMarker done_marker_parse(const std::string& text, const std::string& path) {
  const auto damaged = [&](const std::string& found) {
    return UsageError(path + ": not the marker of a finished run: expected the line 'complete', then 'kind: grpo|sft' "
                      "and 'steps: N' (the steps it completed), found " + found + ". Remove the file to resume the "
                      "run from its newest checkpoint, or write it with the step count of that checkpoint");
  };
  const auto trimmed = [](std::string v) {
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
    const std::size_t start = v.find_first_not_of(" \t");
    return start == std::string::npos ? std::string() : v.substr(start);
  };
  const auto quoted = [](const std::string& line) {
    return "'" + (line.size() > 60 ? line.substr(0, 60) + "..." : line) + "'";
  };
  DoneMarker d;
  std::stringstream ss(text);
  std::string line;
  bool first = true;
  for (int number = 1; std::getline(ss, line); ++number) {
    line = trimmed(line);
    if (line.empty()) continue;
    if (first) {
      if (line != "complete") throw damaged(quoted(line) + " on line " + std::to_string(number));
      first = false;
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) throw damaged(quoted(line) + " on line " + std::to_string(number));
    const std::string key = trimmed(line.substr(0, colon)), value = trimmed(line.substr(colon + 1));
    if (key == "steps") {
      const bool digits = !value.empty() && value.size() <= 18 &&
                          value.find_first_not_of("0123456789") == std::string::npos;
      if (!digits)
        throw damaged("steps " + quoted(value) + " on line " + std::to_string(number) + " (not a step count)");
      d.steps = std::stoll(value);
    } else if (key == "kind") {
      if (value != "grpo" && value != "sft")
        throw damaged("kind " + quoted(value) + " on line " + std::to_string(number));
      d.kind = value;
    }  // other keys: written by a later version; not needed here
  }
  if (first) throw damaged(text.empty() ? std::string("an empty file") : std::string("blank lines only"));
  return d;
}

std::optional<DoneMarker> done_marker_read(const std::string& run_dir) {
  const std::string path = run_dir + "/DONE";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read it (the marker of a finished run)");
  constexpr std::size_t kMost = 4096;  // a marker is a few short lines
  std::string text(kMost + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMost)
    throw UsageError(path + ": not the marker of a finished run: over " + std::to_string(kMost) +
                     " bytes, expected a few lines ('complete', 'kind: grpo|sft', 'steps: N')");
  return done_marker_parse(text, path);
}

std::string format_fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string format_sci(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.2e", v);
  return b;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace toolgrpo::app
