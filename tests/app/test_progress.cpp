// The progress bar on a scratch stream: a terminal gets \r redraws (at most ten a second) and a cleared line
// at the end, never a newline; a log gets plain lines only in long phases; Off prints nothing; the style for
// stdout follows TOOLGRPO_PROGRESS.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "app/cli_args.hpp"
#include "app/progress.hpp"

using toolgrpo::app::Progress;
using toolgrpo::app::ProgressStyle;

namespace {

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
  return s;
}

void pause_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

TEST(Progress, TerminalRedrawsInPlaceAndClearsTheLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Progress p("step 1/3 generate", 10, ProgressStyle::Bar, "", f);
    p.update(3);  // within the first 0.1 s: not drawn
    EXPECT_EQ(contents(f), "");
    pause_ms(120);
    p.update(5);
    const std::string s = contents(f);
    EXPECT_EQ(s.rfind("\rstep 1/3 generate [###############...............]  50% 0s, eta 0s", 0), 0u) << s;
    p.update(6);  // within 0.1 s of the last redraw: skipped
    EXPECT_EQ(contents(f), s);
    pause_ms(120);
    p.add(2);
    EXPECT_NE(contents(f).find(" 80% "), std::string::npos) << contents(f);
  }  // the destructor clears the line
  const std::string s = contents(f);
  EXPECT_EQ(s.find('\n'), std::string::npos) << s;
  ASSERT_GE(s.size(), 2u);
  EXPECT_EQ(s.back(), '\r');
  EXPECT_EQ(s.find_last_not_of(' ', s.size() - 2), s.rfind('\r', s.size() - 2)) << "spaces over the bar";
  std::fclose(f);
}

TEST(Progress, LogGetsPlainLinesOnlyInLongPhases) {
  std::FILE* f = std::tmpfile();
  {
    Progress quick("eval after step 2", 4, ProgressStyle::Plain, "examples", f);  // lines every 30 s
    quick.update(1);
    pause_ms(20);
    quick.update(4);
  }
  EXPECT_EQ(contents(f), "") << "a short phase prints nothing";
  {
    Progress slow("eval after step 2", 4, ProgressStyle::Plain, "examples", f, 0.05);
    pause_ms(60);
    slow.update(1);
    slow.update(2);  // the next line is due 0.05 s later
  }
  EXPECT_EQ(contents(f).rfind("eval after step 2  25% 1/4 examples 0s, eta 0s\n", 0), 0u) << contents(f);
  EXPECT_EQ(contents(f).find('\r'), std::string::npos);
  std::fclose(f);
}

TEST(Progress, OffPrintsNothingAndAddIsThreadSafe) {
  std::FILE* f = std::tmpfile();
  {
    Progress off("x", 100, ProgressStyle::Off, "", f);
    pause_ms(120);
    off.update(50);
    Progress bar("y", 4000, ProgressStyle::Bar, "", f);
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k)
      threads.emplace_back([&] {
        for (int i = 0; i < 1000; ++i) bar.add(1);
      });
    for (auto& t : threads) t.join();
  }
  const std::string s = contents(f);
  EXPECT_EQ(s.find("x "), std::string::npos) << s;
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
