// Run directory, metrics files and progress output; see run_log.hpp.
#include "app/run_log.hpp"

#include <cstdio>
#include <filesystem>

#include "app/report.hpp"
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

void RunLog::mark_done() {
  if (!save_) return;
  io::AtomicFile f(dir_ + "/DONE");
  f.write("complete\n");
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
