// toolgrpo eval --data FILE --outputs FILE: tool-calling accuracy of generated outputs against ToolRL data,
// API-Bank data (as the ToolRL authors converted it) or BFCL v3 questions and possible answers. ToolRL and
// API-Bank: per example the reward's parts, the parse status of the call block, exact-call and name match and
// an error class (reward/evaluate.hpp); BFCL: BFCL's AST check (reward/bfcl_check.hpp). A summary of each.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "common/input_error.hpp"
#include "app/report/eval_outputs.hpp"
#include "app/report/metric_names.hpp"
#include "app/report/report.hpp"
#include "io/atomic_file.hpp"
#include "io/dataset.hpp"
#include "io/line_reader.hpp"
#include "reward/bfcl_check.hpp"
#include "reward/eval_data.hpp"
#include "reward/evaluate.hpp"
#include "reward/json.hpp"
#include "reward/pystr.hpp"

namespace toolgrpo::app {
namespace {

using reward::py_float_repr;
namespace mn = metric_names;

// The rows of --data in one of the formats, as ToolRL rows (BFCL: with their checks).
struct EvalInput {
  std::string format;  // toolrl | apibank | bfcl
  io::Dataset data;
  std::vector<reward::BfclCase> bfcl;  // bfcl: the check of each row
  std::vector<std::string> warnings;   // bfcl: quirks of the answers that BFCL evaluates as they are
};

EvalInput input_load(const CliArgs& cli) {
  EvalInput in;
  in.format = cli.get_or("--format", "toolrl");
  if (in.format != "toolrl" && in.format != "apibank" && in.format != "bfcl")
    throw UsageError("eval: --format: unknown format '" + in.format + "' (expected toolrl, apibank or bfcl)");
  if (cli.has("--answers") && in.format != "bfcl")
    throw UsageError("eval: --answers FILE.jsonl goes with --format bfcl only");
  const std::string path = cli.get("--data");
  try {
    if (in.format == "toolrl") return {in.format, io::dataset_load(path), {}, {}};
    in.data.path = path;
    const auto add = [&](reward::EvalPrompt& p) {
      in.data.rows.push_back(
          {std::move(p.id), std::move(p.system), std::move(p.user), std::move(p.ground_truth)});
    };
    if (in.format == "apibank") {
      for (reward::EvalPrompt& p : reward::apibank_load(path)) add(p);
    } else {
      for (reward::BfclQuestion& q : reward::bfcl_load(path, cli.get_or("--answers", ""))) {
        add(q.prompt);
        in.bfcl.push_back(std::move(q.check));
        in.warnings.insert(in.warnings.end(), q.warnings.begin(), q.warnings.end());
      }
    }
  } catch (const common::InputError&) {
    throw;  // a damaged API-Bank or BFCL file: "toolgrpo: error: FILE: ...", exit 2
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string("eval: ") + e.what());
  }
  return in;
}

// The {id, output} lines of `file`, each naming a row of `data` by its id (or 0-based position without ids).
std::vector<EvalOutput> outputs_load(const std::string& file, const io::Dataset& data) {
  std::unique_ptr<io::LineReader> in;
  try {
    in = std::make_unique<io::LineReader>(file);
  } catch (const std::runtime_error&) {
    throw UsageError("eval: cannot read --outputs " + file + ": " + std::strerror(errno));
  }
  std::map<std::string, std::size_t> by_id;
  for (std::size_t i = 0; i < data.rows.size(); ++i) by_id[eval_row_id(data, i)] = i;
  std::vector<EvalOutput> out;
  std::map<std::string, std::size_t> seen;  // id -> line
  reward::JsonParser parser;
  reward::Arena arena(1 << 16);
  std::string_view line;
  while (in->next(line)) {
    const std::size_t n = in->line_number();
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const auto bad = [&](const std::string& what) {
      throw UsageError(file + ":" + std::to_string(n) + ": " + what);
    };
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

std::string errors_json(const std::map<std::string, int64_t>& errors) {
  std::string j = "{";
  for (const auto& [name, count] : errors)
    j += std::string(j.size() > 1 ? ", " : "") + "\"" + name + "\": " + std::to_string(count);
  return j + "}";
}

// Calls f(type, expected count) for each argument type the tally's expected calls hold.
template <class F>
void for_each_arg_type(const reward::ArgTally& a, F f) {
  for (std::size_t k = 0; k < reward::kArgTypes; ++k)
    if (a.expected[k] > 0) f(static_cast<reward::ArgType>(k), a.expected[k]);
}

// Summary keys for the arguments of name-matched calls: the value accuracy overall and per JSON type of the
// expected value (only types that occur), and the missing and extra argument counts.
std::string arguments_json(const reward::ArgTally& a) {
  std::string j = ", \"arguments_expected\": " + std::to_string(a.expected_total()) +
                  ", \"argument_value_accuracy\": " + py_float_repr(a.accuracy()) +
                  ", \"argument_value_accuracy_by_type\": {";
  for_each_arg_type(a, [&](reward::ArgType t, int64_t) {
    j += std::string(j.back() == '{' ? "" : ", ") + "\"" + reward::arg_type_name(t) +
         "\": " + py_float_repr(a.accuracy(t));
  });
  return j + "}, \"arguments_missing\": " + std::to_string(a.missing) +
         ", \"arguments_extra\": " + std::to_string(a.extra);
}

std::string record_json(const EvalOutput& o, const reward::EvalRecord& r) {
  std::string s = "{\"id\": ";
  reward::json_append_string(s, o.id);
  s += ", \"sample\": " + std::to_string(o.sample) + ", \"output\": ";
  reward::json_append_string(s, o.text);
  s += ", \"format\": " + py_float_repr(r.scores.format) +
       ", \"correctness\": " + py_float_repr(r.scores.correctness) +
       ", \"length\": " + py_float_repr(r.scores.length) + ", \"total\": " + py_float_repr(r.scores.total) +
       ", \"format_ok\": " + (r.format_ok ? "true" : "false") + ", \"parse\": \"" +
       reward::calls_status_name(r.parse) + "\", \"exact_call\": " + (r.match.exact ? "true" : "false") +
       ", \"name_match\": " + (r.match.names ? "true" : "false") +
       ", \"expects_call\": " + (r.expects_call ? "true" : "false") + ", \"error\": \"" +
       reward::call_error_name(r.match.error) + "\"";
  const reward::ArgTally& a = r.match.args;
  if (a.expected_total() > 0 || a.extra > 0)
    s += ", \"arguments\": {\"expected\": " + std::to_string(a.expected_total()) +
         ", \"correct\": " + std::to_string(a.correct_total()) +
         ", \"missing\": " + std::to_string(a.missing) + ", \"extra\": " + std::to_string(a.extra) + "}";
  return s + "}\n";
}

std::string summary_json(const reward::EvalSummary& s, const std::string& format, const std::string& data,
                         std::size_t missing) {
  std::string j = "{\"format\": \"" + format + "\", \"data\": ";
  reward::json_append_string(j, data);
  j += ", \"n\": " + std::to_string(s.n) + ", \"" + mn::kSummaryFormatAccuracy +
       "\": " + py_float_repr(s.format_accuracy) + ", \"" + mn::kSummaryExactCallAccuracy +
       "\": " + py_float_repr(s.exact_call_accuracy) +
       ", \"name_accuracy\": " + py_float_repr(s.name_accuracy) +
       ", \"reward_total_mean\": " + py_float_repr(s.reward_total_mean) +
       ", \"reward_format_mean\": " + py_float_repr(s.reward_format_mean) +
       ", \"reward_correctness_mean\": " + py_float_repr(s.reward_correctness_mean) +
       ", \"reward_length_mean\": " + py_float_repr(s.reward_length_mean) +
       ", \"response_bytes_mean\": " + py_float_repr(s.response_bytes_mean) +
       ", \"call_rows\": " + std::to_string(s.call_rows) +
       ", \"call_rows_exact\": " + py_float_repr(s.call_rows_exact) +
       ", \"response_rows\": " + std::to_string(s.response_rows) +
       ", \"answered_without_call\": " + py_float_repr(s.answered_without_call) +
       ", \"rows_without_output\": " + std::to_string(missing) + arguments_json(s.args);
  if (s.samples_per_row > 1)
    j += ", \"samples_per_row\": " + std::to_string(s.samples_per_row) +
         ", \"pass_at_k_exact_call\": " + py_float_repr(s.pass_exact) +
         ", \"pass_at_k_call_rows_exact\": " + py_float_repr(s.pass_call_rows_exact);
  j += ", \"errors\": ";
  return j + errors_json(s.errors) + "}\n";
}

std::string bfcl_record_json(const EvalOutput& o, const reward::BfclResult& r, bool format_ok) {
  std::string s = "{\"id\": ";
  reward::json_append_string(s, o.id);
  s += ", \"sample\": " + std::to_string(o.sample) + ", \"output\": ";
  reward::json_append_string(s, o.text);
  s += std::string(", \"valid\": ") + (r.valid ? "true" : "false") + ", \"error\": \"" +
       reward::bfcl_error_name(r.error) + "\", \"detail\": ";
  reward::json_append_string(s, r.detail);
  s += std::string(", \"format_ok\": ") + (format_ok ? "true" : "false") + ", \"parse\": \"" +
       reward::calls_status_name(r.parse) + "\", \"expects_call\": " + (r.expects_call ? "true" : "false") +
       "}\n";
  return s;
}

std::string bfcl_summary_json(const reward::BfclSummary& s, const std::string& data,
                              const std::string& answers, std::size_t missing) {
  std::string j = "{\"format\": \"bfcl\", \"data\": ";
  reward::json_append_string(j, data);
  j += ", \"answers\": ";
  if (answers.empty())
    j += "null";
  else
    reward::json_append_string(j, answers);
  return j + ", \"n\": " + std::to_string(s.n) + ", \"accuracy\": " + py_float_repr(s.accuracy) + ", \"" +
         mn::kSummaryFormatAccuracy + "\": " + py_float_repr(s.format_accuracy) +
         ", \"call_rows\": " + std::to_string(s.call_rows) +
         ", \"call_rows_accuracy\": " + py_float_repr(s.call_rows_accuracy) +
         ", \"irrelevance_rows\": " + std::to_string(s.irrelevance_rows) +
         ", \"irrelevance_accuracy\": " + py_float_repr(s.irrelevance_accuracy) +
         ", \"rows_without_output\": " + std::to_string(missing) + ", \"errors\": " + errors_json(s.errors) +
         "}\n";
}

// --out, --summary, and with --run the summary (labelled, with its step) appended to
// RUN_DIR/eval_summaries.jsonl and the run's report redrawn.
void files_write(const CliArgs& cli, const std::string& lines, const std::string& summary, int64_t step) {
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
  if (!cli.has("--run")) return;
  const std::string run = cli.get("--run");
  const std::string path = run + "/" + mn::kEvalSummariesFile;
  std::string all;
  if (std::ifstream old(path, std::ios::binary); old) all.assign(std::istreambuf_iterator<char>(old), {});
  if (!all.empty() && all.back() != '\n') all += '\n';
  std::string head = "{\"" + std::string(mn::kSummaryLabel) + "\": ";
  reward::json_append_string(head, cli.get_or("--label", "eval"));
  all += head + ", \"" + mn::kStep + "\": " + std::to_string(step) + ", " + summary.substr(1);
  io::AtomicFile f(path);
  f.write(all);
  f.commit();
  if (!std::ifstream(run + "/metrics.jsonl")) {  // evaluated before the run starts: its report comes with it
    std::printf("eval: summary added to %s\n", path.c_str());
    return;
  }
  try {
    const ReportFiles r = report_write(run);
    std::printf("eval: summary added to %s; report %s\n", path.c_str(), r.index.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eval: warning: the report of %s was not redrawn: %s\n", run.c_str(), e.what());
  }
}

}  // namespace

std::string eval_row_id(const io::Dataset& data, std::size_t i) {
  return data.rows[i].id.empty() ? std::to_string(i) : data.rows[i].id;
}

std::size_t eval_rows_asked(const CliArgs& cli, const io::Dataset& data) {
  if (!cli.has("--model") || !cli.has("--limit")) return data.rows.size();
  return std::min(data.rows.size(), static_cast<std::size_t>(cli.get_int("--limit", 1)));
}

int cmd_eval(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "eval",
      "eval --data FILE [--format toolrl|apibank|bfcl] [--answers FILE.jsonl] (--model DIR|CHECKPOINT "
      "[--samples K] [--temperature T] [--max-new-tokens N] [--limit N] | --outputs FILE.jsonl) [--out "
      "FILE.jsonl] "
      "[--summary FILE.json] [--variant NAME] [--step N] [--run RUN_DIR [--label TEXT]]",
      "Measures tool calling. With --model it generates the outputs (greedy, or K samples at a temperature; "
      "the "
      "rows sharded over the MPI ranks); with --outputs each {\"id\", \"output\"} line is taken as generated "
      "elsewhere. Each output is checked against the row of --data with that id (rows without an id: their "
      "0-based position). ToolRL and API-Bank rows: the reward's parts, the format, and whether the tool "
      "calls "
      "are exactly the expected ones (the same calls, values compared with Python ==, in any order). BFCL "
      "questions: BFCL's AST check — each expected call matched by one call in any order, the same number of "
      "calls, required parameters present and none unknown, types as the schema says (an int passes for a "
      "float), strings compared after BFCL's normalisation, an omitted parameter only where \"\" is "
      "acceptable; "
      "as in BFCL, a question of the simple category (by its id, or with one function and one expected call) "
      "is checked against its function whatever name the possible answer gives it, and a possible answer "
      "naming a function the question lacks is warned about and fails; "
      "without --answers every question expects no call (irrelevance). Prints a summary; --out writes a line "
      "per example and --summary the summary as JSON. Bad input (a line that is not JSON, an unknown or "
      "repeated id, a question without a possible answer) names the file and line, exits 2 and writes "
      "nothing.",
      {{"--data", "FILE",
        "toolrl: JSON Lines or the official JSON array; apibank: JSON list; bfcl: questions (JSON Lines)"},
       {"--format", "NAME", "toolrl (default), apibank or bfcl"},
       {"--answers", "FILE.jsonl",
        "bfcl: possible answers, a row per question (none: no call expected, irrelevance)"},
       {"--model", "DIR|FILE",
        "generate the outputs: a Hugging Face directory, checkpoint file or run directory"},
       {"--samples", "K", "outputs per row (default 1: greedy unless --temperature is given)"},
       {"--temperature", "T", "sample at this temperature (default: greedy for one sample, 1 for several)"},
       {"--max-new-tokens", "N", "response tokens per output (default 512)"},
       {"--max-prompt-tokens", "N", "longer prompts keep their end (default 2048)"},
       {"--limit", "N", "only the first N rows of --data"},
       {"--seed", "S", "sampling seed (default 0)"},
       {"--outputs", "FILE.jsonl", "the outputs to check: one {\"id\", \"output\"} per line"},
       {"--out", "FILE.jsonl",
        "per example: id, output, format, correctness, length, total, format_ok, parse, exact_call, "
        "name_match, expects_call, error (bfcl: id, output, valid, error, detail, format_ok, parse, "
        "expects_call)"},
       {"--summary", "FILE.json",
        "the summary as JSON (format, data, n, format_accuracy, exact_call_accuracy, ...; bfcl: accuracy, "
        "call_rows_accuracy, irrelevance_accuracy, ...)"},
       {"--variant", "NAME", "reward variant for the reward parts (default: default)"},
       {"--step", "N", "training step for step-dependent variants, and the step --run records (default 0)"},
       {"--run", "RUN_DIR",
        "also append the summary (with --label and --step) to RUN_DIR/eval_summaries.jsonl and redraw the "
        "run's report (toolgrpo report)"},
       {"--label", "TEXT", "the summary's label in RUN_DIR/eval_summaries.jsonl (default: eval)"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  if (!cli.has("--data")) throw UsageError("eval: --data FILE is required");
  if (cli.has("--outputs") == cli.has("--model"))
    throw UsageError(
        "eval: give either --model DIR|CHECKPOINT (generate the outputs) or --outputs FILE.jsonl");
  reward::RewardConfig cfg;
  try {
    cfg = reward::reward_config_from_name(cli.has("--variant") ? cli.get("--variant") : "default");
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("eval: --variant: ") + e.what());
  }
  const int64_t step = cli.has("--step") ? cli.get_int("--step") : 0;
  if (cli.has("--label") && !cli.has("--run")) throw UsageError("eval: --label needs --run RUN_DIR");
  const bool generates = cli.has("--model");
  if (!generates && rt.rank() != 0) return 0;
  const EvalInput in = input_load(cli);
  const io::Dataset& data = in.data;
  const std::vector<EvalOutput> outputs =
      generates ? eval_outputs_generate(rt, cli, data) : outputs_load(cli.get("--outputs"), data);
  if (rt.rank() != 0) return 0;
  for (const std::string& w : in.warnings) std::fprintf(stderr, "eval: warning: %s\n", w.c_str());
  std::vector<bool> has_output(eval_rows_asked(cli, data), false);
  for (const EvalOutput& o : outputs) has_output[o.row] = true;
  const std::size_t without =
      static_cast<std::size_t>(std::count(has_output.begin(), has_output.end(), false));
  std::vector<reward::EvalRecord> records;
  std::vector<reward::BfclResult> checks;
  std::vector<bool> format_ok;
  std::string lines;
  // The reward's parts and the call match of every output on all of this rank's Kokkos threads; then, in
  // order, the first unusable ground truth stops the run, and the lines are written.
  std::map<std::size_t, reward::GroundTruth> gt_of_row;
  std::vector<std::string_view> texts;
  std::vector<const reward::GroundTruth*> gts;
  for (const EvalOutput& o : outputs) {
    auto it = gt_of_row.find(o.row);
    if (it == gt_of_row.end())
      it = gt_of_row.emplace(o.row, reward::GroundTruth(data.rows[o.row].ground_truth)).first;
    texts.push_back(o.text);
    gts.push_back(&it->second);
  }
  reward::EvalBatch batch = reward::evaluate_batch(texts, gts, cfg, step);
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const EvalOutput& o = outputs[k];
    if (!batch.errors[k].empty())
      throw UsageError("eval: " + data.path + ": row \"" + o.id +
                       "\": unusable ground truth: " + batch.errors[k]);
    records.push_back(std::move(batch.records[k]));
    if (in.format != "bfcl") {
      lines += record_json(o, records.back());
      continue;
    }
    // BFCL: the format as ToolRL's reward sees it against a representative call, the calls by BFCL's rules.
    checks.push_back(reward::bfcl_check(o.text, in.bfcl[o.row]));
    format_ok.push_back(records.back().format_ok);
    lines += bfcl_record_json(o, checks.back(), format_ok.back());
  }
  if (in.format == "bfcl") {
    const reward::BfclSummary s = reward::bfcl_summarize(checks, format_ok);
    files_write(cli, lines, bfcl_summary_json(s, data.path, cli.get_or("--answers", ""), without), step);
    std::printf(
        "eval (bfcl) %s: %lld outputs (%lld with calls expected, %lld expecting none; %zu questions without "
        "an "
        "output)\n  accuracy             %.4f\n  with calls expected  %.4f\n  irrelevance          %.4f\n"
        "  format accuracy      %.4f\n",
        data.path.c_str(), static_cast<long long>(s.n), static_cast<long long>(s.call_rows),
        static_cast<long long>(s.irrelevance_rows), without, s.accuracy, s.call_rows_accuracy,
        s.irrelevance_accuracy, s.format_accuracy);
    return 0;
  }
  std::vector<std::string> row_of;
  for (const EvalOutput& o : outputs) row_of.push_back(o.id);
  const reward::EvalSummary s = reward::eval_summarize(records, row_of);
  files_write(cli, lines, summary_json(s, in.format, data.path, without), step);
  std::printf(
      "eval (%s) %s: %lld outputs (%lld with calls expected, %lld plain answers; %zu data rows without an "
      "output)\n  format accuracy      %.4f\n  exact call accuracy  %.4f (%.4f of the rows with calls)\n"
      "  tool-name accuracy   %.4f\n  answered without call %.4f of the plain-answer rows\n"
      "  reward mean          %.4f (format %.4f, correctness %.4f, length %.4f)\n",
      in.format.c_str(), data.path.c_str(), static_cast<long long>(s.n), static_cast<long long>(s.call_rows),
      static_cast<long long>(s.response_rows), without, s.format_accuracy, s.exact_call_accuracy,
      s.call_rows_exact, s.name_accuracy, s.answered_without_call, s.reward_total_mean, s.reward_format_mean,
      s.reward_correctness_mean, s.reward_length_mean);
  if (s.args.expected_total() > 0) {
    std::string types;
    for_each_arg_type(s.args, [&](reward::ArgType t, int64_t expected) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s%s %.4f of %lld", types.empty() ? "" : ", ", reward::arg_type_name(t),
                    s.args.accuracy(t), static_cast<long long>(expected));
      types += buf;
    });
    std::printf(
        "  argument values      %.4f of %lld in calls with the right names (%s); %lld missing, %lld extra\n",
        s.args.accuracy(), static_cast<long long>(s.args.expected_total()), types.c_str(),
        static_cast<long long>(s.args.missing), static_cast<long long>(s.args.extra));
  }
  if (s.samples_per_row > 1)
    std::printf(
        "  pass@%lld exact call   %.4f (%.4f of the rows with calls): a row counts when any of its outputs "
        "is exact\n",
        static_cast<long long>(s.samples_per_row), s.pass_exact, s.pass_call_rows_exact);
  return 0;
}

}  // namespace toolgrpo::app
