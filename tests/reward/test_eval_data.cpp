// API-Bank and BFCL files as ToolRL-style prompts: API-Bank answers as a bare call or a one-element list (and
// checked exactly against outputs), BFCL questions rendered in ToolRL's system prompt, and bad rows named by
// file and element or line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "reward/eval_data.hpp"
#include "reward/evaluate.hpp"

namespace toolgrpo::reward {
namespace {

namespace fs = std::filesystem;

fs::path write(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("toolgrpo_eval_data_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / name) << text;
  return dir / name;
}

std::string load_error(const std::string& path, bool apibank, const std::string& answers = "") {
  try {
    if (apibank)
      apibank_load(path);
    else
      bfcl_load(path, answers);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(EvalData, ApiBankAnswersBareOrInAListCheckedExactly) {
  // Parameters in the system prompt may be Python reprs: the prompt is text only.
  const fs::path p = write("apibank.json", R"([
    {"system": "Tools: {'date': {'type': 'str'}}", "user": "**Dialogue Records History**\n<user> When? </user>",
     "answer": [{"name": "QueryMeeting", "parameters": {"date": "2023-03-01", "room": 2}}], "other": {"x": 1}},
    {"system": "s", "user": "u", "answer": {"name": "ToolSearcher", "parameters": {"keywords": "alarm"}}}])");
  const auto rows = apibank_load(p.string());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "0");
  EXPECT_EQ(rows[1].id, "1");
  EXPECT_EQ(rows[0].system, "Tools: {'date': {'type': 'str'}}");
  EXPECT_EQ(rows[0].ground_truth,
            "<think> </think>\n<tool_call>\n{\"name\": \"QueryMeeting\", \"parameters\": {\"date\": "
            "\"2023-03-01\", "
            "\"room\": 2}}\n</tool_call>");
  EXPECT_EQ(
      rows[1].ground_truth,
      "<think> </think>\n<tool_call>\n{\"name\": \"ToolSearcher\", \"parameters\": {\"keywords\": \"alarm\"}}"
      "\n</tool_call>");
  const RewardConfig cfg;
  const auto eval = [&](const std::string& out, std::size_t row) {
    return evaluate_output(out, GroundTruth(rows[row].ground_truth), cfg, 0);
  };
  const EvalRecord exact = eval(
      "<think>a</think>\n<tool_call>\n{\"name\": \"QueryMeeting\", \"parameters\": {\"room\": 2.0, \"date\": "
      "\"2023-03-01\"}}\n</tool_call>",
      0);
  EXPECT_TRUE(exact.match.exact);
  EXPECT_TRUE(exact.format_ok);
  const EvalRecord wrong = eval(
      "<think>a</think>\n<tool_call>\n{\"name\": \"ToolSearcher\", \"parameters\": {\"keywords\": \"Alarm\"}}"
      "\n</tool_call>",
      1);
  EXPECT_FALSE(wrong.match.exact);
  EXPECT_TRUE(wrong.match.names);
  EXPECT_EQ(wrong.match.error, CallError::WrongArguments);
}

TEST(EvalData, ApiBankBadElementsNamed) {
  const auto err = [](const std::string& text) { return load_error(write("bad.json", text).string(), true); };
  EXPECT_NE(err(R"([{"system": "s", "user": "u", "answer": {"name": "A"}},
                    {"system": "s", "user": "u", "answer": [{"name": "A"}, {"name": "B"}]}])")
                .find("bad.json: element 1: field \"answer\" must be a call"),
            std::string::npos);
  EXPECT_NE(
      err(R"([{"system": "s", "answer": {"name": "A"}}])").find("element 0: field \"user\" must be a string"),
      std::string::npos);
  EXPECT_NE(err(R"([{"system": "s", "user": "u", "answer": {"name": "A", "parameters": [1]}}])")
                .find("element 0: field \"answer\""),
            std::string::npos);
  EXPECT_NE(err(R"({"system": "s"})").find("expected a non-empty JSON list"), std::string::npos);
  EXPECT_NE(err("[{").find("not JSON"), std::string::npos);
}

const std::string kQuestion =
    R"({"id": "simple_0", "question": [[{"role": "user", "content": "Area of base 10, height 5?"}]], )"
    R"("function": [{"name": "calc_area", "description": "Area.", "parameters": {"type": "dict", )"
    R"("properties": {"base": {"type": "integer"}, "height": {"type": "integer"}}, "required": ["base"]}}]})";

TEST(EvalData, BfclQuestionsRenderedAsToolRLPrompts) {
  const fs::path q = write(
      "q.jsonl", kQuestion + "\n\n" +
                     R"({"id": "simple_1", "question": [[{"role": "system", "content": "Be brief."}, )"
                     R"({"role": "user", "content": "Hi"}], [{"role": "assistant", "content": "Hello"}, )"
                     R"({"role": "user", "content": "Area?"}]], "function": [{"name": "calc_area", )"
                     R"("description": "Area.", "parameters": {"type": "dict", "properties": {}}}]})"
                     "\n");
  const fs::path a = write(
      "a.jsonl", R"({"id": "simple_1", "ground_truth": [{"calc_area": {}}]})"
                 "\n"
                 R"({"id": "simple_0", "ground_truth": [{"calc_area": {"base": [10], "height": [5, ""]}}]})"
                 "\n");
  const auto qs = bfcl_load(q.string(), a.string());
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(qs[0].prompt.id, "simple_0");
  EXPECT_EQ(qs[0].line, 1u);
  EXPECT_EQ(qs[1].line, 3u);
  const std::string& sys = qs[0].prompt.system;
  EXPECT_EQ(sys.rfind("You are a helpful multi-turn dialogue assistant", 0), 0u) << sys;
  EXPECT_NE(
      sys.find("**Available Tools**\nIn your response, you can use the following tools:\n1. Name: calc_area\n"
               "Description: Area.\nParameters: {\"type\": \"dict\", \"properties\": {\"base\": {\"type\": "
               "\"integer\"}, \"height\": {\"type\": \"integer\"}}, \"required\": [\"base\"]}\n\n**Steps for "
               "Each Turn**"),
      std::string::npos)
      << sys;
  EXPECT_NE(sys.find("**Output Format**"), std::string::npos);
  EXPECT_EQ(qs[0].prompt.user, "**Dialogue Records History**\n<user> Area of base 10, height 5? </user>");
  EXPECT_EQ(qs[1].prompt.user,
            "**Dialogue Records History**\n<user> Hi </user>\n\n<response> Hello </response>\n\n<user> Area? "
            "</user>");
  EXPECT_EQ(qs[1].prompt.system.substr(qs[1].prompt.system.size() - 11), "\n\nBe brief.");
  EXPECT_EQ(qs[0].prompt.ground_truth,
            "<think> </think>\n<tool_call>\n{\"name\": \"calc_area\", \"parameters\": {\"base\": 10, "
            "\"height\": 5}}"
            "\n</tool_call>");
  EXPECT_TRUE(
      bfcl_check("<tool_call>\n{\"name\": \"calc_area\", \"parameters\": {\"base\": 10}}\n</tool_call>",
                 qs[0].check)
          .valid);
  // Without answers every question expects no call.
  const auto irrelevance = bfcl_load(q.string(), "");
  EXPECT_FALSE(irrelevance[0].check.expects_call());
}

TEST(EvalData, BfclBadRowsNamed) {
  const fs::path q = write("q1.jsonl", kQuestion + "\n");
  const fs::path other = write("a_other.jsonl", R"({"id": "simple_9", "ground_truth": []})"
                                                "\n");
  EXPECT_NE(load_error(q.string(), false, other.string())
                .find("q1.jsonl:1: question \"simple_0\" has no possible-answer row in"),
            std::string::npos);
  const fs::path twice = write("a_twice.jsonl", R"({"id": "simple_0", "ground_truth": []})"
                                                "\n"
                                                R"({"id": "simple_0", "ground_truth": []})"
                                                "\n");
  EXPECT_NE(
      load_error(q.string(), false, twice.string()).find("a_twice.jsonl:2: id \"simple_0\" appears again"),
      std::string::npos);
  const fs::path values = write("a_values.jsonl",
                                "\n"
                                R"({"id": "simple_0", "ground_truth": [{"calc_area": {"base": 10}}]})"
                                "\n");
  EXPECT_NE(
      load_error(q.string(), false, values.string())
          .find("a_values.jsonl:2: id \"simple_0\": ground_truth[0]: parameter \"base\" must map to a list"),
      std::string::npos);
  // A simple question's answer under another function name is BFCL data as published: loaded, checked against
  // the question's function, and warned about by answer file and line.
  const fs::path other_name = write("a_fn.jsonl",
                                    "\n"
                                    R"({"id": "simple_0", "ground_truth": [{"area": {"base": [10]}}]})"
                                    "\n");
  const auto renamed = bfcl_load(q.string(), other_name.string());
  ASSERT_EQ(renamed[0].warnings.size(), 1u);
  EXPECT_EQ(renamed[0].warnings[0].rfind(
                other_name.string() + ":2: id \"simple_0\": ground_truth[0]: names \"area\"", 0),
            0u)
      << renamed[0].warnings[0];
  const fs::path garbage = write("q2.jsonl", kQuestion + "\n{\"id\": \"x\", \n");
  EXPECT_NE(load_error(garbage.string(), false).find("q2.jsonl:2: not JSON"), std::string::npos);
  const fs::path role =
      write("q3.jsonl", R"({"id": "x", "question": [[{"role": "robot", "content": "hi"}]], "function": []})"
                        "\n");
  EXPECT_NE(load_error(role.string(), false).find("q3.jsonl:1: unknown role \"robot\""), std::string::npos);
  EXPECT_NE(load_error((q.parent_path() / "missing.jsonl").string(), false).find("cannot read"),
            std::string::npos);
}

}  // namespace
}  // namespace toolgrpo::reward
