// toolgrpo eval-table --column NAME=FILE[,FILE...] ... [--diff A-B ...]: exact-call accuracy of several
// configurations, each evaluated once per training seed on the same rows (the --out files of `toolgrpo
// eval`), with two-level bootstrap intervals (app/report/eval_table_stats.hpp) for each column and for paired
// differences.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "app/report/eval_table.hpp"
#include "app/report/eval_table_stats.hpp"
#include "io/atomic_file.hpp"
#include "io/line_reader.hpp"
#include "reward/json.hpp"
#include "reward/pystr.hpp"

namespace toolgrpo::app {
namespace {

using reward::py_float_repr;

// One --out file of `toolgrpo eval`: its rows in the order of their first line, each row's outcome per
// sample.
struct EvalFile {
  std::string path;
  std::vector<std::string> ids;
  std::vector<std::size_t> first_line;   // the line of each row's first output
  std::vector<std::vector<bool>> exact;  // [row][sample]: exact_call (toolrl, apibank) or valid (bfcl)
  std::size_t samples = 0;               // outputs per row (the same for every row)
};

EvalFile file_load(const std::string& path) {
  std::unique_ptr<io::LineReader> in;
  try {
    in = std::make_unique<io::LineReader>(path);
  } catch (const std::runtime_error&) {
    throw UsageError("eval-table: cannot read " + path + ": " + std::strerror(errno));
  }
  EvalFile f;
  f.path = path;
  std::map<std::string, std::size_t> row_of;
  std::map<std::pair<std::size_t, int64_t>, std::size_t> seen;  // (row, sample) -> line
  std::vector<std::map<int64_t, bool>> by_sample;
  reward::JsonParser parser;
  reward::Arena arena(1 << 16);
  std::string_view line;
  try {
    while (in->next(line)) {
      const std::size_t n = in->line_number();
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      const auto bad = [&](const std::string& what) {
        throw UsageError("eval-table: " + path + ":" + std::to_string(n) + ": " + what);
      };
      arena.reset();
      reward::JsonError err;
      const reward::Value* v = parser.parse(line, arena, &err);
      if (v == nullptr) bad("not JSON (" + err.message + " at byte " + std::to_string(err.offset) + ")");
      if (!v->is_object()) bad("expected a JSON object (a line of 'toolgrpo eval --out')");
      const reward::Value* id = v->find("id");
      if (id == nullptr || !(id->is_string() || id->kind == reward::JsonKind::Int))
        bad("field \"id\" must be a string or an integer");
      const reward::Value* ok = v->find("exact_call");
      if (ok == nullptr) ok = v->find("valid");
      if (ok == nullptr || ok->kind != reward::JsonKind::Bool)
        bad("expected a boolean \"exact_call\" (or \"valid\" for BFCL), as 'toolgrpo eval --out' writes");
      int64_t sample = 0;
      if (const reward::Value* s = v->find("sample"); s != nullptr) {
        if (s->kind != reward::JsonKind::Int || s->u.i < 0) bad("field \"sample\" must be an integer >= 0");
        sample = s->u.i;
      }
      const std::string key = id->is_string() ? std::string(id->string()) : std::to_string(id->u.i);
      auto r = row_of.find(key);
      if (r == row_of.end()) {
        r = row_of.emplace(key, f.ids.size()).first;
        f.ids.push_back(key);
        f.first_line.push_back(n);
        by_sample.emplace_back();
      }
      const auto [it, fresh] = seen.emplace(std::make_pair(r->second, sample), n);
      if (!fresh)
        bad("id \"" + key + "\" sample " + std::to_string(sample) + " appears again (first on line " +
            std::to_string(it->second) + ")");
      by_sample[r->second][sample] = ok->flag;
    }
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const UsageError*>(&e) != nullptr) throw;
    throw UsageError("eval-table: " + std::string(e.what()));
  }
  if (f.ids.empty()) throw UsageError("eval-table: " + path + " holds no outputs");
  f.samples = by_sample[0].size();
  for (std::size_t r = 0; r < f.ids.size(); ++r) {
    if (by_sample[r].size() != f.samples)
      throw UsageError("eval-table: " + path + ":" + std::to_string(f.first_line[r]) + ": id \"" + f.ids[r] +
                       "\" has " + std::to_string(by_sample[r].size()) + " outputs, id \"" + f.ids[0] +
                       "\" has " + std::to_string(f.samples) + " (every row needs the same --samples)");
    std::vector<bool> outcomes;
    for (const auto& [sample, ok] : by_sample[r]) outcomes.push_back(ok);
    f.exact.push_back(std::move(outcomes));
  }
  return f;
}

struct Column {
  std::string name;
  std::vector<EvalFile> files;    // one per seed
  SeedRows mean_at_k, pass_at_k;  // per seed and row: share of exact samples; 1 when any sample is exact
  std::size_t samples() const { return files[0].samples; }
};

Column column_parse(const std::string& spec) {
  const std::size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw UsageError("eval-table: --column " + spec + ": expected NAME=FILE[,FILE...]");
  Column c;
  c.name = spec.substr(0, eq);
  const std::string files = spec.substr(eq + 1);
  for (std::size_t p = 0; p <= files.size();) {
    std::size_t q = files.find(',', p);
    if (q == std::string::npos) q = files.size();
    if (q == p) throw UsageError("eval-table: --column " + spec + ": an empty file name");
    c.files.push_back(file_load(files.substr(p, q - p)));
    p = q + 1;
  }
  for (const EvalFile& f : c.files) {
    if (f.samples != c.files[0].samples)
      throw UsageError("eval-table: column " + c.name + ": " + f.path + " has " + std::to_string(f.samples) +
                       " outputs per row, " + c.files[0].path + " has " + std::to_string(c.files[0].samples) +
                       " (the seeds of a column need the same --samples)");
    std::vector<double> mean, pass;
    for (const std::vector<bool>& row : f.exact) {
      std::size_t hits = 0;
      for (bool ok : row) hits += ok;
      mean.push_back(static_cast<double>(hits) / static_cast<double>(row.size()));
      pass.push_back(hits > 0 ? 1.0 : 0.0);
    }
    c.mean_at_k.push_back(std::move(mean));
    c.pass_at_k.push_back(std::move(pass));
  }
  return c;
}

// Every file holds the rows of the first file, in its order.
void rows_check(const std::vector<Column>& columns) {
  const EvalFile& ref = columns[0].files[0];
  for (const Column& c : columns)
    for (const EvalFile& f : c.files) {
      if (f.ids.size() != ref.ids.size())
        throw UsageError("eval-table: " + f.path + " has " + std::to_string(f.ids.size()) + " rows, " +
                         ref.path + " has " + std::to_string(ref.ids.size()) +
                         " (every file must hold the same rows in the same order)");
      for (std::size_t r = 0; r < f.ids.size(); ++r)
        if (f.ids[r] != ref.ids[r])
          throw UsageError("eval-table: " + f.path + ":" + std::to_string(f.first_line[r]) + ": row " +
                           std::to_string(r + 1) + " is id \"" + f.ids[r] + "\", in " + ref.path +
                           " it is \"" + ref.ids[r] +
                           "\" (every file must hold the same rows in the same order)");
    }
}

struct Diff {
  std::string name;
  const Column *a, *b;
};

// "A-B" naming two columns; names may themselves hold '-', so every split point is tried.
Diff diff_parse(const std::string& spec, const std::vector<Column>& columns) {
  const auto find = [&](const std::string& name) -> const Column* {
    for (const Column& c : columns)
      if (c.name == name) return &c;
    return nullptr;
  };
  std::vector<Diff> found;
  for (std::size_t p = spec.find('-'); p != std::string::npos; p = spec.find('-', p + 1)) {
    const Column* a = find(spec.substr(0, p));
    const Column* b = find(spec.substr(p + 1));
    if (a != nullptr && b != nullptr) found.push_back({spec, a, b});
  }
  if (found.size() != 1)
    throw UsageError("eval-table: --diff " + spec + ": expected A-B naming two --column names" +
                     (found.empty() ? "" : " (it splits into columns in more than one way)"));
  const Diff& d = found[0];
  if (d.a->files.size() != d.b->files.size() && d.a->files.size() != 1 && d.b->files.size() != 1)
    throw UsageError(
        "eval-table: --diff " + spec + ": " + d.a->name + " has " + std::to_string(d.a->files.size()) +
        " seeds and " + d.b->name + " has " + std::to_string(d.b->files.size()) +
        "; a paired difference needs the same seeds (in the same order), or one column with one file");
  return d;
}

std::string signed3(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.3f", x == 0 ? 0.0 : x);  // no "-0.000"
  return buf;
}

std::string interval3(const Estimate& e, bool sign) {
  char buf[96];
  if (sign) return signed3(e.mean) + " [" + signed3(e.lo) + ", " + signed3(e.hi) + "]";
  std::snprintf(buf, sizeof buf, "%.3f [%.3f, %.3f]", e.mean, e.lo, e.hi);
  return buf;
}

bool excludes_zero(const Estimate& e) {
  return e.lo > 0 || e.hi < 0;
}

// "GRPO is above before: interval [+0.030, +0.110] excludes 0".
std::string verdict(const Diff& d, const Estimate& e, double level) {
  const std::string where = e.mean > 0 ? " is above " : e.mean < 0 ? " is below " : " equals ";
  const std::string interval = "[" + signed3(e.lo) + ", " + signed3(e.hi) + "]";
  char pct[16];
  std::snprintf(pct, sizeof pct, "%g%%", level * 100);
  char by[32];
  std::snprintf(by, sizeof by, "%.3f", e.mean < 0 ? -e.mean : e.mean);
  return d.a->name + where + d.b->name + (e.mean == 0 ? "" : std::string(" by ") + by) + ": the " + pct +
         " interval " + interval + (excludes_zero(e) ? " excludes 0" : " does not exclude 0");
}

std::string estimate_json(const Estimate& e) {
  return "{\"mean\": " + py_float_repr(e.mean) + ", \"lo\": " + py_float_repr(e.lo) +
         ", \"hi\": " + py_float_repr(e.hi) + "}";
}

std::string diff_estimate_json(const Estimate& e) {
  return estimate_json(e).substr(0, estimate_json(e).size() - 1) +
         ", \"excludes_zero\": " + (excludes_zero(e) ? "true" : "false") + "}";
}

std::string names_json(const std::vector<std::string>& names) {
  std::string j = "[";
  for (const std::string& s : names) {
    if (j.size() > 1) j += ", ";
    reward::json_append_string(j, s);
  }
  return j + "]";
}

}  // namespace

int cmd_eval_table(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "eval-table",
      "eval-table --column NAME=FILE[,FILE...] [--column ...] [--diff A-B ...] [--resamples B] [--level L] "
      "[--seed S] [--json OUT.json]",
      "Tables exact-call accuracy with its uncertainty over training seeds and evaluation rows. Each "
      "--column is "
      "one configuration (e.g. before, GRPO, an SFT control) with one per-example file of 'toolgrpo eval "
      "--out' "
      "per training seed; every file must hold the same rows in the same order. A row's score is its exact "
      "call (BFCL: valid), or with 'eval --samples K' the share of its K samples that are exact; a column's "
      "estimate is the mean over its seeds of the mean over rows. The interval is a two-level bootstrap: "
      "each "
      "resample draws the seeds with replacement, then the rows with replacement within each drawn seed; the "
      "interval is the percentile interval of the resampled means. A --diff A-B draws the same seeds and "
      "rows "
      "for both columns (paired) and says whether its interval excludes 0. With K > 1 samples the table adds "
      "pass@K (a row counts when any of its samples is exact). The resamples come from --seed: the same "
      "input "
      "gives the same table on every machine.",
      {{"--column", "NAME=FILE[,FILE...]",
        "a column: its name and one eval --out file per seed (repeatable)"},
       {"--diff", "A-B", "the paired difference of columns A and B (repeatable)"},
       {"--resamples", "B", "bootstrap resamples (default 4000)"},
       {"--level", "L", "the intervals' coverage (default 0.95)"},
       {"--seed", "S", "the resampling generator's seed (default 20240)"},
       {"--json", "OUT.json", "also write the table as JSON"}},
      {},
      "Columns compared by --diff need the same number of seeds, paired in the order given (seed i of A with "
      "seed i of B), or one of them a single file (a baseline shared by every seed). A file that cannot be "
      "read, a line that is not an eval --out line, or files with different rows name the file and line and "
      "exit 2."};
  // --column and --diff repeat; CliArgs keeps one value per option, so they are collected here first.
  std::vector<std::string> column_specs, diff_specs, rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    bool taken = false;
    for (const auto& [option, into] :
         {std::pair<const char*, std::vector<std::string>*>{"--column", &column_specs},
          {"--diff", &diff_specs}}) {
      const std::string o = option;
      if (args[i] == o) {
        if (i + 1 >= args.size()) throw UsageError("eval-table: option " + o + " needs a value");
        into->push_back(args[++i]);
        taken = true;
      } else if (args[i].rfind(o + "=", 0) == 0) {
        into->push_back(args[i].substr(o.size() + 1));
        taken = true;
      }
    }
    if (!taken) rest.push_back(args[i]);
  }
  const CliArgs cli(rest, spec);
  if (column_specs.empty())
    throw UsageError("eval-table: at least one --column NAME=FILE[,FILE...] is required");
  BootstrapOptions opt;
  if (cli.has("--resamples")) opt.resamples = static_cast<std::size_t>(cli.get_int("--resamples", 1));
  if (cli.has("--level")) opt.level = cli.get_double("--level");
  if (!(opt.level > 0 && opt.level < 1)) throw UsageError("eval-table: --level must be between 0 and 1");
  if (cli.has("--seed")) opt.seed = static_cast<uint64_t>(cli.get_int("--seed", 0));
  if (rt.rank() != 0) return 0;

  std::vector<Column> columns;
  for (const std::string& s : column_specs) {
    columns.push_back(column_parse(s));
    for (std::size_t k = 0; k + 1 < columns.size(); ++k)
      if (columns[k].name == columns.back().name)
        throw UsageError("eval-table: two columns are named " + columns.back().name);
  }
  rows_check(columns);
  std::vector<Diff> diffs;
  for (const std::string& s : diff_specs) diffs.push_back(diff_parse(s, columns));

  const std::size_t rows = columns[0].files[0].ids.size();
  char pct[16];
  std::snprintf(pct, sizeof pct, "%g%%", opt.level * 100);
  std::printf(
      "eval-table: %zu rows; %s intervals from %zu two-level bootstrap resamples (seeds, then rows "
      "within each seed; seed %llu)\n",
      rows, pct, opt.resamples, static_cast<unsigned long long>(opt.seed));
  bool any_k = false;
  for (const Column& c : columns) any_k = any_k || c.samples() > 1;
  std::size_t width = 6;
  for (const Column& c : columns) width = std::max(width, c.name.size());
  for (const Diff& d : diffs) width = std::max(width, d.name.size());
  // The pass@K column only when a column has K > 1 samples per row (no trailing blanks otherwise).
  std::printf("%-*s  seeds  samples  %-*s%s\n", static_cast<int>(width), "column", any_k ? 26 : 0,
              any_k ? "exact call (mean of K)" : "exact call", any_k ? "  pass@K" : "");
  std::string json = "{\"rows\": " + std::to_string(rows) +
                     ", \"resamples\": " + std::to_string(opt.resamples) +
                     ", \"level\": " + py_float_repr(opt.level) + ", \"seed\": " + std::to_string(opt.seed) +
                     ", \"columns\": [";
  for (std::size_t k = 0; k < columns.size(); ++k) {
    const Column& c = columns[k];
    const Estimate mean = bootstrap_mean(c.mean_at_k, opt);
    std::optional<Estimate> pass;
    if (c.samples() > 1) pass = bootstrap_mean(c.pass_at_k, opt);
    std::printf("%-*s  %5zu  %7zu  %-*s%s\n", static_cast<int>(width), c.name.c_str(), c.files.size(),
                c.samples(), any_k ? 26 : 0, interval3(mean, false).c_str(),
                any_k ? ("  " + (pass ? interval3(*pass, false) : std::string("-"))).c_str() : "");
    std::vector<std::string> paths;
    std::string per_seed = "[";
    for (std::size_t s = 0; s < c.files.size(); ++s) {
      paths.push_back(c.files[s].path);
      double sum = 0;
      for (double v : c.mean_at_k[s]) sum += v;
      per_seed += (s ? ", " : "") + py_float_repr(sum / static_cast<double>(rows));
    }
    if (k) json += ", ";
    json += "{\"name\": ";
    reward::json_append_string(json, c.name);
    json += ", \"files\": " + names_json(paths) + ", \"seeds\": " + std::to_string(c.files.size()) +
            ", \"samples_per_row\": " + std::to_string(c.samples()) +
            ", \"exact_call\": " + estimate_json(mean) + ", \"exact_call_per_seed\": " + per_seed + "]" +
            ", \"pass_at_k\": " + (pass ? estimate_json(*pass) : "null") + "}";
  }
  json += "], \"differences\": [";
  if (!diffs.empty()) std::printf("\npaired differences (the same seeds and rows drawn for both columns)\n");
  for (std::size_t k = 0; k < diffs.size(); ++k) {
    const Diff& d = diffs[k];
    const Estimate e = bootstrap_difference(d.a->mean_at_k, d.b->mean_at_k, opt);
    std::optional<Estimate> pass;
    if (d.a->samples() > 1 && d.a->samples() == d.b->samples())
      pass = bootstrap_difference(d.a->pass_at_k, d.b->pass_at_k, opt);
    std::printf("%-*s  exact call %s\n", static_cast<int>(width), d.name.c_str(), interval3(e, true).c_str());
    std::printf("%-*s    %s\n", static_cast<int>(width), "", verdict(d, e, opt.level).c_str());
    if (pass) {
      std::printf("%-*s  pass@%zu     %s\n", static_cast<int>(width), d.name.c_str(), d.a->samples(),
                  interval3(*pass, true).c_str());
      std::printf("%-*s    %s\n", static_cast<int>(width), "", verdict(d, *pass, opt.level).c_str());
    }
    if (k) json += ", ";
    json += "{\"name\": ";
    reward::json_append_string(json, d.name);
    json += ", \"a\": ";
    reward::json_append_string(json, d.a->name);
    json += ", \"b\": ";
    reward::json_append_string(json, d.b->name);
    json += ", \"exact_call\": " + diff_estimate_json(e) +
            ", \"pass_at_k\": " + (pass ? diff_estimate_json(*pass) : "null") + "}";
  }
  json += "]}\n";
  if (cli.has("--json")) {
    io::AtomicFile f(cli.get("--json"));
    f.write(json);
    f.commit();
  }
  return 0;
}

}  // namespace toolgrpo::app
