// toolgrpo report RUN_DIR [--out DIR]: the plots and index.html of a run directory (app/report/report.hpp), written
// by rank 0 (the other ranks of an mpirun have nothing to do).
#include <cstdio>
#include <string>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "app/report/report.hpp"

namespace toolgrpo::app {

int cmd_report(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "report",
      "report RUN_DIR [--out DIR]",
      "Writes SVG plots of a run's metrics and an index.html that shows them with a summary table (steps "
      "run, last "
      "and best reward or loss, the final evaluation, the eval --summary results in eval_summaries.jsonl) "
      "and the "
      "run's resolved config.yaml. Plots: reward (total and each part) per step, response length, KL and "
      "entropy, "
      "clip fraction, tokens/s, phase times, SFT loss and evaluations over steps; a plot whose metrics the "
      "run does "
      "not have is left out. train and sft write this report into RUN_DIR/report when they end.",
      {{"--out", "DIR", "where to write the plots and index.html (default RUN_DIR/report)"}},
      {{"RUN_DIR", "", "a run directory (run.out_dir/run.name) with metrics.jsonl"}},
      "Every input line is read before anything is written: a missing metrics.jsonl or a malformed line "
      "(named "
      "FILE:LINE) exits with code 2 and writes nothing. Each file is replaced atomically."};
  const CliArgs cli(args, spec);
  if (cli.positional().size() != 1)
    throw UsageError("report: expected one RUN_DIR, got " + std::to_string(cli.positional().size()) +
                     " (see 'toolgrpo report --help')");
  if (rt.rank() != 0) return 0;
  const ReportFiles r = report_write(cli.positional()[0], cli.get_or("--out", ""));
  std::printf("report: %zu plots and %s\n", r.plots.size(), r.index.c_str());
  return 0;
}

}  // namespace toolgrpo::app
