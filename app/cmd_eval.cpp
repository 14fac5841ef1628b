// toolgrpo eval --data FILE --outputs FILE: tool-calling accuracy of already generated outputs against a ToolRL
// data file — per example the reward's parts, the parse status of the call block, exact-call and name match and
// an error class; in summary format accuracy, exact tool-call accuracy, tool-name accuracy, reward means and, for
// ground truths that answer without a tool, whether the model did too (reward/evaluate.hpp).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/cli_args.hpp"
#include "app/commands.hpp"
#include "io/atomic_file.hpp"
#include "io/dataset.hpp"
#include "reward/evaluate.hpp"
#include "reward/json.hpp"

namespace toolgrpo::app {
namespace {

struct Output {
  std::size_t row;  // index in the data file
  std::string id, text;
};

// The {id, output} lines of `file`, each naming a row of `data` by its id (or 0-based position without ids).
std::vector<Output> outputs_load(const std::string& file, const io::Dataset& data) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError("eval: cannot read --outputs " + file + ": " + std::strerror(errno));
  std::map<std::string, std::size_t> by_id;
  for (std::size_t i = 0; i < data.rows.size(); ++i)
    by_id[data.rows[i].id.empty() ? std::to_string(i) : data.rows[i].id] = i;
  std::vector<Output> out;
  std::map<std::string, std::size_t> seen;  // id -> line
  reward::JsonParser parser;
  reward::Arena arena(1 << 16);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto bad = [&](const std::string& what) { throw UsageError(file + ":" + std::to_string(n) + ": " + what); };
    arena.reset();
    reward::JsonError err;
    const reward::Value* v = parser.parse(line, arena, &err);
    if (v == nullptr) bad("not JSON (" + err.message + " at byte " + std::to_string(err.offset) + ")");
    if (!v->is_object()) bad("expected a JSON object {\"id\", \"output\"}");
    const reward::Value* id = v->find("id");
    const reward::Value* text = v->find("output");
    if (id == nullptr || !(id->is_string() || id->kind == reward::JsonKind::Int))
      bad("field \"id\" must be a string (or an integer row position)");
    if (text == nullptr || !text->is_string()) bad("field \"output\" must be a string");
    const std::string key = id->is_string() ? std::string(id->string()) : std::to_string(id->u.i);
    const auto row = by_id.find(key);
    if (row == by_id.end()) bad("id \"" + key + "\" is not a row of " + data.path);
    if (const auto s = seen.find(key); s != seen.end())
      bad("id \"" + key + "\" appears again (first on line " + std::to_string(s->second) + ")");
    seen[key] = n;
    out.push_back({row->second, key, std::string(text->string())});
  }
  if (out.empty()) throw UsageError("eval: " + file + " holds no outputs");
  return out;
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string record_json(const Output& o, const reward::EvalRecord& r) {
  std::string s = "{\"id\": ";
  reward::json_append_string(s, o.id);
  s += ", \"output\": ";
  reward::json_append_string(s, o.text);
  s += ", \"format\": " + number(r.scores.format) + ", \"correctness\": " + number(r.scores.correctness) +
       ", \"length\": " + number(r.scores.length) + ", \"total\": " + number(r.scores.total) +
       ", \"format_ok\": " + (r.format_ok ? "true" : "false") + ", \"parse\": \"" +
       reward::calls_status_name(r.parse) + "\", \"exact_call\": " + (r.match.exact ? "true" : "false") +
       ", \"name_match\": " + (r.match.names ? "true" : "false") + ", \"expects_call\": " +
       (r.expects_call ? "true" : "false") + ", \"error\": \"" + reward::call_error_name(r.match.error) + "\"}\n";
  return s;
}

std::string summary_json(const reward::EvalSummary& s, std::size_t missing) {
  std::string j = "{\"n\": " + std::to_string(s.n) + ", \"format_accuracy\": " + number(s.format_accuracy) +
                  ", \"exact_call_accuracy\": " + number(s.exact_call_accuracy) +
                  ", \"name_accuracy\": " + number(s.name_accuracy) +
                  ", \"reward_total_mean\": " + number(s.reward_total_mean) +
                  ", \"reward_format_mean\": " + number(s.reward_format_mean) +
                  ", \"reward_correctness_mean\": " + number(s.reward_correctness_mean) +
                  ", \"reward_length_mean\": " + number(s.reward_length_mean) +
                  ", \"response_bytes_mean\": " + number(s.response_bytes_mean) +
                  ", \"call_rows\": " + std::to_string(s.call_rows) +
                  ", \"call_rows_exact\": " + number(s.call_rows_exact) +
                  ", \"response_rows\": " + std::to_string(s.response_rows) +
                  ", \"answered_without_call\": " + number(s.answered_without_call) +
                  ", \"rows_without_output\": " + std::to_string(missing) + ", \"errors\": {";
  bool first = true;
  for (const auto& [name, count] : s.errors) {
    j += std::string(first ? "" : ", ") + "\"" + name + "\": " + std::to_string(count);
    first = false;
  }
  return j + "}}\n";
}

}  // namespace

int cmd_eval(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "eval",
      "eval --data FILE --outputs FILE.jsonl [--out FILE.jsonl] [--summary FILE.json] [--variant NAME] [--step N]",
      "Measures tool calling on already generated outputs: each {\"id\", \"output\"} line of --outputs is checked "
      "against the ToolRL row of --data with that id (rows without an id: their 0-based position) — the reward's "
      "parts, the format, and whether the tool calls are exactly the expected ones (the same calls, values "
      "compared with Python ==, in any order). Prints a summary; --out writes a line per example and --summary "
      "the summary as JSON. Bad input (a line that is not JSON, an unknown or repeated id) names the file and "
      "line, exits 2 and writes nothing.",
      {{"--data", "FILE", "ToolRL data: JSON Lines {system, user, ground_truth[, id]} or the official JSON array"},
       {"--outputs", "FILE.jsonl", "the outputs to check: one {\"id\", \"output\"} per line"},
       {"--out", "FILE.jsonl", "per example: id, output, format, correctness, length, total, format_ok, parse, "
                               "exact_call, name_match, expects_call, error"},
       {"--summary", "FILE.json", "the summary as JSON (n, format_accuracy, exact_call_accuracy, name_accuracy, ...)"},
       {"--variant", "NAME", "reward variant for the reward parts (default: default)"},
       {"--step", "N", "training step for step-dependent variants (default 0)"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  if (!cli.has("--data")) throw UsageError("eval: --data FILE is required");
  if (!cli.has("--outputs")) throw UsageError("eval: --outputs FILE.jsonl is required");
  reward::RewardConfig cfg;
  try {
    cfg = reward::reward_config_from_name(cli.has("--variant") ? cli.get("--variant") : "default");
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("eval: --variant: ") + e.what());
  }
  const int64_t step = cli.has("--step") ? cli.get_int("--step") : 0;
  if (rt.rank() != 0) return 0;
  io::Dataset data;
  try {
    data = io::dataset_load(cli.get("--data"));
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string("eval: ") + e.what());
  }
  const std::vector<Output> outputs = outputs_load(cli.get("--outputs"), data);
  std::vector<reward::EvalRecord> records;
  std::string lines;
  for (const Output& o : outputs) {
    const io::ToolRLRow& row = data.rows[o.row];
    const reward::GroundTruth gt(row.ground_truth);
    try {
      records.push_back(reward::evaluate_output(o.text, gt, cfg, step));
    } catch (const std::invalid_argument& e) {
      throw UsageError("eval: " + data.path + ": row \"" + o.id + "\": unusable ground truth: " + e.what());
    }
    lines += record_json(o, records.back());
  }
  const reward::EvalSummary s = reward::eval_summarize(records);
  const std::string summary = summary_json(s, data.rows.size() - outputs.size());
  if (cli.has("--out")) {
    io::AtomicFile f(cli.get("--out"));
    f.write(lines);
    f.commit();
  }
  if (cli.has("--summary")) {
    io::AtomicFile f(cli.get("--summary"));
    f.write(summary);
    f.commit();
  }
  std::printf("eval: %lld outputs (%lld with calls expected, %lld plain answers; %zu data rows without an output)\n"
              "  format accuracy      %.4f\n  exact call accuracy  %.4f (%.4f of the rows with calls)\n"
              "  tool-name accuracy   %.4f\n  answered without call %.4f of the plain-answer rows\n"
              "  reward mean          %.4f (format %.4f, correctness %.4f, length %.4f)\n",
              static_cast<long long>(s.n), static_cast<long long>(s.call_rows), static_cast<long long>(s.response_rows),
              data.rows.size() - outputs.size(), s.format_accuracy, s.exact_call_accuracy, s.call_rows_exact,
              s.name_accuracy, s.answered_without_call, s.reward_total_mean, s.reward_format_mean,
              s.reward_correctness_mean, s.reward_length_mean);
  return 0;
}

}  // namespace toolgrpo::app
