// Progress bar; see progress.hpp.
#include "app/report/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "app/cli/cli_args.hpp"

namespace toolgrpo::app {
namespace {

constexpr double kRedrawSeconds = 0.1;
constexpr int kBarWidth = 30;

std::string seconds_text(double s) {
  char b[32];
  if (s < 60) {
    std::snprintf(b, sizeof b, "%.0fs", s);
  } else if (s < 3600) {
    std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  }
  return b;
}

}  // namespace

ProgressStyle progress_style_for_stdout() {
  if (const char* env = std::getenv("TOOLGRPO_PROGRESS")) {
    const std::string v = env;
    if (v == "bar") return ProgressStyle::Bar;
    if (v == "plain") return ProgressStyle::Plain;
    if (v == "off") return ProgressStyle::Off;
    if (v != "auto" && !v.empty())
      throw UsageError("TOOLGRPO_PROGRESS: expected bar, plain, off or auto, got '" + v + "'");
  }
  const bool mpirun_pty = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
  return ::isatty(::fileno(stdout)) == 1 && !mpirun_pty ? ProgressStyle::Bar : ProgressStyle::Plain;
}

Progress::Progress(std::string label, int64_t total, ProgressStyle style, std::string unit, std::FILE* out,
                   double plain_every, ProgressClock clock)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(std::max<int64_t>(1, total)),
      active_(style != ProgressStyle::Off && total > 0),
      terminal_(style == ProgressStyle::Bar),
      out_(out),
      plain_every_(plain_every),
      clock_(clock ? std::move(clock) : ProgressClock([] { return Clock::now(); })),
      start_(clock_()),
      last_draw_(start_),
      last_plain_(start_) {}

Progress::~Progress() {
  finish();
}

void Progress::update(int64_t done) {
  done_.store(done, std::memory_order_relaxed);
  maybe_draw();
}

void Progress::add(int64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  maybe_draw();
}

std::string Progress::text(double elapsed) const {
  const int64_t done = std::min(done_.load(std::memory_order_relaxed), total_);
  const double frac = static_cast<double>(done) / static_cast<double>(total_);
  std::string s = label_ + " ";
  if (terminal_) {
    const int fill = static_cast<int>(std::floor(frac * kBarWidth));
    s += "[" + std::string(static_cast<std::size_t>(fill), '#') +
         std::string(static_cast<std::size_t>(kBarWidth - fill), '.') + "] ";
  }
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3.0f%%", 100 * frac);
  s += pct;
  if (!unit_.empty()) s += " " + std::to_string(done) + "/" + std::to_string(total_) + " " + unit_;
  s += " " + seconds_text(elapsed);
  if (done > 0)
    s += ", eta " + seconds_text(elapsed * static_cast<double>(total_ - done) / static_cast<double>(done));
  return s;
}

void Progress::maybe_draw() {
  if (!active_) return;
  const Clock::time_point now = clock_();
  std::unique_lock<std::mutex> lock(draw_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (terminal_) {
    if (std::chrono::duration<double>(now - last_draw_).count() < kRedrawSeconds) return;
    last_draw_ = now;
    const std::string s = text(elapsed);
    const std::size_t pad = drawn_width_ > s.size() ? drawn_width_ - s.size() : 0;
    std::fprintf(out_, "\r%s%s", s.c_str(), std::string(pad, ' ').c_str());
    drawn_width_ = s.size();
  } else {
    if (std::chrono::duration<double>(now - last_plain_).count() < plain_every_) return;
    last_plain_ = now;
    std::fprintf(out_, "%s\n", text(elapsed).c_str());
  }
  std::fflush(out_);
}

void Progress::finish() {
  if (!active_) return;
  std::lock_guard<std::mutex> lock(draw_);
  if (finished_) return;
  finished_ = true;
  if (terminal_ && drawn_width_ > 0) {
    std::fprintf(out_, "\r%s\r", std::string(drawn_width_, ' ').c_str());
    std::fflush(out_);
  }
}

}  // namespace toolgrpo::app
