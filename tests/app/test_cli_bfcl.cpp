// `toolgrpo eval --format bfcl` on files shaped like BFCL v3's published data, quirks included: a simple
// question whose possible answer names its dotted function by the last part, a multiple question whose answer
// names a function the question lacks, an answer parameter the schema lacks. The file is evaluated (exit 0),
// each row scored as BFCL scores it, and the quirks named by file and line on stderr; malformed rows still
// stop the run with the file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reward/json.hpp"
#include "tests/app/cli_run.hpp"

namespace fs = std::filesystem;

namespace {

using namespace toolgrpo::testing;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string question(const std::string& id, const std::string& text, const std::string& fns) {
  return R"({"id": ")" + id + R"(", "question": [[{"role": "user", "content": ")" + text +
         R"("}]], "function": [)" + fns + "]}\n";
}

std::string output(const std::string& id, const std::string& calls) {
  std::string o = R"({"id": ")" + id + R"(", "output": )";
  toolgrpo::reward::json_append_string(o, "<think>x</think>\n<tool_call>\n" + calls + "\n</tool_call>");
  return o + "}\n";
}

const std::string kClosest =
    R"({"name": "restaurant_search.find_closest", "description": "Closest restaurant.", "parameters": )"
    R"({"type": "dict", "properties": {"location": {"type": "string"}, "cuisine": {"type": "string"}}, )"
    R"("required": ["location", "cuisine"]}})";
const std::string kTime = R"({"name": "get_time", "description": "Time in a zone.", "parameters": {"type": )"
                          R"("dict", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}})";
const std::string kArea = R"({"name": "calc_area", "description": "Area.", "parameters": {"type": "dict", )"
                          R"("properties": {"base": {"type": "integer"}}, "required": ["base"]}})";

TEST(CliEvalBfcl, PublishedQuirksAreEvaluatedAsBfclDoesAndNamed) {
  const fs::path dir = scratch() / "eval_bfcl_quirks";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "q.jsonl") << question("simple_40", "Sushi near Boston?", kClosest)
                                 << question("multiple_3", "Time in Paris?", kArea + ", " + kTime)
                                 << question("simple_2", "Time in CET?", kTime);
  const fs::path answers = dir / "a.jsonl";
  std::ofstream(answers)
      << R"({"id": "simple_40", "ground_truth": [{"find_closest": {"location": ["Boston, MA"], "cuisine": ["Sushi"]}}]})"
      << "\n"
      << R"({"id": "multiple_3", "ground_truth": [{"get_date": {"tz": ["CET"]}}]})"
      << "\n"
      << R"({"id": "simple_2", "ground_truth": [{"get_time": {"tz": ["", "CET"], "format": ["24h", ""]}}]})"
      << "\n";
  std::ofstream(dir / "o.jsonl")
      << output(
             "simple_40",
             R"({"name": "restaurant_search.find_closest", "parameters": {"location": "Boston, MA", "cuisine": "sushi"}})")
      << output("multiple_3", R"({"name": "get_time", "parameters": {"tz": "CET"}})")
      << output("simple_2", R"({"name": "get_time", "parameters": {"tz": "CET"}})");
  const std::string files =
      " --data " + (dir / "q.jsonl").string() + " --outputs " + (dir / "o.jsonl").string();
  const RunResult r = run("eval --format bfcl" + files + " --answers " + answers.string() + " --out " +
                          (dir / "rows.jsonl").string() + " --summary " + (dir / "summary.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  // simple_40: checked against the question's function, the one the output calls; multiple_3: BFCL has no
  // function "get_date" to check against, no output passes; simple_2: "format" is optional (""), "tz" given.
  const auto rows = lines_of(dir / "rows.jsonl");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(contains(rows[0], "\"valid\": true, \"error\": \"none\"")) << rows[0];
  EXPECT_TRUE(contains(rows[1], "\"valid\": false, \"error\": \"wrong_name\"")) << rows[1];
  EXPECT_TRUE(contains(rows[2], "\"valid\": true, \"error\": \"none\"")) << rows[2];
  EXPECT_TRUE(contains(slurp(dir / "summary.json"), "\"n\": 3, \"accuracy\": 0.6666666666666666,"))
      << slurp(dir / "summary.json");
  // The two rows whose answers name another function are warned about by answer file and line; simple_2's
  // optional "format" (absent from the schema, "" acceptable) is nothing to warn about.
  EXPECT_TRUE(contains(r.out, "eval: warning: " + answers.string() +
                                  ":1: id \"simple_40\": ground_truth[0]: names \"find_closest\", the "
                                  "question's function is \"restaurant_search.find_closest\""))
      << r.out;
  EXPECT_TRUE(
      contains(r.out, "eval: warning: " + answers.string() +
                          ":2: id \"multiple_3\": ground_truth[0]: function \"get_date\" is not among "
                          "the question's functions (\"calc_area\", \"get_time\")"))
      << r.out;
  EXPECT_FALSE(contains(r.out, "simple_2\": ground_truth")) << r.out;
  EXPECT_TRUE(contains(r.out, "accuracy             0.6667")) << r.out;

  // Malformed answer rows still stop the run: exit 2, the file and line and what was expected.
  const auto bad = [&](const std::string& name, const std::string& text, const std::string& message) {
    std::ofstream(dir / name) << text;
    const RunResult b = run("eval --format bfcl" + files + " --answers " + (dir / name).string() + " --out " +
                            (dir / "b_rows.jsonl").string());
    EXPECT_EQ(b.code, 2) << name << "\n" << b.out;
    EXPECT_TRUE(contains(b.out, (dir / name).string() + message)) << name << "\n" << b.out;
    EXPECT_FALSE(fs::exists(dir / "b_rows.jsonl")) << name;
  };
  bad("a_json.jsonl", slurp(answers) + "{\"id\": \"simple_9\", \n", ":4: not JSON");
  bad("a_key.jsonl", "{\"id\": \"simple_40\"}\n",
      ":1: expected an object {\"id\": string, \"ground_truth\": [...]}");
  bad("a_values.jsonl",
      "\n" +
          std::string(R"({"id": "simple_40", "ground_truth": [{"find_closest": {"location": "Boston"}}]})") +
          "\n",
      ":2: id \"simple_40\": ground_truth[0]: parameter \"location\" must map to a list of acceptable "
      "values");
}

}  // namespace
