// `toolgrpo score` end to end, as a user runs it: the reward fixtures repeated into one JSON Lines file (by
// default default.jsonl x 30: 61,170 rows, 179 MB), scored by the toolgrpo executable at each Kokkos thread
// count (OMP_NUM_THREADS), timed from process start to exit (start-up, reading, parsing, scoring and writing
// the results). Prints per thread count the best and median wall rate of the trials and the scorer's own rate
// as toolgrpo reports it, then the scorer's speed-up over one thread.
//   bench_score [--fixtures FILE] [--repeat R] [--threads 1,2] [--trials T] [--bin PATH] [--dir DIR]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_cli.hpp"

namespace fs = std::filesystem;

namespace {

struct Run {
  double wall = 0;      // process start to exit, seconds
  double scorer = 0;    // the scorer's scores/s as toolgrpo prints it
};

// Runs `bin score --data in --out out` with OMP_NUM_THREADS=threads; its stdout goes to `log`.
Run run_score(const std::string& bin, const fs::path& in, const fs::path& out, const fs::path& log,
              int threads) {
  std::fflush(stdout);  // the child must not inherit (and print again) what is still buffered
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
    if (!freopen(log.c_str(), "w", stdout)) _exit(127);
    execl(bin.c_str(), bin.c_str(), "score", "--data", in.c_str(), "--out", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Run r;
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(bin + " score failed (see " + log.string() + ")");
  std::ifstream text(log);
  for (std::string line; std::getline(text, line);) {
    const std::size_t at = line.find(" scores/s in the scorer");
    if (at == std::string::npos) continue;
    r.scorer = std::stod(line.substr(line.rfind(' ', at - 1) + 1));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
    std::string fixtures =
        std::string(env ? env : TOOLGRPO_DEFAULT_SHARED_DATA) + "/reward_fixtures/default.jsonl";
    std::string bin = TOOLGRPO_BIN, threads_list = "1,2", dir = fs::temp_directory_path().string();
    int repeat = 30, trials = 5;
    const int done = toolgrpo::bench::bench_options(
        argc, argv, "bench_score",
        "Times `toolgrpo score` end to end (process start to exit) on the reward fixtures repeated into one "
        "file, "
        "at each Kokkos thread count; prints rows/s wall (best and median) and the scorer's scores/s. BLAS "
        "is not "
        "used (toolgrpo links no BLAS; score never loads libtorch).",
        {{"--fixtures", "FILE", "fixture rows (default the shared reward_fixtures/default.jsonl)",
          toolgrpo::bench::to_text(fixtures)},
         {"--repeat", "N", "times the rows are repeated in the scored file (default 30)",
          toolgrpo::bench::to_int(repeat)},
         {"--threads", "LIST", "Kokkos thread counts, comma-separated (default 1,2)",
          toolgrpo::bench::to_text(threads_list)},
         {"--trials", "N", "runs per thread count (default 5)", toolgrpo::bench::to_int(trials)},
         {"--bin", "PATH", "the toolgrpo executable (default the one built with this benchmark)",
          toolgrpo::bench::to_text(bin)},
         {"--dir", "DIR", "where the scored file and results are written (default the temporary directory)",
          toolgrpo::bench::to_text(dir)}});
    if (done >= 0) return done;
    if (repeat < 1 || trials < 1) throw std::invalid_argument("--repeat and --trials must be at least 1");
    std::vector<int> threads;
    std::stringstream list(threads_list);
    for (std::string t; std::getline(list, t, ',');) threads.push_back(std::stoi(t));

    std::ifstream src(fixtures, std::ios::binary);
    if (!src) throw std::runtime_error("cannot read " + fixtures);
    const std::string text((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
    const std::size_t rows_once = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    const fs::path base = fs::path(dir) / ("bench_score_" + std::to_string(getpid()));
    fs::create_directories(base);
    const fs::path in = base / "rows.jsonl", out = base / "scores.jsonl", log = base / "stdout.txt";
    {
      std::ofstream f(in, std::ios::binary);
      for (int r = 0; r < repeat; ++r) f << text;
    }
    const std::size_t rows = rows_once * static_cast<std::size_t>(repeat);
    std::printf("bench_score: %s x %d = %zu rows, %.1f MB; %s; BLAS not used\n",
                fs::path(fixtures).filename().c_str(), repeat, rows,
                static_cast<double>(fs::file_size(in)) / 1e6, bin.c_str());
    run_score(bin, in, out, log, threads.front());  // warm the page cache
    double scorer_one = 0;
    for (const int t : threads) {
      std::vector<Run> runs;
      for (int k = 0; k < trials; ++k) runs.push_back(run_score(bin, in, out, log, t));
      std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.wall < b.wall; });
      std::vector<double> scorer;
      for (const Run& r : runs) scorer.push_back(r.scorer);
      std::sort(scorer.begin(), scorer.end());
      const double median_scorer = scorer[scorer.size() / 2];
      if (t == 1) scorer_one = median_scorer;
      std::printf(
          "score.end_to_end threads=%d: best %.0f rows/s (%.3f s), median %.0f rows/s (%.3f s); scorer "
          "median "
          "%.0f scores/s\n",
          t, static_cast<double>(rows) / runs.front().wall, runs.front().wall,
          static_cast<double>(rows) / runs[runs.size() / 2].wall, runs[runs.size() / 2].wall, median_scorer);
      if (t > 1 && scorer_one > 0)
        std::printf("score.scorer_speedup threads=%d: %.2fx the 1-thread scorer\n", t,
                    median_scorer / scorer_one);
    }
    fs::remove_all(base);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_score: %s\n", e.what());
    return 1;
  }
  return 0;
}
