// toolgrpo score: scores JSON Lines rows ({output | solution_str, ground_truth, [step], [variant]}) with the
// ToolRL reward through the Kokkos batch scorer; writes one result row per input row and prints a summary.
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "io/atomic_file.hpp"
#include "io/line_reader.hpp"
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
  std::size_t chunk_rows = 8192;
  bool exact_reader = false;  // --reader exact: every line through the Python-exact parser
};

// One input row, validated; its text fields point into the chunk's arena.
struct Row {
  std::string_view output;  // extracted output
  std::string_view ground_truth;
  int64_t step = 0;
  std::string variant;
  std::string error;  // per-row reference error (reported in OUT, not fatal)
};

// simdjson's nesting limit: deeper lines go to the Python-exact parser, which applies Python's limit.
constexpr std::size_t kFastMaxDepth = 64;
static_assert(io::LineReader::kPadding >= simdjson::SIMDJSON_PADDING, "simdjson reads past a line's end");

bool next_block(io::LineReader& in, std::string_view& block) {
  try {
    return in.next_block(block);
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string("score: ") + e.what());
  }
}

[[noreturn]] void bad_row(const std::string& file, std::size_t line, const std::string& what) {
  throw UsageError(file + ":" + std::to_string(line) + ": " + what);
}

// The fields of an input row that score reads, as either JSON parser found them (the last of duplicate keys).
struct Field {
  enum Kind : uint8_t { Missing, String, Int, Other } kind = Missing;
  std::string_view text;  // String
  int64_t i = 0;          // Int
};
struct RowFields {
  bool object = true;
  Field output, ground_truth, step, variant, solution_str, experiment_name;
};
// The keys score reads, and where each goes.
constexpr std::pair<std::string_view, Field RowFields::*> kRowKeys[] = {
    {"output", &RowFields::output},
    {"ground_truth", &RowFields::ground_truth},
    {"step", &RowFields::step},
    {"variant", &RowFields::variant},
    {"solution_str", &RowFields::solution_str},
    {"experiment_name", &RowFields::experiment_name}};

Field* field_slot(RowFields& f, std::string_view key) {
  for (const auto& [name, member] : kRowKeys)
    if (name == key) return &(f.*member);
  return nullptr;
}

// Python-exact path (the reward's own parser): any line the fast path does not take.
RowFields fields_of(const reward::Value& json) {
  RowFields f;
  f.object = json.is_object();
  if (!f.object) return f;
  for (const auto& [key, member] : kRowKeys) {
    const reward::Value* v = json.find(key);
    if (v == nullptr) continue;
    Field& field = f.*member;
    if (v->is_string())
      field = Field{Field::String, v->string(), 0};
    else if (v->kind == reward::JsonKind::Int)
      field = Field{Field::Int, {}, v->u.i};
    else
      field.kind = Field::Other;
  }
  return f;
}

// Fast path: simdjson's DOM parser (strict RFC 8259, UTF-8 validated). It takes the lines on which it agrees
// with Python's json.loads by construction; it refuses (returns false) whatever Python might read differently
// (NaN and Infinity, integers beyond 64 bits, nesting deeper than its limit, invalid UTF-8, lone surrogates),
// and those lines go to the Python-exact parser, which also words every error.
bool fields_fast(simdjson::dom::parser& parser, std::string_view line, RowFields& f) {
  simdjson::dom::element doc;
  if (parser.parse(line.data(), line.size(), false).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    f.object = false;
    return true;
  }
  for (const auto field : obj) {
    Field* slot = field_slot(f, field.key);
    if (slot == nullptr) continue;
    switch (field.value.type()) {
      case simdjson::dom::element_type::STRING:
        *slot = Field{Field::String, field.value.get_string().value_unsafe(), 0};
        break;
      case simdjson::dom::element_type::INT64:
        *slot = Field{Field::Int, {}, field.value.get_int64().value_unsafe()};
        break;
      case simdjson::dom::element_type::UINT64:
        return false;  // a Python int beyond int64: let the exact parser say what it is
      default:
        *slot = Field{Field::Other, {}, 0};
    }
  }
  return true;
}

std::string_view require_string(const Field& f, const char* key, const std::string& file, std::size_t line) {
  if (f.kind == Field::Missing) bad_row(file, line, std::string("missing field \"") + key + "\"");
  if (f.kind != Field::String) bad_row(file, line, std::string("field \"") + key + "\" must be a string");
  return f.text;
}

// The row's text fields are copied into `arena` (they outlive the parser's buffers until the chunk is
// scored).
Row read_row(const RowFields& f, const ScoreOptions& opt, std::size_t line, reward::Arena& arena) {
  const auto keep = [&](std::string_view s) {
    char* p = arena.allocate_array<char>(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return std::string_view(p, s.size());
  };
  if (!f.object) bad_row(opt.data, line, "expected a JSON object");
  Row row;
  row.ground_truth = keep(require_string(f.ground_truth, "ground_truth", opt.data, line));
  row.step = opt.step;
  if (f.step.kind != Field::Missing) {
    if (f.step.kind != Field::Int) bad_row(opt.data, line, "field \"step\" must be an integer");
    row.step = f.step.i;
  }
  row.variant = opt.variant;
  if (f.variant.kind != Field::Missing)
    row.variant = std::string(require_string(f.variant, "variant", opt.data, line));
  if (f.output.kind != Field::Missing) {
    row.output = keep(require_string(f.output, "output", opt.data, line));
    return row;
  }
  if (f.solution_str.kind == Field::Missing)
    bad_row(opt.data, line, "missing field \"output\" (or \"solution_str\" with a chat template)");
  const std::string_view solution = keep(require_string(f.solution_str, "solution_str", opt.data, line));
  std::optional<reward::ChatTemplate> tmpl = opt.chat_template;
  if (f.experiment_name.kind != Field::Missing) {
    const std::string_view name = require_string(f.experiment_name, "experiment_name", opt.data, line);
    try {
      tmpl = reward::chat_template_from_experiment(name);
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
  std::size_t exact_rows = 0;  // lines the fast parser left to the Python-exact one
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
  out += "{\"format\": ";
  reward::py_float_repr_append(out, s.format);
  out += ", \"correctness\": ";
  reward::py_float_repr_append(out, s.correctness);
  out += ", \"length\": ";
  reward::py_float_repr_append(out, s.length);
  out += ", \"total\": ";
  reward::py_float_repr_append(out, s.total);
  out += "}\n";
}

// A hash of a long string from its length and 16 words spread over it: ground truths of a chunk are told
// apart without reading each one whole (equal hashes are settled by comparing the strings).
struct SampledHash {
  std::size_t operator()(std::string_view s) const noexcept {
    if (s.size() <= 256) return std::hash<std::string_view>()(s);
    uint64_t h = s.size() * 0x9E3779B97F4A7C15ull;
    const std::size_t stride = (s.size() - 8) / 15;
    for (std::size_t k = 0; k < 16; ++k) {
      uint64_t w;
      std::memcpy(&w, s.data() + std::min(k * stride, s.size() - 8), 8);
      h = (h ^ w) * 0xFF51AFD7ED558CCDull;
      h ^= h >> 33;
    }
    return static_cast<std::size_t>(h);
  }
};

// Scores one chunk of rows: ground truths prepared once each, one batch call per variant.
void score_chunk(const std::vector<Row>& rows, std::string& out, Totals& totals, const ScoreOptions& opt,
                 std::size_t first_line) {
  std::unordered_map<std::string_view, int32_t, SampledHash> gt_ids;
  std::vector<GroundTruth> gts;
  std::vector<int32_t> gt_of(rows.size(), -1);
  std::map<std::string, std::vector<std::size_t>> by_variant;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].error.empty()) continue;
    const auto [it, added] = gt_ids.emplace(rows[i].ground_truth, static_cast<int32_t>(gts.size()));
    if (added) gts.emplace_back(std::string(rows[i].ground_truth));
    gt_of[i] = it->second;
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
    in.outputs.reserve(idx.size());
    in.gt_index.reserve(idx.size());
    in.steps.reserve(idx.size());
    for (std::size_t i : idx) {
      in.outputs.push_back(rows[i].output);
      in.gt_index.push_back(gt_of[i]);
      in.steps.push_back(rows[i].step);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<RewardScores> r = reward::score_batch(in, gts, cfg);
    totals.score_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t k = 0; k < idx.size(); ++k) scores[idx[k]] = r[k];
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string& error = rows[i].error.empty() && !scores[i].ok
                                   ? gts[static_cast<std::size_t>(gt_of[i])].error()
                                   : rows[i].error;
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
      "score --data IN.jsonl [--out OUT.jsonl] [--variant NAME] [--step N] [--template qwen|llama] "
      "[--chunk-rows N] "
      "[--reader fast|exact]",
      "Scores JSON Lines rows {output | solution_str, ground_truth, [step], [variant]} with the ToolRL "
      "reward "
      "(format, correctness, length and total, with the reference implementation's semantics) in the Kokkos "
      "batch scorer, writes one result row per input row and prints the mean of each component. A malformed "
      "row stops the run with FILE:LINE and exit code 2, and leaves no output file.",
      {{"--data", "IN.jsonl", "the rows to score (required)"},
       {"--out", "OUT.jsonl", "where to write {format, correctness, length, total} or {error} per row"},
       {"--variant", "NAME", "reward variant for rows without a \"variant\" field (default: default)"},
       {"--step", "N", "step for rows without a \"step\" field (step-dependent variants; default 0)"},
       {"--template", "qwen|llama", "extracts the answer of solution_str rows without experiment_name"},
       {"--chunk-rows", "N", "rows read and scored per batch (default 8192)"},
       {"--reader", "fast|exact",
        "fast (default): simdjson reads the lines, and any line it cannot read as Python would goes to the "
        "reward's Python-exact JSON parser; exact: that parser reads every line (slower; the same results)"}},
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
  if (cli.has("--reader")) {
    const std::string r = cli.get("--reader");
    if (r != "fast" && r != "exact")
      throw UsageError("score: --reader must be fast or exact, got '" + r + "'");
    opt.exact_reader = r == "exact";
  }
  if (cli.has("--template")) {
    const std::string t = cli.get("--template");
    if (t == "qwen") opt.chat_template = reward::ChatTemplate::Qwen;
    else if (t == "llama") opt.chat_template = reward::ChatTemplate::Llama;
    else throw UsageError("score: --template must be qwen or llama, got '" + t + "'");
  }
  return opt;
}

// One thread's reading state: the fast parser, the Python-exact one, and an arena for the text of its rows.
struct ReadScratch {
  simdjson::dom::parser fast;
  reward::JsonParser exact;
  reward::Arena arena{std::size_t{16} << 20};
  ReadScratch() {
    if (fast.allocate(1 << 20, kFastMaxDepth) != simdjson::SUCCESS) throw std::bad_alloc();
  }
};

Row read_line(std::string_view line, std::size_t line_no, const ScoreOptions& opt, ReadScratch& s,
              bool& exact) {
  if (reward::py_strip(line).empty()) bad_row(opt.data, line_no, "empty line (expected a JSON object)");
  RowFields fields;
  exact = opt.exact_reader || !fields_fast(s.fast, line, fields);
  if (exact) {
    fields = RowFields{};
    reward::JsonError err;
    const reward::Value* v = s.exact.parse_borrowed(line, s.arena, &err);
    if (v == nullptr)
      bad_row(opt.data, line_no,
              "invalid JSON (" + err.message + " at byte " + std::to_string(err.offset) + ")");
    fields = fields_of(*v);
  }
  return read_row(fields, opt, line_no, s.arena);
}

// Reads `lines` (numbered from first_line) into `rows`, in order, on every thread of the Kokkos host space. A
// bad line stops the run with the error of the first bad line in file order, as a line-by-line reader would.
void read_rows(const std::vector<std::string_view>& lines, std::size_t first_line, const ScoreOptions& opt,
               std::vector<ReadScratch>& scratch, std::vector<Row>& rows, Totals& totals) {
  const std::size_t n = lines.size();
  rows.assign(n, Row{});
  std::vector<uint8_t> exact(n, 0);
  std::vector<std::exception_ptr> failed(n);
  reward::parallel_rollouts(n, [&](const std::size_t i, const int thread) {
    try {
      bool e = false;
      rows[i] = read_line(lines[i], first_line + i, opt, scratch[static_cast<std::size_t>(thread)], e);
      exact[i] = e;
    } catch (...) {
      failed[i] = std::current_exception();
    }
  });
  for (std::size_t i = 0; i < n; ++i) {
    if (failed[i]) std::rethrow_exception(failed[i]);
    totals.exact_rows += exact[i];
  }
}

}  // namespace

int cmd_score(parallel::Runtime&, const std::vector<std::string>& args) {
  const ScoreOptions opt = parse_options(args);
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<io::LineReader> in;
  try {
    in = std::make_unique<io::LineReader>(opt.data);
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string("score: ") + e.what());
  }
  std::unique_ptr<io::AtomicFile> out;
  if (!opt.out.empty()) out = std::make_unique<io::AtomicFile>(opt.out);

  Totals totals;
  std::vector<ReadScratch> scratch(static_cast<std::size_t>(reward::host_threads()));
  std::string results;
  std::vector<std::string_view> lines;
  std::vector<Row> rows;
  std::size_t line_no = 0;  // of the last line taken
  std::string_view block;
  // Blocks of whole lines; each block is cut into chunks of at most chunk_rows rows, read in parallel and
  // scored.
  while (next_block(*in, block)) {
    std::size_t pos = 0;
    while (pos < block.size()) {
      lines.clear();
      while (lines.size() < opt.chunk_rows && pos < block.size()) {
        const void* nl = std::memchr(block.data() + pos, '\n', block.size() - pos);
        const std::size_t end =
            nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - block.data()) : block.size();
        lines.push_back(block.substr(pos, end - pos));
        pos = end + 1;
      }
      for (ReadScratch& s : scratch) s.arena.reset();
      const std::size_t first_line = line_no + 1;
      read_rows(lines, first_line, opt, scratch, rows, totals);
      line_no += lines.size();
      results.clear();
      score_chunk(rows, results, totals, opt, first_line);
      if (out) out->write(results);
    }
  }
  if (out) out->commit();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::size_t scored = totals.rows - totals.errors;
  const double n = scored ? static_cast<double>(scored) : 1.0;
  std::printf("score: %zu rows from %s (%zu scored, %zu errors; %zu read by the Python-exact JSON parser)\n",
              totals.rows, opt.data.c_str(), scored, totals.errors, totals.exact_rows);
  std::printf("score: mean format %.6f  correctness %.6f  length %.6f  total %.6f\n", totals.format / n,
              totals.correctness / n, totals.length / n, totals.total / n);
  std::printf("score: %.0f scores/s in the scorer (%.3f s, %d threads), %.0f rows/s wall (%.3f s)%s%s\n",
              totals.score_seconds > 0 ? static_cast<double>(scored) / totals.score_seconds : 0.0,
              totals.score_seconds, reward::host_threads(),
              wall > 0 ? static_cast<double>(totals.rows) / wall : 0.0, wall,
              opt.out.empty() ? "" : ", results in ", opt.out.c_str());
  return 0;
}

}  // namespace toolgrpo::app
