// The progress bar on a scratch stream, read against a clock the tests move by hand: a terminal gets \r
// redraws (at most ten a second) and a cleared line at the end, never a newline; a log gets plain lines only
// in long phases; Off prints nothing; add() from several threads counts every call; the style for stdout
// follows TOOLGRPO_PROGRESS.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/report/progress.hpp"

using toolgrpo::app::Progress;
using toolgrpo::app::ProgressClock;
using toolgrpo::app::ProgressStyle;

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
  return s;
}

// A clock that stands still until the test sets it: `ms` milliseconds after the progress line was made.
struct HandClock {
  TimePoint now{};
  void at_ms(int64_t ms) { now = TimePoint{} + std::chrono::milliseconds(ms); }
  ProgressClock reader() {
    return [this] { return now; };
  }
};

TEST(Progress, TerminalRedrawsInPlaceAndClearsTheLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  HandClock clock;
  const std::string at_2s = "\rstep 1/3 generate [###############...............]  50% 2s, eta 2s";
  const std::string at_4s = "\rstep 1/3 generate [########################......]  80% 4s, eta 1s";
  const std::string at_100s = "\rstep 1/3 generate [###########################...]  90% 1m40s, eta 11s";
  const std::string at_200s = "\rstep 1/3 generate [##############################] 100% 3m20s, eta 0s ";
  {
    Progress p("step 1/3 generate", 10, ProgressStyle::Bar, "", f, 30, clock.reader());
    p.update(3);
    clock.at_ms(99);
    p.update(4);  // within the first 0.1 s: not drawn
    EXPECT_EQ(contents(f), "");
    clock.at_ms(2000);
    p.update(5);
    EXPECT_EQ(contents(f), at_2s);
    clock.at_ms(2099);
    p.update(6);  // within 0.1 s of the last redraw: skipped
    EXPECT_EQ(contents(f), at_2s);
    clock.at_ms(4000);
    p.add(2);
    EXPECT_EQ(contents(f), at_2s + at_4s);
    clock.at_ms(100000);
    p.update(9);
    clock.at_ms(200000);
    p.update(10);  // one character shorter than the line before: a space covers its last one
    EXPECT_EQ(contents(f), at_2s + at_4s + at_100s + at_200s);
  }  // the destructor clears the line
  EXPECT_EQ(contents(f), at_2s + at_4s + at_100s + at_200s + "\r" + std::string(69, ' ') + "\r");
  std::fclose(f);
}

TEST(Progress, LogGetsPlainLinesOnlyInLongPhases) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  HandClock clock;
  {
    Progress quick("eval after step 2", 4, ProgressStyle::Plain, "examples", f, 30, clock.reader());
    quick.update(1);
    clock.at_ms(29999);
    quick.update(4);
  }
  EXPECT_EQ(contents(f), "") << "a phase shorter than 30 s prints nothing";
  clock.at_ms(0);
  {
    Progress slow("eval after step 2", 4, ProgressStyle::Plain, "examples", f, 30, clock.reader());
    clock.at_ms(30000);
    slow.update(1);
    slow.update(2);  // the next line is due 30 s later
    clock.at_ms(59999);
    slow.update(3);
    EXPECT_EQ(contents(f), "eval after step 2  25% 1/4 examples 30s, eta 1m30s\n");
    clock.at_ms(60000);
    slow.update(3);
  }
  EXPECT_EQ(contents(f),
            "eval after step 2  25% 1/4 examples 30s, eta 1m30s\n"
            "eval after step 2  75% 3/4 examples 1m00s, eta 20s\n");
  std::fclose(f);
}

TEST(Progress, OffPrintsNothing) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  HandClock clock;
  {
    Progress off("x", 100, ProgressStyle::Off, "", f, 30, clock.reader());
    clock.at_ms(120000);  // a redraw and a plain line are long due
    off.update(50);
    off.add(10);
  }
  EXPECT_EQ(contents(f), "");
  std::fclose(f);
}

TEST(Progress, AddFromSeveralThreadsCountsEveryCall) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  // Every reading of the clock moves it on by a millisecond, so the threads redraw every 100 calls or so
  // (and meet on the drawing lock) while they add.
  std::atomic<int64_t> ms{0};
  const ProgressClock ticking = [&ms] { return TimePoint{} + std::chrono::milliseconds(ms.fetch_add(1)); };
  constexpr int kThreads = 4, kEach = 100000;
  {
    Progress bar("y", 2 * kThreads * kEach, ProgressStyle::Bar, "tokens", f, 30, ticking);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < kThreads; ++k)
      threads.emplace_back([&] {
        ++ready;
        while (ready.load() < kThreads) std::this_thread::yield();  // all start together
        for (int i = 0; i < kEach; ++i) bar.add(1);
      });
    for (auto& t : threads) t.join();
    ms = 3600000;  // an hour on, a redraw is due: it shows the count of every call
    bar.add(0);
    const std::string s = contents(f);
    const std::size_t last = s.rfind('\r');
    ASSERT_NE(last, std::string::npos) << s.size() << " characters";
    EXPECT_EQ(s.substr(last),
              "\ry [###############...............]  50% 400000/800000 tokens 1h00m, eta 1h00m");
  }
  std::fclose(f);
}

TEST(Progress, StyleForStdoutFollowsTheEnvironment) {
  ::setenv("TOOLGRPO_PROGRESS", "plain", 1);
  EXPECT_EQ(toolgrpo::app::progress_style_for_stdout(), ProgressStyle::Plain);
  ::setenv("TOOLGRPO_PROGRESS", "bar", 1);
  EXPECT_EQ(toolgrpo::app::progress_style_for_stdout(), ProgressStyle::Bar);
  ::setenv("TOOLGRPO_PROGRESS", "off", 1);
  EXPECT_EQ(toolgrpo::app::progress_style_for_stdout(), ProgressStyle::Off);
  ::setenv("TOOLGRPO_PROGRESS", "sometimes", 1);
  EXPECT_THROW(toolgrpo::app::progress_style_for_stdout(), toolgrpo::app::UsageError);
  ::unsetenv("TOOLGRPO_PROGRESS");
  // Not a terminal under ctest (output captured): plain lines.
  if (::isatty(::fileno(stdout)) != 1) {
    EXPECT_EQ(toolgrpo::app::progress_style_for_stdout(), ProgressStyle::Plain);
  }
}

}  // namespace
