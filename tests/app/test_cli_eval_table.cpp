// `toolgrpo eval-table` through the executable, on per-example files that `toolgrpo eval --out` wrote: column
// means and paired differences against hand-counted answers, pass@K from sampled outputs, the same table on
// every run, and bad input named by file and line with exit code 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/app/cli_run.hpp"

namespace toolgrpo::testing {
namespace {

class EvalTable : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch() / "eval_table";
    fs::create_directories(dir_);
    const RunResult r =
        run("synth-data --out " + dir_.string() + " --n 20 --heldout 8 --heldout-seen 8 --seed 3");
    ASSERT_EQ(r.code, 0) << r.out;
    rows_ = lines_of(dir_ / "heldout.jsonl");
    ASSERT_EQ(rows_.size(), 8u);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Evaluates outputs that are the ground truth on the rows in `right` and a plain "no" elsewhere; returns
  // the path of eval's --out file.
  std::string evaluated(const std::string& name, const std::vector<int>& right) {
    std::ofstream out(dir_ / (name + ".outputs.jsonl"));
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const nlohmann::json row = nlohmann::json::parse(rows_[i]);
      const bool ok = std::find(right.begin(), right.end(), static_cast<int>(i)) != right.end();
      out << nlohmann::json{{"id", row["id"]}, {"output", ok ? row["ground_truth"].get<std::string>() : "no"}}
                 .dump()
          << "\n";
    }
    out.close();
    const std::string path = (dir_ / (name + ".jsonl")).string();
    const RunResult r = run("eval --data " + (dir_ / "heldout.jsonl").string() + " --outputs " +
                            (dir_ / (name + ".outputs.jsonl")).string() + " --out " + path);
    EXPECT_EQ(r.code, 0) << r.out;
    return path;
  }

  nlohmann::json table(const std::string& args, RunResult* printed = nullptr) {
    const std::string json = (dir_ / "table.json").string();
    const RunResult r = run("eval-table " + args + " --json " + json);
    if (printed) *printed = r;
    EXPECT_EQ(r.code, 0) << r.out;
    std::ifstream in(json);
    return nlohmann::json::parse(in);
  }

  fs::path dir_;
  std::vector<std::string> rows_;
};

TEST_F(EvalTable, MeansAndPairedDifferencesOfEvalOutFiles) {
  const std::string before = evaluated("before", {0, 1});              // 2 of 8
  const std::string after1 = evaluated("after1", {0, 1, 2, 3, 4, 5});  // 6 of 8
  const std::string after2 = evaluated("after2", {0, 1, 2, 3});        // 4 of 8
  const std::string all = evaluated("all", {0, 1, 2, 3, 4, 5, 6, 7});
  RunResult printed;
  const nlohmann::json t =
      table("--column before=" + before + " --column after=" + after1 + "," + after2 +
                " --column all=" + all + " --diff after-before --diff before-before --resamples 3000",
            &printed);
  EXPECT_EQ(t["rows"], 8);
  EXPECT_EQ(t["resamples"], 3000);
  ASSERT_EQ(t["columns"].size(), 3u);
  EXPECT_EQ(t["columns"][0]["exact_call"]["mean"], 0.25);
  EXPECT_EQ(t["columns"][1]["seeds"], 2);
  EXPECT_EQ(t["columns"][1]["exact_call"]["mean"], 0.625);  // (6/8 + 4/8) / 2
  EXPECT_EQ(t["columns"][1]["exact_call_per_seed"], nlohmann::json({0.75, 0.5}));
  EXPECT_TRUE(t["columns"][1]["pass_at_k"].is_null());
  EXPECT_EQ(t["columns"][2]["exact_call"], nlohmann::json({{"mean", 1.0}, {"lo", 1.0}, {"hi", 1.0}}));
  const nlohmann::json& d = t["differences"][0];
  EXPECT_EQ(d["a"], "after");
  EXPECT_EQ(d["b"], "before");
  EXPECT_EQ(d["exact_call"]["mean"], 0.375);
  // Every row of after is exact wherever before's is: no paired resample is below 0 (an unpaired one could
  // be).
  EXPECT_GE(d["exact_call"]["lo"].get<double>(), 0.0);
  EXPECT_LT(d["exact_call"]["lo"].get<double>(), 0.375);
  EXPECT_GT(d["exact_call"]["hi"].get<double>(), 0.375);
  const nlohmann::json& same = t["differences"][1];
  EXPECT_EQ(same["exact_call"],
            nlohmann::json({{"mean", 0.0}, {"lo", 0.0}, {"hi", 0.0}, {"excludes_zero", false}}));
  EXPECT_TRUE(contains(printed.out, "after is above before by 0.375: the 95% interval [")) << printed.out;
  EXPECT_TRUE(
      contains(printed.out, "before equals before: the 95% interval [+0.000, +0.000] does not exclude 0"))
      << printed.out;
  EXPECT_TRUE(
      contains(printed.out, d["exact_call"]["excludes_zero"] ? "] excludes 0" : "] does not exclude 0"));
  // The same input, the same table.
  RunResult again;
  table("--column before=" + before + " --column after=" + after1 + "," + after2 + " --column all=" + all +
            " --diff after-before --diff before-before --resamples 3000",
        &again);
  EXPECT_EQ(again.out, printed.out);
}

TEST_F(EvalTable, SampledOutputsGiveTheMeanOverSamplesAndPassAtK) {
  // Two samples per row, as eval --samples 2 writes them: row 0 {yes, no}, 1 {no, no}, 2 {yes, yes}, 3 {no,
  // yes}.
  const std::string path = (dir_ / "k2.jsonl").string();
  std::ofstream out(path);
  const bool exact[4][2] = {{true, false}, {false, false}, {true, true}, {false, true}};
  for (int r = 0; r < 4; ++r)
    for (int s = 0; s < 2; ++s)
      out << "{\"id\": \"heldout-" << r << "\", \"sample\": " << s
          << ", \"output\": \"x\", \"exact_call\": " << (exact[r][s] ? "true" : "false")
          << ", \"name_match\": false}\n";
  out.close();
  RunResult printed;
  const nlohmann::json t = table("--column sampled=" + path, &printed);
  EXPECT_EQ(t["columns"][0]["samples_per_row"], 2);
  EXPECT_EQ(t["columns"][0]["exact_call"]["mean"], 0.5);  // (1/2 + 0 + 1 + 1/2) / 4
  EXPECT_EQ(t["columns"][0]["pass_at_k"]["mean"], 0.75);  // 3 of 4 rows have an exact sample
  EXPECT_TRUE(contains(printed.out, "pass@K")) << printed.out;
}

TEST_F(EvalTable, BadInputNamesTheFileAndLine) {
  const std::string before = evaluated("before", {0, 1});
  const std::vector<std::string> lines = lines_of(before);
  const auto write = [&](const std::string& name, const std::vector<std::string>& ls) {
    std::ofstream out(dir_ / name);
    for (const std::string& l : ls) out << l << "\n";
    return (dir_ / name).string();
  };
  // Seven rows against eight.
  const std::string short_file = write("short.jsonl", {lines.begin(), lines.end() - 1});
  RunResult r = run("eval-table --column a=" + before + " --column b=" + short_file);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(contains(r.out, short_file + " has 7 rows, " + before + " has 8")) << r.out;
  // A line that is not JSON, on line 3.
  std::vector<std::string> broken = lines;
  broken[2] = "{\"id\": \"heldout-2\", \"exact_call\": tru";
  const std::string broken_file = write("broken.jsonl", broken);
  r = run("eval-table --column a=" + broken_file);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(contains(r.out, broken_file + ":3: not JSON")) << r.out;
  // A line without the outcome, on line 2.
  std::vector<std::string> bare = lines;
  bare[1] = "{\"id\": \"heldout-1\", \"output\": \"x\"}";
  const std::string bare_file = write("bare.jsonl", bare);
  r = run("eval-table --column a=" + bare_file);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(contains(r.out, bare_file + ":2: expected a boolean \"exact_call\"")) << r.out;
  // The same rows in another order: the first row that differs, with its line.
  std::vector<std::string> swapped = lines;
  std::swap(swapped[4], swapped[5]);
  const std::string swapped_file = write("swapped.jsonl", swapped);
  r = run("eval-table --column a=" + before + " --column b=" + swapped_file);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(contains(r.out, swapped_file + ":5: row 5 is id \"heldout-5\"")) << r.out;
  // A missing file, an unknown --diff column, two columns of one name, no column.
  r = run("eval-table --column a=" + (dir_ / "missing.jsonl").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.out, "cannot read " + (dir_ / "missing.jsonl").string())) << r.out;
  r = run("eval-table --column a=" + before + " --diff a-b");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.out, "--diff a-b: expected A-B naming two --column names")) << r.out;
  r = run("eval-table --column a=" + before + " --column a=" + before);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.out, "two columns are named a")) << r.out;
  r = run("eval-table");
  EXPECT_EQ(r.code, 2);
  // Three seeds against two cannot be paired.
  r = run("eval-table --column a=" + before + "," + before + " --column b=" + before + "," + before + "," +
          before + " --diff a-b");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.out, "a has 2 seeds and b has 3")) << r.out;
}

}  // namespace
}  // namespace toolgrpo::testing
