// toolgrpo score: scores JSON Lines rows ({output | solution_str, ground_truth, [step], [variant]}) with the
// ToolRL reward through the Kokkos batch scorer; writes one result row per input row and prints a summary.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <cstring>
#include <vector>

#include "app/cli_args.hpp"
#include "app/commands.hpp"
#include "io/atomic_file.hpp"
#include "reward/batch.hpp"
#include "reward/extract.hpp"
#include "reward/json.hpp"
#include "reward/pystr.hpp"

namespace toolgrpo::app {
namespace {

using reward::GroundTruth;
using reward::RewardConfig;
using reward::RewardScores;

struct ScoreOptions {
  std::string data;
  std::string out;
  std::string variant = "default";
  int64_t step = 0;
  std::optional<reward::ChatTemplate> chat_template;  // for rows with solution_str but no experiment_name
  std::size_t chunk_rows = 65536;
};

// One input row, validated; its text fields point into the chunk's arena.
struct Row {
  std::string_view output;  // extracted output
  std::string_view ground_truth;
  int64_t step = 0;
  std::string variant;
  std::string error;  // per-row reference error (reported in OUT, not fatal)
};

[[noreturn]] void bad_row(const std::string& file, std::size_t line, const std::string& what) {
  throw UsageError(file + ":" + std::to_string(line) + ": " + what);
}

std::string_view require_string(const reward::Value& row, const char* key, const std::string& file,
                                std::size_t line) {
  const reward::Value* v = row.find(key);
  if (v == nullptr) bad_row(file, line, std::string("missing field \"") + key + "\"");
  if (!v->is_string()) bad_row(file, line, std::string("field \"") + key + "\" must be a string");
  return v->string();
}

Row read_row(const reward::Value& json, const ScoreOptions& opt, std::size_t line) {
  if (!json.is_object()) bad_row(opt.data, line, "expected a JSON object");
  Row row;
  row.ground_truth = require_string(json, "ground_truth", opt.data, line);
  row.step = opt.step;
  if (const reward::Value* s = json.find("step")) {
    if (s->kind != reward::JsonKind::Int) bad_row(opt.data, line, "field \"step\" must be an integer");
    row.step = s->u.i;
  }
  row.variant = opt.variant;
  if (const reward::Value* v = json.find("variant")) {
    if (!v->is_string()) bad_row(opt.data, line, "field \"variant\" must be a string");
    row.variant = std::string(v->string());
  }
  if (json.find("output") != nullptr) {
    row.output = require_string(json, "output", opt.data, line);
    return row;
  }
  if (json.find("solution_str") == nullptr)
    bad_row(opt.data, line, "missing field \"output\" (or \"solution_str\" with a chat template)");
  const std::string_view solution = require_string(json, "solution_str", opt.data, line);
  std::optional<reward::ChatTemplate> tmpl = opt.chat_template;
  if (const reward::Value* e = json.find("experiment_name")) {
    if (!e->is_string()) bad_row(opt.data, line, "field \"experiment_name\" must be a string");
    try {
      tmpl = reward::chat_template_from_experiment(e->string());
    } catch (const std::invalid_argument& err) {
      row.error = err.what();
      return row;
    }
  }
  if (!tmpl) bad_row(opt.data, line, "row has \"solution_str\" but no \"experiment_name\"; pass --template");
  row.output = reward::extract_prediction(solution, *tmpl);
  return row;
}

struct Totals {
  std::size_t rows = 0, errors = 0;
  double format = 0, correctness = 0, length = 0, total = 0;
  double score_seconds = 0;
};

void append_result(std::string& out, const RewardScores& s, const std::string& error) {
  if (!error.empty()) {
    out += "{\"error\": ";
    reward::json_append_string(out, error);
    out += "}\n";
    return;
  }
  out += "{\"format\": " + reward::py_float_repr(s.format) +
         ", \"correctness\": " + reward::py_float_repr(s.correctness) +
         ", \"length\": " + reward::py_float_repr(s.length) + ", \"total\": " + reward::py_float_repr(s.total) +
         "}\n";
}

// Scores one chunk of rows: ground truths prepared once each, one batch call per variant.
void score_chunk(const std::vector<Row>& rows, std::string& out, Totals& totals, const ScoreOptions& opt,
                 std::size_t first_line) {
  std::map<std::string_view, int32_t> gt_ids;
  std::vector<GroundTruth> gts;
  std::map<std::string, std::vector<std::size_t>> by_variant;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].error.empty()) continue;
    if (gt_ids.emplace(rows[i].ground_truth, static_cast<int32_t>(gts.size())).second)
      gts.emplace_back(std::string(rows[i].ground_truth));
    by_variant[rows[i].variant].push_back(i);
  }
  std::vector<RewardScores> scores(rows.size());
  for (const auto& [name, idx] : by_variant) {
    RewardConfig cfg;
    try {
      cfg = reward::reward_config_from_name(name);
    } catch (const std::invalid_argument& e) {
      bad_row(opt.data, first_line + idx.front(), e.what());
    }
    reward::BatchInput in;
    for (std::size_t i : idx) {
      in.outputs.push_back(rows[i].output);
      in.gt_index.push_back(gt_ids.at(rows[i].ground_truth));
      in.steps.push_back(rows[i].step);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<RewardScores> r = reward::score_batch(in, gts, cfg);
    totals.score_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t k = 0; k < idx.size(); ++k) scores[idx[k]] = r[k];
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::string error = rows[i].error;
    if (error.empty() && !scores[i].ok)
      error = gts[static_cast<std::size_t>(gt_ids.at(rows[i].ground_truth))].error();
    append_result(out, scores[i], error);
    ++totals.rows;
    if (!error.empty()) {
      ++totals.errors;
      continue;
    }
    totals.format += scores[i].format;
    totals.correctness += scores[i].correctness;
    totals.length += scores[i].length;
    totals.total += scores[i].total;
  }
}

ScoreOptions parse_options(const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "score",
      "score --data IN.jsonl [--out OUT.jsonl] [--variant NAME] [--step N] [--template qwen|llama] [--chunk-rows N]",
      "Scores JSON Lines rows {output | solution_str, ground_truth, [step], [variant]} with the ToolRL reward "
      "(format, correctness, length and total, with the reference implementation's semantics) in the Kokkos "
      "batch scorer, writes one result row per input row and prints the mean of each component. A malformed "
      "row stops the run with FILE:LINE and exit code 2, and leaves no output file.",
      {{"--data", "IN.jsonl", "the rows to score (required)"},
       {"--out", "OUT.jsonl", "where to write {format, correctness, length, total} or {error} per row"},
       {"--variant", "NAME", "reward variant for rows without a \"variant\" field (default: default)"},
       {"--step", "N", "step for rows without a \"step\" field (step-dependent variants; default 0)"},
       {"--template", "qwen|llama", "extracts the answer of solution_str rows without experiment_name"},
       {"--chunk-rows", "N", "rows read and scored per batch (default 65536)"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  ScoreOptions opt;
  if (!cli.has("--data")) throw UsageError("score: --data IN.jsonl is required");
  opt.data = cli.get("--data");
  if (cli.has("--out")) opt.out = cli.get("--out");
  if (cli.has("--variant")) opt.variant = cli.get("--variant");
  try {
    reward::reward_config_from_name(opt.variant);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("score: --variant: ") + e.what());
  }
  if (cli.has("--step")) opt.step = cli.get_int("--step");
  if (cli.has("--chunk-rows")) opt.chunk_rows = static_cast<std::size_t>(cli.get_int("--chunk-rows", 1));
  if (cli.has("--template")) {
    const std::string t = cli.get("--template");
    if (t == "qwen") opt.chat_template = reward::ChatTemplate::Qwen;
    else if (t == "llama") opt.chat_template = reward::ChatTemplate::Llama;
    else throw UsageError("score: --template must be qwen or llama, got '" + t + "'");
  }
  return opt;
}

}  // namespace

int cmd_score(parallel::Runtime&, const std::vector<std::string>& args) {
  const ScoreOptions opt = parse_options(args);
  std::ifstream in(opt.data, std::ios::binary);
  if (!in) throw UsageError("score: cannot read " + opt.data + ": " + std::strerror(errno));
  std::unique_ptr<io::AtomicFile> out;
  if (!opt.out.empty()) out = std::make_unique<io::AtomicFile>(opt.out);

  Totals totals;
  const auto t0 = std::chrono::steady_clock::now();
  reward::JsonParser parser;
  std::string line, results;
  std::size_t line_no = 0;
  while (in) {
    // One chunk: rows point into the arena (parse() copies strings), which lives until the chunk is scored.
    reward::Arena arena(1 << 20);
    std::vector<Row> rows;
    const std::size_t first_line = line_no + 1;
    while (rows.size() < opt.chunk_rows && std::getline(in, line)) {
      ++line_no;
      if (reward::py_strip(line).empty()) bad_row(opt.data, line_no, "empty line (expected a JSON object)");
      reward::JsonError err;
      const reward::Value* v = parser.parse(line, arena, &err);
      if (v == nullptr)
        bad_row(opt.data, line_no, "invalid JSON (" + err.message + " at byte " + std::to_string(err.offset) + ")");
      rows.push_back(read_row(*v, opt, line_no));
    }
    if (in.bad()) throw UsageError("score: error reading " + opt.data);
    results.clear();
    score_chunk(rows, results, totals, opt, first_line);
    if (out) out->write(results);
  }
  if (out) out->commit();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::size_t scored = totals.rows - totals.errors;
  const double n = scored ? static_cast<double>(scored) : 1.0;
  std::printf("score: %zu rows from %s (%zu scored, %zu errors)\n", totals.rows, opt.data.c_str(), scored,
              totals.errors);
  std::printf("score: mean format %.6f  correctness %.6f  length %.6f  total %.6f\n", totals.format / n,
              totals.correctness / n, totals.length / n, totals.total / n);
  std::printf("score: %.0f scores/s in the scorer (%.3f s), %.3f s wall%s%s\n",
              totals.score_seconds > 0 ? static_cast<double>(scored) / totals.score_seconds : 0.0,
              totals.score_seconds, wall, opt.out.empty() ? "" : ", results in ", opt.out.c_str());
  return 0;
}

}  // namespace toolgrpo::app
