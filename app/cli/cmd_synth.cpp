// toolgrpo synth-data --out DIR: writes the synthetic tool-calling task of io/synth_data.hpp — train.jsonl,
// heldout.jsonl, heldout_seen_tools.jsonl (ToolRL rows) and tools.json (which tools, request templates and new
// values each split uses).
#include <cstdio>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "io/atomic_file.hpp"
#include "io/synth_data.hpp"

namespace toolgrpo::app {

int cmd_synth_data(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "synth-data",
      "synth-data --out DIR [--n N] [--heldout M] [--heldout-seen M] [--rl R] [--seed S] [--two-call-share X] "
      "[--response-share X] [--train-tools K] [--no-arguments]",
      "Writes a synthetic tool-calling task in the ToolRL format, small enough for a tiny byte-level model: "
      "each row lists one to three tools (verb/noun pairs such as book_hotel, with string, integer and enum "
      "parameters, some with defaults) and a request rendered from a sentence template; the ground truth is one "
      "call, two calls, or a plain response (small talk, or a request that no listed tool serves). Two held-out "
      "splits: heldout.jsonl calls only tools and uses only request templates that the training split never "
      "shows; heldout_seen_tools.jsonl calls and lists only the training tools, with request templates and "
      "string argument values that no other split uses (integers and enum values from the same ranges). With "
      "--rl, a fourth split for a training stage after SFT: rl.jsonl calls and lists the training tools with "
      "their values, in request templates that no other split uses. The "
      "same seed gives the same files on every machine. Files: DIR/train.jsonl, DIR/heldout.jsonl, "
      "DIR/heldout_seen_tools.jsonl, DIR/rl.jsonl with --rl (JSON Lines {id, system, user, ground_truth}) and "
      "DIR/tools.json (the tools, templates and new values of each split).",
      {{"--out", "DIR", "directory to write (created; existing files of the same names are replaced)"},
       {"--n", "N", "training rows (default 2000)"},
       {"--heldout", "M", "held-out rows with unseen tools, heldout.jsonl (default 200)"},
       {"--heldout-seen", "M", "held-out rows with the training tools, heldout_seen_tools.jsonl (default 200)"},
       {"--rl", "R", "rows of the rl split, rl.jsonl (default 0: not written)"},
       {"--seed", "S", "seed (default 1)"},
       {"--two-call-share", "X", "share of rows answered with two calls (default 0.2)"},
       {"--response-share", "X", "share of rows answered in plain text (default 0.2)"},
       {"--train-tools", "K", "keep K training tools, K >= 3 (default: every verb/noun pair not held out)"},
       {"--no-arguments", "", "tools without parameters: a call is exact when its tool names are (a task small "
                              "enough to learn in seconds: the learning test's)"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  if (!cli.has("--out")) throw UsageError("synth-data: --out DIR is required");
  io::SynthOptions opt;
  if (cli.has("--n")) opt.train_rows = cli.get_int("--n", 1);
  if (cli.has("--heldout")) opt.heldout_rows = cli.get_int("--heldout", 1);
  if (cli.has("--heldout-seen")) opt.heldout_seen_rows = cli.get_int("--heldout-seen", 1);
  if (cli.has("--rl")) opt.rl_rows = cli.get_int("--rl", 1);
  if (cli.has("--seed")) opt.seed = static_cast<uint64_t>(cli.get_int("--seed", 0));
  if (cli.has("--two-call-share")) opt.two_call_share = cli.get_double("--two-call-share");
  if (cli.has("--response-share")) opt.response_share = cli.get_double("--response-share");
  if (cli.has("--train-tools")) opt.train_tools = cli.get_int("--train-tools", 3);
  opt.arguments = !cli.has("--no-arguments");
  io::SynthData d;
  try {
    d = io::synth_data_make(opt);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (rt.rank() != 0) return 0;
  const std::filesystem::path dir = cli.get("--out");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UsageError("synth-data: cannot create --out " + dir.string() + ": " + ec.message());
  nlohmann::ordered_json tools = {{"seed", opt.seed},
                                  {"arguments", opt.arguments},
                                  {"train", {{"rows", opt.train_rows}, {"tools", d.train_tools},
                                             {"templates", d.train_templates}}},
                                  {"heldout", {{"rows", opt.heldout_rows}, {"tools", d.heldout_tools},
                                               {"templates", d.heldout_templates}}},
                                  {"heldout_seen_tools", {{"rows", opt.heldout_seen_rows}, {"tools", d.train_tools},
                                                          {"templates", d.heldout_seen_templates},
                                                          {"new_values", d.heldout_seen_values}}}};
  if (opt.rl_rows > 0)
    tools["rl"] = {{"rows", opt.rl_rows}, {"tools", d.train_tools}, {"templates", d.rl_templates}};
  // All are written to temporary names first and renamed only when every one is complete.
  io::AtomicFile train((dir / "train.jsonl").string()), heldout((dir / "heldout.jsonl").string()),
      seen((dir / "heldout_seen_tools.jsonl").string()), meta((dir / "tools.json").string());
  std::optional<io::AtomicFile> rl;
  if (opt.rl_rows > 0) rl.emplace((dir / "rl.jsonl").string());
  train.write(io::synth_rows_jsonl(d.train));
  heldout.write(io::synth_rows_jsonl(d.heldout));
  seen.write(io::synth_rows_jsonl(d.heldout_seen));
  if (rl) rl->write(io::synth_rows_jsonl(d.rl));
  meta.write(tools.dump(2) + "\n");
  train.commit();
  heldout.commit();
  seen.commit();
  if (rl) rl->commit();
  meta.commit();
  std::printf(
      "synth-data: %zu train rows (%zu tools), %zu held-out rows (%zu unseen tools), %zu held-out rows with the "
      "training tools, %zu rl rows, seed %llu -> %s\n",
      d.train.size(), d.train_tools.size(), d.heldout.size(), d.heldout_tools.size(), d.heldout_seen.size(), d.rl.size(),
      static_cast<unsigned long long>(opt.seed), dir.string().c_str());
  return 0;
}

}  // namespace toolgrpo::app
