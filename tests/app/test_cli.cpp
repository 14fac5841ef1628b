// The toolgrpo executable as a user runs it: help and dispatch, `score` on the reference fixtures, train and sft
// runs with their report (and `report` on its own), and every kind of bad input giving exit code 2, a message
// naming file and line, and no output file left behind.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <algorithm>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "reward/json.hpp"
#include "tests/app/cli_run.hpp"

namespace fs = std::filesystem;

namespace {

using namespace toolgrpo::testing;

TEST(Cli, HelpAndDispatch) {
  const RunResult help = run("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "score")) << help.out;
  EXPECT_FALSE(contains(help.out, "Kokkos")) << "--help belongs to toolgrpo, not Kokkos: " << help.out;
  const RunResult score_help = run("score --help");
  EXPECT_EQ(score_help.code, 0);
  EXPECT_TRUE(contains(score_help.out, "--data")) << score_help.out;
  const RunResult bad = run("frobnicate");
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.out, "unknown command 'frobnicate'")) << bad.out;
  const RunResult v = run("version");
  EXPECT_EQ(v.code, 0);
  EXPECT_TRUE(contains(v.out, "libtorch")) << v.out;
  EXPECT_TRUE(contains(v.out, "BLAS: ")) << v.out;
  const RunResult core = run("version --blas-coretype");
  EXPECT_EQ(core.code, 0);
  const std::string value = core.out.substr(0, core.out.find('\n'));
  EXPECT_TRUE(value.empty() || value == "SkylakeX" || value == "Haswell" || value == "Zen") << core.out;
  // --kokkos-* options go to Kokkos and are taken out of the command's arguments.
  EXPECT_EQ(run("version --kokkos-disable-warnings").code, 0);
}

TEST(CliScore, ReferenceFixtureRowsRoundTrip) {
  const fs::path out = scratch() / "default_scores.jsonl";
  const std::string in = shared() + "/reward_fixtures/default.jsonl";
  const RunResult r = run("score --data " + in + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "2039 rows")) << r.out;
  EXPECT_TRUE(contains(r.out, "scores/s")) << r.out;
  // Every OUT row equals the reference values of its input row, in order.
  const auto inputs = lines_of(in), outputs = lines_of(out);
  ASSERT_EQ(inputs.size(), outputs.size());
  toolgrpo::reward::JsonParser parser;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    toolgrpo::reward::Arena a;
    const auto* want = parser.parse(inputs[i], a);
    const auto* got = parser.parse(outputs[i], a);
    ASSERT_TRUE(want && got) << i;
    for (const char* k : {"format", "correctness", "length", "total"}) {
      const auto* w = want->find(k);
      const auto* g = got->find(k);
      ASSERT_TRUE(g != nullptr) << outputs[i];
      const double wv = w->kind == toolgrpo::reward::JsonKind::Float ? w->u.f : static_cast<double>(w->u.i);
      EXPECT_NEAR(g->u.f, wv, 1e-9) << "row " << i + 1 << " " << k;
    }
  }
}

TEST(CliScore, ExtractionRowsAndReferenceErrors) {
  const fs::path out = scratch() / "extraction_scores.jsonl";
  const RunResult r =
      run("score --data " + shared() + "/reward_fixtures/extraction.jsonl --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto rows = lines_of(out);
  ASSERT_EQ(rows.size(), 138u);
  int errors = 0;
  for (const auto& row : rows) errors += contains(row, "\"error\"");
  EXPECT_EQ(errors, 14);
  EXPECT_TRUE(contains(r.out, "14 errors")) << r.out;
}

TEST(CliScore, VariantAndStepOptionsApplyToRowsWithout) {
  const fs::path in = scratch() / "plain.jsonl";
  std::ofstream(in) << R"({"output": "<think> a b </think>\n<response>x</response>", )"
                    << R"("ground_truth": "<think> y </think>\n<response>z</response>"})"
                    << "\n";
  const fs::path out = scratch() / "plain_out.jsonl";
  const RunResult r =
      run("score --data " + in.string() + " --variant schedulereward --step 0 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  // SCHEDULEREWARD at step 0: format max 2.0; no tool call in the ground truth: correctness 0.0.
  EXPECT_EQ(lines_of(out).at(0), R"({"format": 2.0, "correctness": 0.0, "length": 0.0, "total": 2.0})");
}

void expect_bad_input(const std::string& content, const std::string& expect_in_message) {
  const fs::path dir = scratch();
  const fs::path in = dir / "bad.jsonl", out = dir / "bad_out.jsonl";
  std::ofstream(in) << content;
  std::ofstream(out) << "earlier result\n";
  const RunResult r = run("score --data " + in.string() + " --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(contains(r.out, expect_in_message)) << r.out;
  EXPECT_EQ(lines_of(out), std::vector<std::string>{"earlier result"}) << "earlier output must survive";
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_FALSE(contains(e.path().filename().string(), ".tmp.")) << "partial file left: " << e.path();
}

const std::string kGood = R"({"output": "<think> a </think>", "ground_truth": "<think> b </think>"})";

TEST(CliScore, BadInput) {
  expect_bad_input(kGood + "\n{\"output\": \"x\"}\n", "bad.jsonl:2: missing field \"ground_truth\"");
  expect_bad_input(kGood + "\n" + kGood + "\n{\"output\": \"x\", \n", "bad.jsonl:3: invalid JSON");
  expect_bad_input("{\"ground_truth\": \"g\"}\n", "bad.jsonl:1: missing field \"output\"");
  expect_bad_input("[1, 2]\n", "bad.jsonl:1: expected a JSON object");
  expect_bad_input(R"({"output": 5, "ground_truth": "g"})"
                   "\n",
                   "field \"output\" must be a string");
  expect_bad_input(R"({"output": "o", "ground_truth": "g", "step": "3"})"
                   "\n",
                   "field \"step\" must be an integer");
  expect_bad_input(R"({"output": "o", "ground_truth": "g", "variant": "nope"})"
                   "\n",
                   "unknown reward variant 'nope'");
  expect_bad_input(kGood + "\n\n", "bad.jsonl:2: empty line");
}

// Reads `content` with both readers; returns (code, message or output file) of each.
std::pair<std::string, std::string> score_both(const std::string& content, const std::string& name) {
  const fs::path in = scratch() / (name + ".jsonl");
  std::ofstream(in, std::ios::binary) << content;
  std::string seen[2];
  for (int k = 0; k < 2; ++k) {
    const fs::path out = scratch() / (name + (k ? "_exact" : "_fast") + ".jsonl");
    const RunResult r =
        run("score --data " + in.string() + " --out " + out.string() + (k ? " --reader exact" : ""));
    std::string text = std::to_string(r.code) + "\n";
    if (r.code == 0) {
      for (const auto& line : lines_of(out)) text += line + "\n";
    } else {
      text += r.out;
    }
    seen[k] = text;
  }
  return {seen[0], seen[1]};
}

// The fast reader (simdjson) gives the rows and FILE:LINE errors of the Python-exact one, line for line.
TEST(CliScore, FastReaderMatchesTheExactReader) {
  const std::string good = kGood + "\n";
  const std::string long_text(20u << 20, 'x');  // a 20 MB line
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"broken", good + "{\"output\": \"x\", \"ground_truth\": \n" + good},
      {"missing", good + "{\"output\": \"x\"}\n"},
      {"wrongtype", good + R"({"output": "o", "ground_truth": "g", "step": 1.0})"
                           "\n"},
      {"wrongtype2", good + R"({"output": "o", "ground_truth": "g", "step": true})"
                            "\n"},
      {"empty", good + "\n" + good},
      {"blank", good + " \t \n" + good},
      {"long", good + R"({"output": ")" + long_text +
                   R"(", "ground_truth": "<think> b </think>"})"
                   "\n" +
                   good},
      {"badutf8", good + "{\"output\": \"\xff\xfe <think>\", \"ground_truth\": \"g\"}\n" + good},
      {"surrogate", good + R"({"output": "\ud800 <think>", "ground_truth": "g"})"
                           "\n"},
      {"nan", R"({"output": "<think> a </think>", "ground_truth": "g", "extra": NaN})"
              "\n"},
      {"bigint", R"({"output": "o", "ground_truth": "g", "step": 123456789012345678901234567890})"
                 "\n"},
      {"uint64", R"({"output": "o", "ground_truth": "g", "step": 18446744073709551615})"
                 "\n"},
      {"duplicate", R"({"output": "first", "ground_truth": "g", "output": "<think> a </think>"})"
                    "\n"},
      {"escapedkey", R"({"out\u0070ut": "<think> a </think>", "ground_truth": "<think> a </think>"})"
                     "\n"},
      {"deep", R"({"output": "o", "ground_truth": "g", "x": )" + std::string(100, '[') +
                   std::string(100, ']') + "}\n"},
      {"crlf", kGood + "\r\n" + kGood + "\r\n"},
      {"nofinalnewline", good + kGood},
      {"trailing", kGood + " x\n"},
      {"twodocs", kGood + kGood + "\n"},
      {"scalar", "\"just a string\"\n"},
      {"controlchar", "{\"output\": \"a\tb\", \"ground_truth\": \"g\"}\n"},
  };
  for (const auto& [name, content] : cases) {
    const auto [fast, exact] = score_both(content, name);
    EXPECT_EQ(fast, exact) << name;
  }
  // Every reference fixture file: identical result files.
  for (const char* f : {"default.jsonl", "withlength.jsonl", "schedulereward.jsonl", "extraction.jsonl"}) {
    std::ifstream in(shared() + "/reward_fixtures/" + f, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const auto [fast, exact] = score_both(text.str(), std::string("fixture_") + f);
    EXPECT_EQ(fast.substr(0, 2), "0\n") << f;
    EXPECT_EQ(fast, exact) << f;
  }
}

TEST(CliScore, UnreadableFileAndBadOptions) {
  const RunResult missing = run("score --data /no/such/file.jsonl");
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(contains(missing.out, "/no/such/file.jsonl")) << missing.out;
  EXPECT_EQ(run("score").code, 2);
  const RunResult opt = run("score --data x --bogus");
  EXPECT_EQ(opt.code, 2);
  EXPECT_TRUE(contains(opt.out, "unknown option --bogus")) << opt.out;
  EXPECT_EQ(run("score --data x --step nine").code, 2);
  EXPECT_EQ(run("score --data x --variant withlenght").code, 2);
  EXPECT_EQ(run("score --data x --reader simd").code, 2);
}

}  // namespace

namespace {

TEST(CliEval, GroundTruthsAreExactAndBadInputWritesNothing) {
  // Outputs: the ground truths of the first 10 rows of toolrl/test.jsonl (each scores the reward's maximum
  // against itself and is exactly its own calls), and for rows 10-19 a plain answer.
  const fs::path dir = scratch() / "eval";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string data = shared() + "/toolrl/test.jsonl";
  std::ifstream in(data);
  std::ofstream outputs(dir / "outputs.jsonl");
  toolgrpo::reward::JsonParser parser;
  toolgrpo::reward::Arena arena(1 << 16);
  int expected_calls = 0, expected_exact = 0;
  std::string line;
  for (int i = 0; i < 20 && std::getline(in, line); ++i) {
    const toolgrpo::reward::Value* row = parser.parse(line, arena);
    ASSERT_NE(row, nullptr);
    const std::string gt(row->find("ground_truth")->string());
    const bool calls = gt.find("<tool_call>") != std::string::npos;
    std::string o = "{\"id\": ";
    toolgrpo::reward::json_append_string(o, std::string(row->find("id")->string()));
    o += ", \"output\": ";
    toolgrpo::reward::json_append_string(o, i < 10 ? gt : "<think>x</think>\n<response>I cannot help.</response>");
    outputs << o << "}\n";
    expected_calls += calls;
    expected_exact += i < 10 || !calls;
  }
  outputs.close();
  const RunResult r = run("eval --data " + data + " --outputs " + (dir / "outputs.jsonl").string() + " --out " +
                          (dir / "rows.jsonl").string() + " --summary " + (dir / "summary.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto rows = lines_of(dir / "rows.jsonl");
  ASSERT_EQ(rows.size(), 20u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(contains(rows[i], "\"exact_call\": true")) << rows[i];
    EXPECT_TRUE(contains(rows[i], "\"format_ok\": true")) << rows[i];
    EXPECT_TRUE(contains(rows[i], "\"error\": \"none\"")) << rows[i];
  }
  const auto summary = lines_of(dir / "summary.json");
  ASSERT_EQ(summary.size(), 1u);
  char want[64];
  std::snprintf(want, sizeof want, "\"exact_call_accuracy\": %.6g,", expected_exact / 20.0);
  EXPECT_TRUE(contains(summary[0], want)) << summary[0];
  EXPECT_TRUE(contains(summary[0], "\"n\": 20,")) << summary[0];
  EXPECT_TRUE(contains(summary[0], "\"call_rows\": " + std::to_string(expected_calls) + ",")) << summary[0];
  EXPECT_TRUE(contains(summary[0], "\"rows_without_output\": 60")) << summary[0];
  // Bad input: exit 2 naming the file and line, and neither output file is written.
  const auto bad = [&](const std::string& text, const std::string& message) {
    std::ofstream(dir / "bad.jsonl") << "{\"id\": \"rlla_test_00\", \"output\": \"x\"}\n" << text << "\n";
    const RunResult b = run("eval --data " + data + " --outputs " + (dir / "bad.jsonl").string() + " --out " +
                            (dir / "b_rows.jsonl").string() + " --summary " + (dir / "b_summary.json").string());
    EXPECT_EQ(b.code, 2) << b.out;
    EXPECT_TRUE(contains(b.out, (dir / "bad.jsonl").string() + ":2: " + message)) << b.out;
    EXPECT_FALSE(fs::exists(dir / "b_rows.jsonl"));
    EXPECT_FALSE(fs::exists(dir / "b_summary.json"));
  };
  bad("{\"id\": \"no_such_row\", \"output\": \"x\"}", "id \"no_such_row\" is not a row");
  bad("{\"id\": \"rlla_test_00\", \"output\": \"y\"}", "id \"rlla_test_00\" appears again");
  bad("{\"id\": \"rlla_test_01\", \"output\": ", "not JSON");
  bad("{\"id\": \"rlla_test_01\"}", "field \"output\" must be a string");
  // Rows without an id are named by their 0-based position, as a string or an integer.
  std::ofstream(dir / "noid.jsonl")
      << R"({"system": "s", "user": "u", "ground_truth": "<think>a</think>\n<response>A</response>"})" << "\n"
      << R"({"system": "s", "user": "u", "ground_truth": "<think>b</think>\n<response>B</response>"})" << "\n";
  std::ofstream(dir / "noid_out.jsonl") << R"({"id": 1, "output": "<think>x</think>\n<response>B</response>"})"
                                        << "\n" << R"({"id": "0", "output": "no format"})" << "\n";
  const RunResult noid = run("eval --data " + (dir / "noid.jsonl").string() + " --outputs " +
                             (dir / "noid_out.jsonl").string() + " --out " + (dir / "noid_rows.jsonl").string());
  ASSERT_EQ(noid.code, 0) << noid.out;
  const auto nr = lines_of(dir / "noid_rows.jsonl");
  ASSERT_EQ(nr.size(), 2u);
  EXPECT_TRUE(contains(nr[0], "\"id\": \"1\"") && contains(nr[0], "\"format_ok\": true")) << nr[0];
  EXPECT_TRUE(contains(nr[1], "\"id\": \"0\"") && contains(nr[1], "\"format_ok\": false")) << nr[1];
  const RunResult missing = run("eval --data " + data);
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(contains(missing.out, "--outputs")) << missing.out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CliEval, BfclQuestionsCheckedByAstRules) {
  const fs::path dir = scratch() / "eval_bfcl";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string area =
      R"({"name": "calc_area", "description": "Area of a triangle.", "parameters": {"type": "dict", "properties": )"
      R"({"base": {"type": "integer"}, "height": {"type": "integer"}, "unit": {"type": "string"}}, )"
      R"("required": ["base", "height"]}})";
  const std::string time = R"({"name": "get_time", "description": "Time in a zone.", "parameters": {"type": )"
                           R"("dict", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}})";
  const auto question = [](const std::string& id, const std::string& text, const std::string& fns) {
    return R"({"id": ")" + id + R"(", "question": [[{"role": "user", "content": ")" + text +
           R"("}]], "function": [)" + fns + "]}\n";
  };
  std::ofstream(dir / "q.jsonl") << question("simple_0", "Area for base 10, height 5?", area)
                                 << question("parallel_0", "Time in CET and UTC?", time)
                                 << question("multiple_0", "Time in Paris?", area + ", " + time)
                                 << question("irrelevance_0", "Tell me a joke.", time);
  std::ofstream(dir / "a.jsonl")
      << R"({"id": "parallel_0", "ground_truth": [{"get_time": {"tz": ["CET"]}}, {"get_time": {"tz": ["UTC"]}}]})"
      << "\n"
      << R"({"id": "simple_0", "ground_truth": [{"calc_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]})"
      << "\n"
      << R"({"id": "multiple_0", "ground_truth": [{"get_time": {"tz": ["Europe/Paris", "CET"]}}]})"
      << "\n"
      << R"({"id": "irrelevance_0", "ground_truth": []})"
      << "\n";
  const auto output = [](const std::string& id, const std::string& calls) {
    std::string o = R"({"id": ")" + id + R"(", "output": )";
    toolgrpo::reward::json_append_string(
        o, calls.empty() ? "<think>x</think>\n<response>No tool fits.</response>"
                         : "<think>x</think>\n<tool_call>\n" + calls + "\n</tool_call>");
    return o + "}\n";
  };
  std::ofstream(dir / "o.jsonl")
      << output("simple_0",
                R"({"name": "calc_area", "parameters": {"base": 10, "height": 5, "unit": "Units"}})")
      << output("parallel_0", R"({"name": "get_time", "parameters": {"tz": "UTC"}})"
                              "\n"
                              R"({"name": "get_time", "parameters": {"tz": "cet"}})")
      << output("multiple_0", R"({"name": "calc_area", "parameters": {"base": 1, "height": 1}})")
      << output("irrelevance_0", "");
  const std::string files =
      " --data " + (dir / "q.jsonl").string() + " --outputs " + (dir / "o.jsonl").string();
  const RunResult r =
      run("eval --format bfcl" + files + " --answers " + (dir / "a.jsonl").string() + " --out " +
          (dir / "rows.jsonl").string() + " --summary " + (dir / "summary.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto rows = lines_of(dir / "rows.jsonl");
  ASSERT_EQ(rows.size(), 4u);
  // simple_0: "Units" normalises to "units"; parallel_0: the calls in the other order; multiple_0: the wrong
  // function; irrelevance_0: no call where none is expected.
  EXPECT_TRUE(contains(rows[0], "\"valid\": true, \"error\": \"none\"")) << rows[0];
  EXPECT_TRUE(contains(rows[1], "\"valid\": true, \"error\": \"none\"")) << rows[1];
  EXPECT_TRUE(contains(rows[2], "\"valid\": false, \"error\": \"wrong_name\"")) << rows[2];
  EXPECT_TRUE(contains(rows[2], "\"format_ok\": true, \"parse\": \"ok\", \"expects_call\": true")) << rows[2];
  EXPECT_TRUE(contains(rows[3], "\"valid\": true, \"error\": \"none\"")) << rows[3];
  EXPECT_TRUE(contains(rows[3], "\"expects_call\": false")) << rows[3];
  const std::string summary = slurp(dir / "summary.json");
  // 3 of 4 valid; 2 of the 3 questions with calls; the 1 irrelevance question; every output well formatted.
  EXPECT_TRUE(contains(summary, "\"format\": \"bfcl\", \"data\": \"" + (dir / "q.jsonl").string() + "\""))
      << summary;
  EXPECT_TRUE(contains(summary,
                       "\"n\": 4, \"accuracy\": 0.75, \"format_accuracy\": 1.0, \"call_rows\": 3, "
                       "\"call_rows_accuracy\": 0.6666666666666666, \"irrelevance_rows\": 1, "
                       "\"irrelevance_accuracy\": 1.0, \"rows_without_output\": 0, "
                       "\"errors\": {\"none\": 3, \"wrong_name\": 1}}"))
      << summary;
  EXPECT_TRUE(contains(r.out, "accuracy             0.7500")) << r.out;
  // Without --answers every question expects no call: only irrelevance_0's output (no call) is right, 1 of 4.
  const RunResult irr = run("eval --format bfcl" + files + " --summary " + (dir / "irr.json").string());
  ASSERT_EQ(irr.code, 0) << irr.out;
  EXPECT_TRUE(contains(slurp(dir / "irr.json"), "\"answers\": null, \"n\": 4, \"accuracy\": 0.25,"))
      << slurp(dir / "irr.json");
  EXPECT_TRUE(contains(slurp(dir / "irr.json"), "\"errors\": {\"none\": 1, \"unexpected_call\": 3}"));

  // Bad input: exit 2, the file and line named, no --out or --summary written, an earlier summary untouched.
  std::ofstream(dir / "kept.json") << "earlier summary\n";
  const auto bad = [&](const std::string& args, const std::string& message) {
    const RunResult b = run("eval" + args + " --out " + (dir / "b_rows.jsonl").string() + " --summary " +
                            (dir / "kept.json").string());
    EXPECT_EQ(b.code, 2) << args << "\n" << b.out;
    EXPECT_TRUE(contains(b.out, message)) << args << "\n" << b.out;
    EXPECT_FALSE(fs::exists(dir / "b_rows.jsonl")) << args;
    EXPECT_EQ(slurp(dir / "kept.json"), "earlier summary\n") << args;
  };
  std::ofstream(dir / "a_short.jsonl") << R"({"id": "simple_0", "ground_truth": []})"
                                       << "\n"
                                       << R"({"id": "parallel_0", "ground_truth": []})"
                                       << "\n";
  bad(" --format bfcl" + files + " --answers " + (dir / "a_short.jsonl").string(),
      (dir / "q.jsonl").string() + ":3: question \"multiple_0\" has no possible-answer row in " +
          (dir / "a_short.jsonl").string());
  bad(" --format bfcl+" + files, "--format: unknown format 'bfcl+' (expected toolrl, apibank or bfcl)");
  bad(files + " --answers " + (dir / "a.jsonl").string(),
      "--answers FILE.jsonl goes with --format bfcl only");
  std::ofstream(dir / "o_bad.jsonl") << output("simple_0", "") << "{\"id\": \"parallel_0\", \"output\": \n";
  bad(" --format bfcl --data " + (dir / "q.jsonl").string() + " --outputs " + (dir / "o_bad.jsonl").string(),
      (dir / "o_bad.jsonl").string() + ":2: not JSON");
  std::ofstream(dir / "o_unknown.jsonl") << output("simple_0", "") << output("simple_9", "");
  bad(" --format bfcl --data " + (dir / "q.jsonl").string() + " --outputs " +
          (dir / "o_unknown.jsonl").string(),
      (dir / "o_unknown.jsonl").string() + ":2: id \"simple_9\" is not a row of");
  bad(" --format bfcl --data " + (dir / "q.jsonl").string() + " --outputs " + (dir / "none.jsonl").string(),
      "cannot read --outputs " + (dir / "none.jsonl").string());
  std::ofstream(dir / "q_bad.jsonl") << question("simple_0", "x", area) << "{\"id\": \"simple_1\"}\n";
  bad(" --format bfcl --data " + (dir / "q_bad.jsonl").string() + " --outputs " + (dir / "o.jsonl").string(),
      (dir / "q_bad.jsonl").string() + ":2: expected fields \"question\" and \"function\"");
}

TEST(CliEval, ApiBankRowsCheckedAsToolRL) {
  const fs::path dir = scratch() / "eval_apibank";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "apibank.json")
      << R"([{"system": "Tools: {'keywords': {'type': 'str'}}", "user": "**Dialogue Records History**\n<user> Find an alarm tool. </user>",)"
      << R"( "answer": [{"name": "ToolSearcher", "parameters": {"keywords": "alarm"}}], "other": {}},)"
      << R"( {"system": "s", "user": "u", "answer": {"name": "AddAlarm", "parameters": {"time": "08:00"}}, "other": {}}])";
  std::ofstream(dir / "o.jsonl")
      << R"({"id": 0, "output": "<think>a</think>\n<tool_call>\n{\"name\": \"ToolSearcher\", \"parameters\": {\"keywords\": \"alarm\"}}\n</tool_call>"})"
      << "\n"
      << R"({"id": "1", "output": "<think>a</think>\n<tool_call>\n{\"name\": \"AddAlarm\", \"parameters\": {\"time\": \"09:00\"}}\n</tool_call>"})"
      << "\n";
  const RunResult r = run("eval --format apibank --data " + (dir / "apibank.json").string() + " --outputs " +
                          (dir / "o.jsonl").string() + " --out " + (dir / "rows.jsonl").string() +
                          " --summary " + (dir / "summary.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto rows = lines_of(dir / "rows.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(contains(rows[0], "\"id\": \"0\"") && contains(rows[0], "\"exact_call\": true")) << rows[0];
  EXPECT_TRUE(contains(rows[1], "\"exact_call\": false, \"name_match\": true")) << rows[1];
  EXPECT_TRUE(contains(rows[1],
                       "\"error\": \"wrong_arguments\", \"arguments\": {\"expected\": 1, \"correct\": 0, "
                       "\"missing\": 0, \"extra\": 0}"))
      << rows[1];
  const std::string summary = slurp(dir / "summary.json");
  // "keywords" equal in row 0, "time" unequal in row 1: both strings.
  EXPECT_TRUE(contains(summary,
                       "\"arguments_expected\": 2, \"argument_value_accuracy\": 0.5, "
                       "\"argument_value_accuracy_by_type\": {\"string\": 0.5}, \"arguments_missing\": 0, "
                       "\"arguments_extra\": 0"))
      << summary;
  EXPECT_TRUE(contains(summary, "\"format\": \"apibank\"")) << summary;
  EXPECT_TRUE(contains(summary,
                       "\"n\": 2, \"format_accuracy\": 1.0, \"exact_call_accuracy\": 0.5, "
                       "\"name_accuracy\": 1.0,"))
      << summary;
  std::ofstream(dir / "bad.json")
      << R"([{"system": "s", "user": "u", "answer": {"name": "A"}}, {"system": "s", "user": "u", "answer": []}])";
  const RunResult b = run("eval --format apibank --data " + (dir / "bad.json").string() + " --outputs " +
                          (dir / "o.jsonl").string() + " --summary " + (dir / "b.json").string());
  EXPECT_EQ(b.code, 2) << b.out;
  EXPECT_TRUE(contains(b.out, "toolgrpo: error: " + (dir / "bad.json").string() +
                                ": element 1: field \"answer\" must be a call"))
      << b.out;
  EXPECT_FALSE(fs::exists(dir / "b.json"));
}

TEST(CliEval, GeneratesOnAnyRankCount) {
  // A random tiny model: the rows it writes for the first 6 examples are the same at np 1 and np 2 (each output
  // depends on the seed and its row only); with 2 samples at temperature 1 each example has two rows.
  const fs::path dir = scratch() / "eval_model";
  fs::remove_all(dir);
  ASSERT_EQ(run("init-model --out " + (dir / "model").string()).code, 0);
  const std::string base = "eval --data " + shared() + "/toolrl/test.jsonl --model " + (dir / "model").string() +
                           " --limit 6 --max-new-tokens 8 --out ";
  const RunResult one = run(base + (dir / "np1.jsonl").string());
  ASSERT_EQ(one.code, 0) << one.out;
  const RunResult two = mpirun(2, "", base + (dir / "np2.jsonl").string());
  ASSERT_EQ(two.code, 0) << two.out;
  const auto rows = lines_of(dir / "np1.jsonl");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(lines_of(dir / "np2.jsonl"), rows);
  EXPECT_TRUE(contains(rows[0], "\"id\": \"rlla_test_00\", \"sample\": 0")) << rows[0];
  const RunResult sampled = mpirun(2, "", base + (dir / "k2.jsonl").string() + " --samples 2 --temperature 1");
  ASSERT_EQ(sampled.code, 0) << sampled.out;
  const auto k2 = lines_of(dir / "k2.jsonl");
  ASSERT_EQ(k2.size(), 12u);
  EXPECT_TRUE(contains(k2[1], "\"id\": \"rlla_test_00\", \"sample\": 1")) << k2[1];
  bool any_text = false;
  for (const auto& r : k2) any_text = any_text || !contains(r, "\"output\": \"\"");
  EXPECT_TRUE(any_text) << "sampled outputs of a random model are not all empty";
  const RunResult both = run(base + (dir / "x.jsonl").string() + " --outputs " + (dir / "np1.jsonl").string());
  EXPECT_EQ(both.code, 2);
  EXPECT_TRUE(contains(both.out, "either --model")) << both.out;
}

TEST(CliModel, InitModelThenGenerate) {
  const fs::path dir = scratch() / "tiny-qwen3";
  fs::remove_all(dir);
  const RunResult init = run("init-model --arch qwen3 --preset tiny --seed 5 --out " + dir.string());
  ASSERT_EQ(init.code, 0) << init.out;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  // No clobbering without --force; the directory stays as it was.
  const auto before = fs::last_write_time(dir / "model.safetensors");
  const RunResult again = run("init-model --arch qwen3 --preset tiny --out " + dir.string());
  EXPECT_EQ(again.code, 2);
  EXPECT_TRUE(contains(again.out, "not empty")) << again.out;
  EXPECT_EQ(fs::last_write_time(dir / "model.safetensors"), before);

  const std::string gen = "generate --model " + dir.string() + " --prompt hi --chatml --max-new-tokens 6 ";
  // Sample lines only (the throughput line on stderr is merged into the captured output).
  const auto samples = [&](const std::string& extra) {
    const RunResult r = run(gen + extra);
    EXPECT_EQ(r.code, 0) << r.out;
    std::string lines;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);)
      if (!l.empty() && l[0] == '{') lines += l + "\n";
    return lines;
  };
  const std::string a = samples("--group-size 3 --seed 9");
  EXPECT_EQ(samples("--group-size 3 --seed 9"), a);  // same seed, same samples
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 3);
  EXPECT_TRUE(contains(a, "\"sample\": 2")) << a;
  EXPECT_NE(samples("--group-size 3 --seed 10"), a);
  EXPECT_EQ(run("init-model --arch gpt2 --out " + (scratch() / "x").string()).code, 2);
}

// init-model --tokenizer bpe: a vocabulary learned from ToolRL rows; the model's vocabulary follows it and
// generation runs with it. Bad choices exit 2 naming the option or file; no directory is left behind.
TEST(CliModel, InitModelWithALearnedVocabulary) {
  const fs::path dir = scratch() / "bpe-model";
  fs::remove_all(dir);
  const std::string data = shared() + "/toolrl/sft.jsonl";
  const RunResult init = run("init-model --tokenizer bpe --tokenizer-data " + data + " --merges 300 --out " + dir.string());
  ASSERT_EQ(init.code, 0) << init.out;
  EXPECT_TRUE(contains(init.out, "BPE tokenizer, 300 merges (vocab 576)")) << init.out;  // 256 + 9 + 300, padded
  std::ifstream cfg(dir / "config.json");
  EXPECT_EQ(nlohmann::json::parse(cfg).at("vocab_size"), 576);
  const RunResult gen = run("generate --model " + dir.string() + " --prompt hi --chatml --max-new-tokens 4");
  EXPECT_EQ(gen.code, 0) << gen.out;
  const fs::path bad = scratch() / "bpe-bad";
  const RunResult no_data = run("init-model --tokenizer bpe --out " + bad.string());
  EXPECT_EQ(no_data.code, 2);
  EXPECT_TRUE(contains(no_data.out, "--tokenizer bpe needs --tokenizer-data FILE")) << no_data.out;
  const RunResult missing = run("init-model --tokenizer bpe --tokenizer-data " + (scratch() / "nope.jsonl").string() +
                                " --out " + bad.string());
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(contains(missing.out, "nope.jsonl")) << missing.out;
  const RunResult unknown = run("init-model --tokenizer words --out " + bad.string());
  EXPECT_EQ(unknown.code, 2);
  EXPECT_TRUE(contains(unknown.out, "--tokenizer must be byte, bpe or an existing tokenizer.json")) << unknown.out;
  EXPECT_TRUE(contains(unknown.out, "got 'words'")) << unknown.out;
  EXPECT_FALSE(fs::exists(bad));
}

TEST(CliModel, ShapesWhoseSizeOverflowsAreRefusedNamingFileAndTensor) {
  // The tiny preset's embedding is 320 x 64 = 20,480 F32 values (81,920 bytes). Declared as [4, 2^62 + 5120] or
  // [2^40, 2^40], its element count wraps to 20,480 or to 0 in 64-bit arithmetic: both must be refused as what
  // they are, with exit code 2 and no library trace.
  const fs::path dir = scratch() / "overflow-shape";
  fs::remove_all(dir);
  ASSERT_EQ(run("init-model --out " + dir.string()).code, 0);
  const fs::path file = dir / "model.safetensors";
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  const std::string data = bytes.substr(8 + n);
  for (const nlohmann::json& shape : {nlohmann::json::array({4ULL, 4611686018427393024ULL}),
                                      nlohmann::json::array({1ULL << 40, 1ULL << 40})}) {
    nlohmann::json h = header;
    ASSERT_EQ(h["model.embed_tokens.weight"]["shape"], nlohmann::json::array({320, 64}));
    h["model.embed_tokens.weight"]["shape"] = shape;
    std::string text = h.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    const uint64_t len = text.size();
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << text << data;
    out.close();
    const RunResult r = run("generate --model " + dir.string() + " --prompt hi --max-new-tokens 2");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(contains(r.out, "toolgrpo: error: " + file.string() + ": ")) << r.out;
    EXPECT_TRUE(contains(r.out, "model.embed_tokens.weight")) << r.out;
    for (const char* trace : {"frame #", "Exception raised from", "c10::"}) EXPECT_FALSE(contains(r.out, trace)) << r.out;
  }
}

TEST(CliModel, InitModelWithARealTokenizer) {
  // A random model with Qwen2.5's tokenizer.json: its vocabulary (151,665 tokens, padded to 151,680) and its
  // end-of-text tokens <|endoftext|> (151643) and <|im_end|> (151645), as Qwen2.5's own configuration has them.
  const fs::path out = scratch() / "init-qwen-tok";
  fs::remove_all(out);
  const RunResult r = run("init-model --tokenizer " + shared() + "/tokenizers/qwen2.5 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream cfg(out / "config.json"), gen(out / "generation_config.json");
  const nlohmann::json c = nlohmann::json::parse(cfg), g = nlohmann::json::parse(gen);
  EXPECT_EQ(c["vocab_size"], 151680);
  EXPECT_EQ(g["eos_token_id"], nlohmann::json::array({151643, 151645}));
  EXPECT_EQ(g["bos_token_id"], 151643);
  EXPECT_EQ(c["eos_token_id"], nlohmann::json::array({151643, 151645}));
  std::ifstream src(shared() + "/tokenizers/qwen2.5/tokenizer.json"), copy(out / "tokenizer.json");
  EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(src), {}, std::istreambuf_iterator<char>(copy), {}))
      << "the tokenizer.json is copied as it is";
  // The model generates with it: the directory is complete.
  const RunResult gen_run = run("generate --model " + out.string() + " --prompt hello --max-new-tokens 2 --greedy");
  EXPECT_EQ(gen_run.code, 0) << gen_run.out;
  // --tokenizer-data goes with bpe only.
  const RunResult mixed = run("init-model --tokenizer " + shared() + "/tokenizers/qwen2.5 --tokenizer-data x --out " +
                              (scratch() / "init-mixed").string());
  EXPECT_EQ(mixed.code, 2) << mixed.out;
}

TEST(CliModel, GenerateFromIdsMatchesReferenceGreedy) {
  const std::string model = shared() + "/fixtures/models/qwen2-tied";
  const fs::path ids = scratch() / "prompt_ids.jsonl";
  std::ifstream meta_in(model + "/fixtures.json");
  std::stringstream ss;
  ss << meta_in.rdbuf();
  toolgrpo::reward::JsonParser parser;
  toolgrpo::reward::Arena arena;
  const auto* meta = parser.parse(ss.str(), arena);
  ASSERT_NE(meta, nullptr);
  const auto* gen0 = &meta->find("generation")->u.items[0];
  std::ofstream(ids) << "{\"ids\": " << toolgrpo::reward::json_dumps(*gen0->find("prompt_ids")) << "}\n";
  const RunResult r =
      run("generate --model " + model + " --input-ids " + ids.string() + " --greedy --max-new-tokens 16 2>/dev/null");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "\"ids\": " + toolgrpo::reward::json_dumps(*gen0->find("new_ids")))) << r.out;

  std::ofstream(ids) << "{\"ids\": [1, 2]}\n{\"ids\": [1, \"x\"]}\n";
  const RunResult bad = run("generate --model " + model + " --input-ids " + ids.string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.out, "prompt_ids.jsonl:2")) << bad.out;
  const RunResult text = run("generate --model " + model + " --prompt hello");
  EXPECT_EQ(text.code, 2);
  EXPECT_TRUE(contains(text.out, "--input-ids")) << text.out;
}

}  // namespace

namespace {

TEST(CliTokenize, EncodesAndDecodesLikeTheReference) {
  const std::string tok = shared() + "/tokenizers/llama3";
  const fs::path in = scratch() / "texts.jsonl";
  std::ifstream cases(shared() + "/fixtures/tokenizer/llama3/encode.jsonl");
  std::ofstream texts(in);
  std::vector<std::string> want;
  toolgrpo::reward::JsonParser parser;
  std::string line;
  for (int k = 0; k < 50 && std::getline(cases, line); ++k) {
    toolgrpo::reward::Arena a;
    const auto* row = parser.parse(line, a);
    texts << "{\"text\": " << toolgrpo::reward::json_dumps(*row->find("text")) << "}\n";
    want.push_back("{\"ids\": " + toolgrpo::reward::json_dumps(*row->find("ids")) + "}");
  }
  texts.close();
  const RunResult r = run("tokenize --tokenizer " + tok + " --in " + in.string() + " 2>/dev/null");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<std::string> got;
  std::istringstream ss(r.out);
  for (std::string l; std::getline(ss, l);)
    if (!l.empty() && l[0] == '{') got.push_back(l);
  EXPECT_EQ(got, want);
  std::ofstream(in) << "{\"text\": \"ok\"}\n{\"txt\": 1}\n";
  const RunResult bad = run("tokenize --tokenizer " + tok + " --in " + in.string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.out, "texts.jsonl:2")) << bad.out;
  EXPECT_EQ(run("tokenize --tokenizer /no/such/tokenizer").code, 2);  // a file from outside: bad input
  // A damaged file from outside is bad input too: exit 2 with "toolgrpo: error: FILE: ..." (tokenizer.json, and a
  // model directory's config.json).
  const fs::path broken = in.parent_path() / "broken_model";
  fs::create_directories(broken);
  std::ofstream(broken / "tokenizer.json") << "{\"model\": ";
  const RunResult bad_tok = run("tokenize --tokenizer " + (broken / "tokenizer.json").string() + " --in " + in.string());
  EXPECT_EQ(bad_tok.code, 2) << bad_tok.out;
  EXPECT_TRUE(contains(bad_tok.out, "toolgrpo: error: " + (broken / "tokenizer.json").string() + ": not valid JSON"))
      << bad_tok.out;
  std::ofstream(broken / "config.json") << "{\"model_type\": \"qwen2\"";
  const RunResult bad_cfg = run("generate --model " + broken.string() + " --prompt hi");
  EXPECT_EQ(bad_cfg.code, 2) << bad_cfg.out;
  EXPECT_TRUE(contains(bad_cfg.out, "toolgrpo: error: " + (broken / "config.json").string() + ": not valid JSON"))
      << bad_cfg.out;
}

}  // namespace

namespace {

TEST(CliTrain, ColocatedStepsWriteTheRunDirectory) {
  const fs::path out = scratch() / "runs";
  fs::remove_all(out);
  const std::string base = "train data.train=" + shared() + "/toolrl/test.jsonl run.out_dir=" + out.string() +
                           " run.name=smoke rollout.prompts_per_step=2 rollout.group_size=2 rollout.max_new_tokens=8"
                           " rollout.max_prompt_tokens=64 grpo.mini_batches=2 ";
  const RunResult r = run(base + "grpo.steps=2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "step 2/2 reward")) << r.out;
  for (const char* f : {"config.yaml", "metrics.jsonl", "model.safetensors", "config.json"})
    EXPECT_TRUE(fs::exists(out / "smoke" / f)) << f;
  EXPECT_EQ(lines_of(out / "smoke" / "metrics.jsonl").size(), 2u);
  const auto csv = lines_of(out / "smoke" / "metrics.csv");
  ASSERT_EQ(csv.size(), 3u);  // header + one row per step
  EXPECT_TRUE(contains(csv[0], "reward_total_std") && contains(csv[0], "zero_std_group_fraction")) << csv[0];
  // With a reference model and the KL in the reward, the run still completes and reports a KL.
  const RunResult kl = run(base + "grpo.steps=2 run.name=kl grpo.kl_coef=0.001 grpo.kl_where=reward grpo.lr=1e-3");
  ASSERT_EQ(kl.code, 0) << kl.out;
  EXPECT_TRUE(contains(kl.out, " kl ")) << kl.out;
  // A device or precision this build cannot train with: exit code 2 naming the key (on a GPU node the cuda run
  // may succeed instead).
  const RunResult cuda = run(base + "grpo.steps=1 run.name=cuda model.device=cuda");
  if (cuda.code == 0) {  // a GPU node: the step ran on the GPU and the run directory is complete
    EXPECT_TRUE(contains(cuda.out, "step 1/1 reward")) << cuda.out;
    EXPECT_EQ(lines_of(out / "cuda" / "metrics.jsonl").size(), 1u);
    EXPECT_TRUE(fs::exists(out / "cuda" / "model.safetensors"));
  } else {
    EXPECT_EQ(cuda.code, 2) << cuda.out;
    EXPECT_TRUE(contains(cuda.out, "model.device: cuda, but this libtorch/node has no usable GPU")) << cuda.out;
    EXPECT_FALSE(fs::exists(out / "cuda")) << "no run directory for a run that could not start";
  }
  // bf16 mixed precision trains, and the run's model keeps the fp32 master weights.
  const RunResult bf16 = run(base + "grpo.steps=1 run.name=bf16 model.dtype=bf16");
  EXPECT_EQ(bf16.code, 0) << bf16.out;
  EXPECT_TRUE(contains(bf16.out, "step 1/1 reward")) << bf16.out;
  EXPECT_TRUE(contains(bf16.out, "bf16 copy")) << "the memory plan counts the bf16 copy: " << bf16.out;
  EXPECT_EQ(lines_of(out / "bf16" / "metrics.jsonl").size(), 1u);
  {
    std::ifstream st(out / "bf16" / "model.safetensors", std::ios::binary);
    std::string head(4096, '\0');
    st.read(head.data(), static_cast<std::streamsize>(head.size()));
    EXPECT_TRUE(contains(head, "\"F32\"")) << head.substr(0, 200);
    EXPECT_FALSE(contains(head, "\"BF16\""));
  }
  // Several configuration mistakes: one message naming each, exit code 2.
  const RunResult bad = run(base + "grpo.lr=fast grpo.mini_batches=3 rollout.top_p=2");
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.out, "grpo.lr")) << bad.out;
  EXPECT_TRUE(contains(bad.out, "grpo.mini_batches")) << bad.out;
  EXPECT_TRUE(contains(bad.out, "rollout.top_p")) << bad.out;
}

}  // namespace

namespace {

using namespace toolgrpo::testing;

std::string text_of(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string small_train(const fs::path& out, const std::string& name) {
  return "train data.train=" + shared() + "/toolrl/test.jsonl run.out_dir=" + out.string() + " run.name=" + name +
         " rollout.prompts_per_step=2 rollout.group_size=2 rollout.max_new_tokens=8 rollout.max_prompt_tokens=64"
         " grpo.mini_batches=2 grpo.steps=3";
}

TEST(CliTrain, ExceptionOnOneRankEndsTheWholeJobQuickly) {
  const fs::path out = scratch() / "fault";
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = mpirun(2, "TOOLGRPO_FAULT_INJECT=1:2", small_train(out, "fault"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "injected fault on rank 1 at step 2")) << r.out;
  EXPECT_TRUE(contains(r.out, "step 1/3")) << r.out;  // the first step ran; the job ended at the second
  EXPECT_FALSE(contains(r.out, "step 3/3")) << r.out;
  EXPECT_LT(seconds, 60.0) << "the job must end, not hang waiting for the failed rank";
  EXPECT_FALSE(fs::exists(out / "fault" / "model.safetensors"));
}

// An exception on one rank after start-up (the gradient and weight-broadcast communicators exist; on CUDA nodes
// they are NCCL's and CommGuard aborts them while the exception unwinds) ends the job with a non-zero exit within
// 30 s: alone at np 1, and at np 2 in split mode, where the failing trainer is the weight broadcast's root and
// the generator waits for it.
TEST(CliTrain, ExceptionAfterStartUpEndsTheJobWithin30Seconds) {
  const fs::path out = scratch() / "fault30";
  struct Case {
    int np;
    std::string fault, extra, name;
  };
  for (const Case& c : {Case{1, "TOOLGRPO_FAULT_INJECT=0:2", "", "np1"},
                        Case{2, "TOOLGRPO_FAULT_INJECT=1:2", " parallel.mode=split parallel.generation_ranks=1", "split"}}) {
    const auto t0 = std::chrono::steady_clock::now();
    const RunResult r = mpirun(c.np, c.fault, small_train(out, c.name) + c.extra);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[          ] %s: the job ended %.1f s after launch, exit code %d\n", c.name.c_str(), seconds, r.code);
    EXPECT_NE(r.code, 0) << c.name << "\n" << r.out;
    const std::string rank = c.np == 1 ? "0" : "1";
    EXPECT_TRUE(contains(r.out, "toolgrpo: error: injected fault on rank " + rank + " at step 2")) << r.out;
    EXPECT_TRUE(contains(r.out, "step 1/3")) << r.out;  // start-up and the first step (its sync) completed
    EXPECT_FALSE(contains(r.out, "step 2/3")) << r.out;
    EXPECT_LT(seconds, 30.0) << c.name << ": the job must end within 30 s of the failure";
  }
}

TEST(CliTrain, WorldSizeTheRolesCannotUse) {
  const fs::path out = scratch() / "roles";
  const RunResult one = mpirun(1, "", small_train(out, "roles") + " parallel.mode=split");
  EXPECT_EQ(one.code, 2) << one.out;
  EXPECT_TRUE(contains(one.out, "parallel.mode: split needs at least 2 ranks")) << one.out;
  const RunResult two = mpirun(2, "", small_train(out, "roles") + " parallel.mode=split parallel.generation_ranks=2");
  EXPECT_EQ(two.code, 2) << two.out;
  EXPECT_TRUE(contains(two.out, "parallel.generation_ranks: must be in [1, 1] for 2 ranks, got 2")) << two.out;
  const RunResult odd = mpirun(2, "", small_train(out, "roles") + " rollout.prompts_per_step=3");
  EXPECT_EQ(odd.code, 2) << odd.out;
  EXPECT_TRUE(contains(odd.out, "rollout.prompts_per_step (3) must be divisible by the 2 generating ranks")) << odd.out;
}

// A run whose memory plan cannot fit stops before its first step with exit code 2, naming the keys that would
// make it fit, and leaves no run directory; run.memory_check=false goes on with a warning.
TEST(CliTrain, MemoryPlanThatCannotFitStopsBeforeTheFirstStep) {
  const fs::path out = scratch() / "memory";
  fs::remove_all(out);
  const RunResult grpo = mpirun(2, "", small_train(out, "grpo") + " run.memory_limit_gb=0.01");
  EXPECT_EQ(grpo.code, 2) << grpo.out;
  for (const char* s : {"memory plan (estimated peak per rank)", "of 0.01 GB available (run.memory_limit_gb)",
                        "lower grpo.micro_batch_tokens (now 8192)", "checkpoint.async=false", "run.memory_check=false"})
    EXPECT_TRUE(contains(grpo.out, s)) << s << "\n" << grpo.out;
  EXPECT_FALSE(contains(grpo.out, "step 1/3")) << grpo.out;
  EXPECT_FALSE(fs::exists(out / "grpo")) << "no run directory for a run that could not start";
  EXPECT_FALSE(contains(grpo.out, "holds the longest prompt")) << grpo.out;  // 8192 tokens share every group
  // A budget that holds the longest prompt (64 tokens) with one of its two 8-token samples: the plan says
  // that such a group's prompt is forwarded twice, and which budget shares it.
  const RunResult split =
      mpirun(2, "", small_train(out, "split") + " run.memory_limit_gb=0.01 grpo.micro_batch_tokens=72");
  EXPECT_EQ(split.code, 2) << split.out;
  EXPECT_TRUE(
      contains(split.out,
               "note: grpo.micro_batch_tokens 72 holds the longest prompt (64 tokens) with 1 of its 2 "
               "samples of up to 8 tokens: such a group's prompt is forwarded 2 times in each pass "
               "instead of once; micro_batch_tokens >= 80 shares it"))
      << split.out;

  const std::string sft = "sft data.train=" + shared() + "/toolrl/sft.jsonl run.out_dir=" + out.string() +
                          " sft.steps=1 sft.batch_size=2 sft.max_seq_tokens=96 run.name=sft";
  const RunResult s = run(sft + " run.memory_limit_gb=0.01 sft.micro_batch_tokens=500");
  EXPECT_EQ(s.code, 2) << s.out;
  EXPECT_TRUE(contains(s.out, "lower sft.micro_batch_tokens (now 500), set sft.activation_checkpointing=true, "
                              "sft.max_seq_tokens")) << s.out;
  EXPECT_FALSE(fs::exists(out / "sft"));

  const RunResult forced = run(sft + " run.memory_limit_gb=0.01 run.memory_check=false");
  ASSERT_EQ(forced.code, 0) << forced.out;
  EXPECT_TRUE(contains(forced.out, "the memory plan does not fit, but run.memory_check is false")) << forced.out;
  const RunResult fits = run(sft + " run.name=fits run.memory_limit_gb=100");
  ASSERT_EQ(fits.code, 0) << fits.out;
  EXPECT_TRUE(contains(fits.out, "of 100.00 GB available (run.memory_limit_gb)")) << fits.out;
  EXPECT_FALSE(contains(fits.out, "does not fit")) << fits.out;
}

// The first number after `pattern` (a regex with one group) in `text`, or -1.
double number_after(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? std::stod(m[1].str()) : -1.0;
}

// The part lines of a printed memory plan ("  name   X GB  detail"), without the budget lines (peak, available)
// whose sources differ between train and plan.
std::vector<std::string> plan_parts(const std::string& out) {
  std::vector<std::string> parts;
  std::istringstream in(out.substr(out.find("memory plan (estimated peak per rank):")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && line.rfind("  ", 0) == 0 && line.rfind("  peak", 0) != 0) parts.push_back(line);
  return parts;
}

// `plan` prints, without loading weights, the plan that train prints at start-up for the same configuration and
// ranks: the same parts, sizes and peak (the data's longest prompt counted with the model's tokenizer), and its
// exit status says whether it fits.
TEST(CliPlan, PrintsTheRunsOwnPlanBeforeItIsLaunched) {
  const fs::path out = scratch() / "plan";
  fs::remove_all(out);
  const std::string model = (out / "model").string();
  ASSERT_EQ(run("init-model --preset tiny --tokenizer " + shared() + "/tokenizers/qwen2.5 --out " + model).code, 0);
  const std::string keys = "model.path=" + model + " data.train=" + shared() +
                           "/toolrl/test.jsonl rollout.prompts_per_step=4 rollout.group_size=2 "
                           "rollout.max_new_tokens=16 grpo.micro_batch_tokens=700 parallel.shard_optimizer=true "
                           "grpo.kl_coef=0.01 run.out_dir=" + out.string() + " run.name=grpo";
  // train stops at its plan (a node far too small), after printing it.
  const RunResult train = mpirun(2, "TOOLGRPO_NODE_MEMORY_GB=0.01", "train " + keys);
  ASSERT_EQ(train.code, 2) << train.out;
  const RunResult plan = run("plan --ranks 2 --node-memory 64 " + keys);
  ASSERT_EQ(plan.code, 0) << plan.out;
  EXPECT_TRUE(contains(plan.out, "plan: the longest prompt of " + shared() + "/toolrl/test.jsonl: ")) << plan.out;
  const std::vector<std::string> want = plan_parts(train.out), got = plan_parts(plan.out);
  ASSERT_GE(want.size(), 6u) << train.out;
  EXPECT_EQ(got, want) << "train:\n" << train.out << "\nplan:\n" << plan.out;
  const double peak = number_after(train.out, "\\n  peak +([0-9.]+) GB");
  ASSERT_GT(peak, 0) << train.out;
  EXPECT_EQ(number_after(plan.out, "\\n  peak +([0-9.]+) GB"), peak) << plan.out;
  EXPECT_TRUE(contains(plan.out, "of 32.00 GB available (--node-memory 64 GB / 2 ranks per node)")) << plan.out;
  EXPECT_TRUE(contains(plan.out, "\nplan: fits")) << plan.out;
  EXPECT_FALSE(fs::exists(out / "grpo")) << "plan writes no run directory";

  // A node that cannot hold two such ranks: exit status 3, said so.
  char small[32];
  std::snprintf(small, sizeof small, "%.3f", 2 * peak * 0.9);
  const RunResult tight = run("plan --ranks 2 --node-memory " + std::string(small) + " " + keys);
  EXPECT_EQ(tight.code, 3) << tight.out;
  EXPECT_TRUE(contains(tight.out, "\nplan: does not fit")) << tight.out;
  // sft: its own parts (no generation) and the examples counted at sft.max_seq_tokens.
  const RunResult sft = run("plan --sft --node-memory 64 model.path=" + model + " sft.max_seq_tokens=256");
  EXPECT_EQ(sft.code, 0) << sft.out;
  EXPECT_TRUE(contains(sft.out, "2048 tokens x 2 layers, rows up to 256 tokens")) << sft.out;
  EXPECT_FALSE(contains(sft.out, "  generation ")) << sft.out;
  // Bad input: exit status 2 naming the option or key.
  const std::pair<const char*, const char*> bad[] = {
      {"--ranks 0", "--ranks"},
      {"--ranks 3000000000", "--ranks: at most 1048576, got 3000000000"},
      {"--attention flash model.device=cuda", "--attention: expected fused or reference, got 'flash'"},
      {"grpo.micro_batch_tokens=-3", "grpo.micro_batch_tokens"}};
  for (const auto& [arguments, message] : bad) {
    const RunResult r = run(std::string("plan ") + arguments);
    EXPECT_EQ(r.code, 2) << arguments << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, message)) << arguments << "\n" << r.out;
  }
}

TEST(CliTrain, MemoryIsReadBeforeTheWeightsAreLoaded) {
  // TOOLGRPO_NODE_MEMORY_GB=X stands in a node of X GB used by this process alone: what is available is X less
  // what the process holds when it reads. The plan counts the weights itself, so the reading must come before
  // they are loaded; taken after, it would count them twice (the weights held, and the weights planned).
  const fs::path out = scratch() / "memory_before";
  fs::remove_all(out);
  const std::string sft = "sft model.preset=bench data.train=" + shared() + "/toolrl/sft.jsonl run.out_dir=" +
                          out.string() + " sft.steps=1 sft.batch_size=2 sft.max_seq_tokens=96 checkpoint.async=false";
  const auto with_node = [&](double gb, const std::string& name) {
    char env[64];
    std::snprintf(env, sizeof env, "TOOLGRPO_NODE_MEMORY_GB=%.4f ", gb);
    return run_command(env + std::string(TOOLGRPO_BIN) + " " + sft + " run.name=" + name);
  };
  // A node too small: refused, and the plan and the process's holding at the reading are printed.
  const RunResult small = with_node(0.05, "small");
  ASSERT_EQ(small.code, 2) << small.out;
  const double held = number_after(small.out, "this process holds ([0-9.]+) GB");
  const double peak = number_after(small.out, "\\n  peak +([0-9.]+) GB");
  const double weights = number_after(small.out, "\\n  weights +([0-9.]+) GB");
  ASSERT_GT(held, 0) << small.out;
  ASSERT_GT(peak, 0) << small.out;
  ASSERT_GT(weights, 0.05) << small.out;  // the bench preset with the byte vocabulary: 0.09 GB of fp32 weights
  // (the printed figures are rounded to 0.01 GB; half the weights, 45 MB, stays well above that)
  // A node with room for the plan and half the weights more, beyond what the process held at the reading: it
  // fits only if the weights were not yet resident when the memory was read.
  const RunResult fits = with_node(held + peak / 0.95 + weights / 2, "fits");
  ASSERT_EQ(fits.code, 0) << fits.out;
  EXPECT_FALSE(contains(fits.out, "does not fit")) << fits.out;
  EXPECT_NEAR(number_after(fits.out, "this process holds ([0-9.]+) GB"), held, weights / 4) << fits.out;
  // The control: half the weights less is refused, so a reading that had lost the whole weights to the
  // process would have refused the run above.
  const RunResult refused = with_node(held + peak / 0.95 - weights / 2, "refused");
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_TRUE(contains(refused.out, "the memory plan needs about")) << refused.out;
}

TEST(CliTrain, SplitModeAndSftRunUnderMpirun) {
  const fs::path out = scratch() / "mpi";
  fs::remove_all(out);
  const RunResult split = mpirun(2, "", small_train(out, "split") + " parallel.mode=split");
  ASSERT_EQ(split.code, 0) << split.out;
  EXPECT_TRUE(contains(split.out, "step 3/3 reward")) << split.out;
  EXPECT_EQ(lines_of(out / "split" / "metrics.jsonl").size(), 3u);
  const RunResult sft = mpirun(2, "", "sft data.train=" + shared() + "/toolrl/sft.jsonl data.eval=" + shared() +
                                          "/toolrl/test.jsonl data.eval_prompts=4 log.eval_every=2 run.out_dir=" +
                                          out.string() + " run.name=sft sft.steps=2 sft.batch_size=4 sft.max_seq_tokens=128");
  ASSERT_EQ(sft.code, 0) << sft.out;
  EXPECT_TRUE(contains(sft.out, "sft step 2/2 loss")) << sft.out;
  EXPECT_TRUE(contains(sft.out, "eval after step 2: loss")) << sft.out;
  for (const char* f : {"config.yaml", "metrics.jsonl", "metrics.csv", "eval.jsonl", "model.safetensors", "config.json", "tokenizer.json"})
    EXPECT_TRUE(fs::exists(out / "sft" / f)) << f;
  // The SFT run's report: its loss (per step and at the evaluations), no GRPO plots.
  const std::string loss_svg = text_of(out / "sft" / "report" / "sft_loss.svg");
  EXPECT_TRUE(contains(loss_svg, "data-series=\"loss\" data-points=\"2\"")) << loss_svg;
  EXPECT_TRUE(contains(loss_svg, "data-series=\"eval_loss\" data-points=\"1\"")) << loss_svg;
  EXPECT_FALSE(fs::exists(out / "sft" / "report" / "reward.svg"));
  EXPECT_TRUE(contains(text_of(out / "sft" / "report" / "index.html"), ">SFT loss</h3>"));
  // The run directory is a model directory: generate reads it back.
  const RunResult gen = run("generate --model " + (out / "sft").string() + " --prompt hello --max-new-tokens 4 --greedy");
  EXPECT_EQ(gen.code, 0) << gen.out;
}

}  // namespace

namespace {

using namespace toolgrpo::testing;

// Whether python3's XML parser accepts the file (an independent check that SVG and XHTML are well-formed).
bool xml_parses(const fs::path& p) {
  return std::system(("python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' '" + p.string() +
                      "' 2>/dev/null").c_str()) == 0;
}

// The data-points count of series `name` in an SVG plot (-1: no such series).
int series_points(const std::string& svg, const std::string& name) {
  const std::string key = "data-series=\"" + name + "\" data-points=\"";
  const std::size_t at = svg.find(key);
  return at == std::string::npos ? -1 : std::atoi(svg.c_str() + at + key.size());
}

TEST(CliReport, TrainWritesItAndReportRedrawsItWithEvalSummaries) {
  const fs::path out = scratch() / "report";
  fs::remove_all(out);
  const RunResult r = run("train data.train=" + shared() + "/toolrl/test.jsonl data.eval=" + shared() +
                          "/toolrl/test.jsonl data.eval_prompts=2 log.eval_every=1 run.out_dir=" + out.string() +
                          " run.name=rep rollout.prompts_per_step=2 rollout.group_size=2 rollout.max_new_tokens=8"
                          " rollout.max_prompt_tokens=64 grpo.mini_batches=2 grpo.steps=2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "step 2/2 reward")) << r.out;
  EXPECT_FALSE(contains(r.out, "\r")) << "no progress bar when stdout is not a terminal\n" << r.out;
  const fs::path run_dir = out / "rep", rep = run_dir / "report";
  EXPECT_TRUE(contains(r.out, "grpo: report " + (rep / "index.html").string() + " (7 plots)")) << r.out;
  // Each GRPO plot with the series it should hold: one point per step (two), per evaluation (two).
  const std::map<std::string, std::vector<std::string>> plots = {
      {"reward.svg", {"reward_total_mean", "reward_format_mean", "reward_correctness_mean", "reward_length_mean"}},
      {"response_length.svg", {"response_length_mean", "response_length_min", "response_length_max"}},
      {"kl_entropy.svg", {"approx_kl"}},  // no reference model, no entropy term: kl and entropy are null
      {"clip_fraction.svg", {"clip_fraction"}},
      {"tokens_per_s.svg", {"tokens_per_s"}},
      {"phase_times.svg", {"seconds_generate", "seconds_score", "seconds_train", "seconds_sync", "seconds_step"}},
      {"eval.svg",
       {"eval_reward_total_mean", "eval_reward_format_mean", "eval_reward_correctness_mean",
        "eval_exact_call_accuracy", "eval_format_accuracy", "eval_name_accuracy"}},
  };
  for (const auto& [file, series] : plots) {
    ASSERT_TRUE(fs::exists(rep / file)) << file;
    EXPECT_TRUE(xml_parses(rep / file)) << file;
    const std::string svg = text_of(rep / file);
    for (const auto& s : series) EXPECT_EQ(series_points(svg, s), 2) << file << " " << s;
  }
  EXPECT_FALSE(fs::exists(rep / "sft_loss.svg")) << "a GRPO run has no SFT loss";
  for (const char* not_computed : {"kl", "entropy"})
    EXPECT_EQ(series_points(text_of(rep / "kl_entropy.svg"), not_computed), -1) << not_computed;
  EXPECT_TRUE(contains(r.out, " kl - entropy - clip ")) << r.out;
  EXPECT_TRUE(contains(text_of(run_dir / "metrics.jsonl"), "\"kl\": null, \"entropy\": null"));
  const std::string index = text_of(rep / "index.html");
  EXPECT_TRUE(xml_parses(rep / "index.html")) << index;
  for (const char* heading : {">Reward per step (mean over the step&apos;s samples)</h3>", ">Response length</h3>",
                              ">KL and entropy</h3>", ">Clip fraction</h3>", ">Throughput</h3>",
                              ">Phase times per step</h3>", ">Evaluation</h3>", ">Summary</h2>"})
    EXPECT_TRUE(contains(index, heading)) << heading;
  for (const auto& [file, series] : plots) EXPECT_TRUE(contains(index, "<img src=\"" + file + "\"")) << file;
  EXPECT_TRUE(contains(index, "rollout:\n  prompts_per_step: 2")) << "the resolved config.yaml, in <pre>";

  // `toolgrpo report` after an eval --summary: the summaries join the evaluation plot and the page (--out).
  {
    std::ofstream f(run_dir / "eval_summaries.jsonl");
    f << "{\"label\": \"before GRPO\", \"step\": 0, \"n\": 40, \"exact_call_accuracy\": 0.25, \"format_accuracy\": 0.9}\n"
         "{\"label\": \"after <GRPO>\", \"step\": 2, \"n\": 40, \"exact_call_accuracy\": 0.5, \"format_accuracy\": NaN}\n";
  }
  const fs::path other = out / "other";
  const RunResult again = run("report " + run_dir.string() + " --out " + other.string());
  ASSERT_EQ(again.code, 0) << again.out;
  const std::string eval_svg = text_of(other / "eval.svg");
  EXPECT_EQ(series_points(eval_svg, "exact_call_accuracy (eval --summary)"), 2) << eval_svg;
  EXPECT_EQ(series_points(eval_svg, "format_accuracy (eval --summary)"), 1) << "the NaN is skipped";
  EXPECT_EQ(series_points(eval_svg, "eval_reward_total_mean"), 2);
  const std::string other_index = text_of(other / "index.html");
  EXPECT_TRUE(xml_parses(other / "index.html")) << other_index;
  EXPECT_TRUE(contains(other_index, "before GRPO") && contains(other_index, "after &lt;GRPO&gt;")) << other_index;

  // eval --run appends its labelled summary to the run's eval_summaries.jsonl and redraws the run's report: the
  // ground truths of three rows as outputs are exact calls.
  const fs::path outputs = out / "gt_outputs.jsonl";
  {
    std::ofstream f(outputs);
    std::ifstream data(shared() + "/toolrl/test.jsonl");
    std::string line;
    for (int i = 0; i < 3 && std::getline(data, line); ++i) {
      const auto row = nlohmann::json::parse(line);
      f << nlohmann::json{{"id", row["id"]}, {"output", row["ground_truth"]}}.dump() << "\n";
    }
  }
  const RunResult ev = run("eval --data " + shared() + "/toolrl/test.jsonl --outputs " + outputs.string() +
                           " --run " + run_dir.string() + " --label ground-truths --step 7");
  ASSERT_EQ(ev.code, 0) << ev.out;
  const std::vector<std::string> summaries = lines_of(run_dir / "eval_summaries.jsonl");
  ASSERT_EQ(summaries.size(), 3u) << "two written by hand, one appended";
  const auto appended = nlohmann::json::parse(summaries[2]);
  EXPECT_EQ(appended["label"], "ground-truths");
  EXPECT_EQ(appended["step"], 7);
  EXPECT_EQ(appended["n"], 3);
  EXPECT_EQ(appended["exact_call_accuracy"], 1.0);
  EXPECT_EQ(series_points(text_of(rep / "eval.svg"), "exact_call_accuracy (eval --summary)"), 3);
  EXPECT_TRUE(contains(text_of(rep / "index.html"), "ground-truths"));
  const RunResult label_alone = run("eval --data " + shared() + "/toolrl/test.jsonl --outputs " +
                                    outputs.string() + " --label x");
  EXPECT_EQ(label_alone.code, 2) << label_alone.out;
  EXPECT_TRUE(contains(label_alone.out, "--label needs --run")) << label_alone.out;
}

TEST(CliReport, BadRunDirectoriesExitTwoAndWriteNothing) {
  const fs::path out = scratch() / "report_bad";
  fs::remove_all(out);
  fs::create_directories(out / "empty");
  const RunResult missing = run("report " + (out / "nowhere").string());
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_TRUE(contains(missing.out, (out / "nowhere").string() + " is not a run directory")) << missing.out;
  const RunResult empty = run("report " + (out / "empty").string());
  EXPECT_EQ(empty.code, 2) << empty.out;
  EXPECT_TRUE(contains(empty.out, "has no metrics.jsonl")) << empty.out;
  EXPECT_FALSE(fs::exists(out / "empty" / "report"));
  const RunResult none = run("report");
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_TRUE(contains(none.out, "expected one RUN_DIR")) << none.out;

  // A malformed line of metrics.jsonl, then of eval_summaries.jsonl: named with its line, nothing written.
  const fs::path bad = out / "bad";
  fs::create_directories(bad);
  {
    std::ofstream f(bad / "metrics.jsonl");
    f << "{\"step\": 1, \"reward_total_mean\": 0.5}\n{\"step\": 2, \"reward_total_mean\": 0.6}\n{\"step\": 3, \"rew\n";
  }
  const RunResult m = run("report " + bad.string());
  EXPECT_EQ(m.code, 2) << m.out;
  EXPECT_TRUE(contains(m.out, (bad / "metrics.jsonl").string() + ":3: not valid JSON")) << m.out;
  EXPECT_FALSE(fs::exists(bad / "report"));
  {
    std::ofstream f(bad / "metrics.jsonl");
    f << "{\"step\": 1, \"reward_total_mean\": 0.5}\n\n[1, 2]\n";
  }
  const RunResult arr = run("report " + bad.string());
  EXPECT_EQ(arr.code, 2) << arr.out;
  EXPECT_TRUE(contains(arr.out, "metrics.jsonl:3: expected a JSON object")) << arr.out;
  {
    std::ofstream f(bad / "metrics.jsonl");
    f << "{\"step\": 1, \"reward_total_mean\": 0.5}\n";
    std::ofstream g(bad / "eval_summaries.jsonl");
    g << "{\"label\": \"x\", \"step\": 0, \"exact_call_accuracy\": 0.1}\n{\"label\": \"y\", \"exact_call_accuracy\": 0.2}\n";
  }
  const RunResult s = run("report " + bad.string());
  EXPECT_EQ(s.code, 2) << s.out;
  EXPECT_TRUE(contains(s.out, "eval_summaries.jsonl:2: expected a number in \"step\"")) << s.out;
  EXPECT_FALSE(fs::exists(bad / "report"));
  // Repaired, the same directory gives a report with the one plot it has data for.
  fs::remove(bad / "eval_summaries.jsonl");
  const RunResult ok = run("report " + bad.string());
  ASSERT_EQ(ok.code, 0) << ok.out;
  EXPECT_TRUE(fs::exists(bad / "report" / "reward.svg"));
  EXPECT_FALSE(fs::exists(bad / "report" / "kl_entropy.svg"));
  EXPECT_TRUE(contains(text_of(bad / "report" / "index.html"), "no config.yaml"));
}

}  // namespace
