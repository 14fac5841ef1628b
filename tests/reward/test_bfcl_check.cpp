// BFCL's AST check on hand-made calls, one rule per case: types (int for float, not float for int, bool is
// not int), required and unknown parameters, omitted optional ones with and without "", string normalisation,
// lists and dicts, parallel calls in any order, the number of calls, irrelevance; the checker of each BFCL
// category and the quirks of the published possible answers (a dotted function answered by its last part, an
// answer parameter the schema lacks, "" among a required parameter's values); and bad data named.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reward/bfcl_check.hpp"

namespace toolgrpo::reward {
namespace {

const std::string kFunctions = R"([
 {"name": "calc_area", "description": "Area of a shape.", "parameters": {"type": "dict", "properties": {
   "base": {"type": "integer"}, "height": {"type": "float"}, "unit": {"type": "string"},
   "exact": {"type": "boolean"}, "sides": {"type": "array", "items": {"type": "integer"}},
   "opts": {"type": "dict"}, "shapes": {"type": "array", "items": {"type": "dict"}}, "tag": {"type": "any"}},
   "required": ["base", "height"]}},
 {"name": "get_time", "description": "Time in a zone.", "parameters": {"type": "dict",
   "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}])";

const std::string kArea =
    R"([{"calc_area": {"base": [10], "height": [5.0], "unit": ["units", ""], "exact": [true, ""],
        "sides": [[3, 4], ""], "opts": [{"mode": ["fast"], "level": [1, ""]}, ""],
        "shapes": [[{"kind": ["square"]}], ""], "tag": ["", "x"]}}])";

std::string calls(const std::vector<std::string>& lines) {
  std::string s = "<think>x</think>\n<tool_call>";
  for (const auto& l : lines) s += "\n" + l;
  return s + "\n</tool_call>";
}

std::string area(const std::string& params) {
  return R"({"name": "calc_area", "parameters": )" + params + "}";
}

struct Case {
  const char* what;
  std::string output;
  BfclError error;  // None: valid
};

void expect_cases(const BfclCase& c, const std::vector<Case>& cases) {
  for (const Case& k : cases) {
    const BfclResult r = bfcl_check(k.output, c);
    EXPECT_EQ(r.valid, k.error == BfclError::None) << k.what << ": " << r.detail;
    EXPECT_EQ(r.error, k.error) << k.what << ": got " << bfcl_error_name(r.error) << " (" << r.detail << ")";
  }
}

TEST(BfclCheck, OneCallParameterRules) {
  const BfclCase c(kFunctions, kArea);
  EXPECT_TRUE(c.expects_call());
  const std::vector<Case> cases = {
      {"required only, optional ones omitted where \"\" is acceptable",
       calls({area(R"({"base": 10, "height": 5.0})")}), BfclError::None},
      {"an int where a float is expected", calls({area(R"({"base": 10, "height": 5})")}), BfclError::None},
      {"a float where an int is expected", calls({area(R"({"base": 10.0, "height": 5.0})")}),
       BfclError::WrongType},
      {"a bool is not an int", calls({area(R"({"base": true, "height": 5.0})")}), BfclError::WrongType},
      {"an int is not a bool", calls({area(R"({"base": 10, "height": 5.0, "exact": 1})")}),
       BfclError::WrongType},
      {"a bool where a bool is expected", calls({area(R"({"base": 10, "height": 5.0, "exact": true})")}),
       BfclError::None},
      {"a wrong int", calls({area(R"({"base": 11, "height": 5.0})")}), BfclError::WrongValue},
      {"required parameter missing", calls({area(R"({"base": 10})")}), BfclError::MissingParam},
      {"parameter unknown to the schema", calls({area(R"({"base": 10, "height": 5.0, "color": "red"})")}),
       BfclError::UnknownParam},
      {"strings compared after normalisation",
       calls({area(R"({"base": 10, "height": 5.0, "unit": "U-N_I.T S"})")}), BfclError::None},
      {"a string that differs after normalisation",
       calls({area(R"({"base": 10, "height": 5.0, "unit": "units!"})")}), BfclError::WrongValue},
      {"a number for a string", calls({area(R"({"base": 10, "height": 5.0, "unit": 3})")}),
       BfclError::WrongType},
      {"the list in order", calls({area(R"({"base": 10, "height": 5.0, "sides": [3, 4]})")}),
       BfclError::None},
      {"the list in another order", calls({area(R"({"base": 10, "height": 5.0, "sides": [4, 3]})")}),
       BfclError::WrongValue},
      // With "" acceptable, BFCL's nested type check passes any list; the value check still fails.
      {"a list element of the wrong type, \"\" acceptable",
       calls({area(R"({"base": 10, "height": 5.0, "sides": [3, "4"]})")}), BfclError::WrongValue},
      {"a dict: string values normalised, optional key omitted",
       calls({area(R"({"base": 10, "height": 5.0, "opts": {"mode": "FAST"}})")}), BfclError::None},
      {"a dict with an unknown key",
       calls({area(R"({"base": 10, "height": 5.0, "opts": {"mode": "fast", "x": 1}})")}),
       BfclError::WrongValue},
      {"a dict without a required key", calls({area(R"({"base": 10, "height": 5.0, "opts": {"level": 1}})")}),
       BfclError::WrongValue},
      {"a list of dicts", calls({area(R"({"base": 10, "height": 5.0, "shapes": [{"kind": "Square"}]})")}),
       BfclError::None},
      {"a list of dicts with a wrong value",
       calls({area(R"({"base": 10, "height": 5.0, "shapes": [{"kind": "disc"}]})")}), BfclError::WrongValue},
      {"a list of dicts of another length",
       calls({area(R"({"base": 10, "height": 5.0, "shapes": [{"kind": "square"}, {"kind": "square"}]})")}),
       BfclError::WrongValue},
      {"\"any\" takes a string", calls({area(R"({"base": 10, "height": 5.0, "tag": "X"})")}),
       BfclError::None},
      {"the wrong function", calls({R"({"name": "get_time", "parameters": {"tz": "CET"}})"}),
       BfclError::WrongName},
      {"two calls for one",
       calls({area(R"({"base": 10, "height": 5.0})"), area(R"({"base": 10, "height": 5.0})")}),
       BfclError::WrongCount},
      {"no call", "<think>x</think>\n<response>The area is 25.</response>", BfclError::MissingCall},
      {"broken JSON", calls({R"({"name": "calc_area", "parameters": {"base": 10)"}), BfclError::BrokenCall},
      {"parameters not an object", calls({R"({"name": "calc_area", "parameters": [10, 5.0]})"}),
       BfclError::BrokenCall},
  };
  expect_cases(c, cases);
}

TEST(BfclCheck, OmittedParameterPassesOnlyWithEmptyStringAcceptable) {
  const BfclCase strict(
      kFunctions,
      R"([{"calc_area": {"base": [10], "height": [5.0], "unit": ["units"], "sides": [[3, 4], [4]]}}])");
  expect_cases(
      strict,
      {{"unit omitted, \"\" not acceptable", calls({area(R"({"base": 10, "height": 5.0})")}),
        BfclError::MissingParam},
       {"unit given", calls({area(R"({"base": 10, "height": 5.0, "unit": "Units", "sides": [4]})")}),
        BfclError::None},
       {"a list element of the wrong type",
        calls({area(R"({"base": 10, "height": 5.0, "unit": "units", "sides": [3, "4"]})")}),
        BfclError::WrongType},
       {"a list of the wrong type",
        calls({area(R"({"base": 10, "height": 5.0, "unit": "units", "sides": 3})")}), BfclError::WrongType},
       {"the list", calls({area(R"({"base": 10, "height": 5.0, "unit": "units", "sides": [3, 4]})")}),
        BfclError::None},
       // In the schema but not in the possible answer: BFCL calls it unexpected.
       {"exact given, absent from the answer",
        calls({area(R"({"base": 10, "height": 5.0, "unit": "units", "sides": [4], "exact": true})")}),
        BfclError::UnknownParam}});
  // Acceptable values of another type than the schema's (BFCL's "variable" case): compared with Python ==.
  const BfclCase variable(kFunctions, R"([{"calc_area": {"base": [10], "height": [5]}}])");
  expect_cases(variable,
               {{"5.0 == 5", calls({area(R"({"base": 10, "height": 5.0})")}), BfclError::None},
                {"5 promoted", calls({area(R"({"base": 10, "height": 5})")}), BfclError::None},
                {"6.0 != 5", calls({area(R"({"base": 10, "height": 6.0})")}), BfclError::WrongValue}});
}

TEST(BfclCheck, ParallelCallsInAnyOrderEachMatchedOnce) {
  const BfclCase c(kFunctions, R"([{"get_time": {"tz": ["CET"]}}, {"get_time": {"tz": ["UTC"]}},
                                   {"calc_area": {"base": [10], "height": [5.0]}}])");
  const std::string cet = R"({"name": "get_time", "parameters": {"tz": "cet"}})";
  const std::string utc = R"({"name": "get_time", "parameters": {"tz": "UTC"}})";
  const std::string a = area(R"({"base": 10, "height": 5})");
  expect_cases(c, {{"in order", calls({cet, utc, a}), BfclError::None},
                   {"reversed", calls({a, utc, cet}), BfclError::None},
                   {"one call used twice", calls({cet, cet, a}), BfclError::WrongValue},
                   {"an expected function never called", calls({cet, utc, utc}), BfclError::WrongName},
                   {"one call missing", calls({cet, a}), BfclError::WrongCount},
                   {"one call extra", calls({cet, utc, a, a}), BfclError::WrongCount}});
  const BfclResult r = bfcl_check(calls({cet, cet, a}), c);
  EXPECT_NE(r.detail.find("expected call 2 (get_time)"), std::string::npos) << r.detail;
}

TEST(BfclCheck, IrrelevanceExpectsNoCall) {
  for (const char* truth : {"", "[]"}) {
    const BfclCase c(kFunctions, truth);
    EXPECT_FALSE(c.expects_call());
    expect_cases(
        c, {{"a plain answer", "<think>x</think>\n<response>No tool fits.</response>", BfclError::None},
            {"a call", calls({R"({"name": "get_time", "parameters": {"tz": "CET"}})"}),
             BfclError::UnexpectedCall},
            {"a broken call block", "<think>x</think>\n<tool_call>\n{\"name\": ", BfclError::BrokenCall}});
  }
}

TEST(BfclCheck, StandardizeAsBfcl) {
  EXPECT_EQ(bfcl_standardize("April 1, 2024"), "april12024");
  EXPECT_EQ(bfcl_standardize("New_York/City-2.0*x^2"), "newyorkcity20x2");
  EXPECT_EQ(bfcl_standardize("O'Brien"), "o\"brien");
  EXPECT_EQ(bfcl_standardize("Tab\there!?"), "tab\there!?");  // only the listed characters go
  EXPECT_EQ(bfcl_standardize("\xC3\x80\xC3\x89 \xCE\xA3\xD0\x96"),
            "\xC3\xA0\xC3\xA9\xCF\x83\xD0\xB6");  // ÀÉ ΣЖ
}

TEST(BfclCheck, RepresentativeGroundTruthAndSummary) {
  const BfclCase c(kFunctions, R"([{"calc_area": {"base": [10], "height": ["", 5.0], "unit": [""]}}])");
  EXPECT_EQ(
      c.toolrl_text(),
      "<think> </think>\n<tool_call>\n{\"name\": \"calc_area\", \"parameters\": {\"base\": 10, \"height\": "
      "5.0}}\n</tool_call>");
  EXPECT_EQ(BfclCase(kFunctions, "").toolrl_text(), "<think> </think>\n<response> </response>");
  std::vector<BfclResult> r(4);
  r[0].valid = r[0].expects_call = true;
  r[1].expects_call = true;
  r[1].error = BfclError::WrongValue;
  r[2].valid = true;
  r[3].error = BfclError::UnexpectedCall;
  const BfclSummary s = bfcl_summarize(r, {true, true, false, true});
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(s.format_accuracy, 0.75);
  EXPECT_EQ(s.call_rows, 2);
  EXPECT_EQ(s.irrelevance_rows, 2);
  EXPECT_DOUBLE_EQ(s.call_rows_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(s.irrelevance_accuracy, 0.5);
  EXPECT_EQ(s.errors.at("none"), 2);
  EXPECT_EQ(s.errors.at("wrong_value"), 1);
  EXPECT_EQ(s.errors.at("unexpected_call"), 1);
}

TEST(BfclCheck, BadDataIsNamed) {
  const auto fails = [](const std::string& fns, const std::string& truth, bool in_answers,
                        const std::string& what) {
    try {
      BfclCase c(fns, truth);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const BfclDataError& e) {
      EXPECT_EQ(e.in_answers, in_answers) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  fails(kFunctions, R"([{"get_time": {"tz": "CET"}}])", true, "list of acceptable values");
  fails(kFunctions, R"({"get_time": {}})", true, "must be a list");
  fails(R"([{"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "number"}}}}])", "",
        false, "parameter \"x\": \"type\" must be one of");
  fails(R"([{"name": "f"}])", "", false, "\"parameters\" must be an object");
  fails("[1, 2", "", false, "not JSON");
}

TEST(BfclCheck, CategoryFromBfclIds) {
  const auto category = [](const char* id) {
    const auto c = bfcl_category_from_id(id);
    return c ? std::string(bfcl_category_name(*c)) : std::string("none");
  };
  EXPECT_EQ(category("simple_0"), "simple");
  EXPECT_EQ(category("java_12"), "simple");
  EXPECT_EQ(category("javascript_3"), "simple");
  EXPECT_EQ(category("irrelevance_7"), "simple");
  EXPECT_EQ(category("live_simple_3-1-0"), "simple");
  EXPECT_EQ(category("multiple_4"), "multiple");
  EXPECT_EQ(category("live_multiple_9-3-1"), "multiple");
  EXPECT_EQ(category("parallel_2"), "parallel");
  EXPECT_EQ(category("parallel_multiple_7"), "parallel");
  EXPECT_EQ(category("live_parallel_multiple_0-0-0"), "parallel");
  for (const char* other :
       {"q1", "0", "simple", "simple_", "simple_x", "row_3", "exec_simple_1", "multi_turn_base_0"})
    EXPECT_EQ(category(other), "none") << other;
}

// BFCL v3's simple file answers a dotted function by its last part: the question offers
// "restaurant_search.find_closest", the possible answer says "find_closest".
const std::string kDotted =
    R"([{"name": "restaurant_search.find_closest", "description": "Closest restaurant.",
  "parameters": {"type": "dict", "properties": {"location": {"type": "string"}, "cuisine": {"type": "string"},
  "amenities": {"type": "array", "items": {"type": "string"}}}, "required": ["location", "cuisine"]}}])";
const std::string kDottedTruth =
    R"([{"find_closest": {"location": ["Boston, MA", "Boston"], "cuisine": ["Sushi"], "amenities": [["Patio"], ""]}}])";

std::string closest(const std::string& name, const std::string& params) {
  return R"({"name": ")" + name + R"(", "parameters": )" + params + "}";
}

TEST(BfclCheck, SimpleCategoryChecksTheQuestionsFunctionWhateverTheAnswerCallsIt) {
  const std::string full = "restaurant_search.find_closest";
  // BFCL's simple checker takes the question's function and requires its name in the output call; the
  // answer's name only carries the acceptable values. The same with a BFCL id and with an id of no category
  // (one function, one expected call).
  for (const char* id : {"simple_40", "q40"}) {
    const BfclCase c(kDotted, kDottedTruth, id);
    EXPECT_EQ(c.category(), BfclCategory::Simple) << id;
    ASSERT_EQ(c.warnings().size(), 1u) << id;
    EXPECT_NE(c.warnings()[0].find("names \"find_closest\", the question's function is "
                                   "\"restaurant_search.find_closest\""),
              std::string::npos)
        << c.warnings()[0];
    expect_cases(
        c, {{"the question's name",
             calls({closest(full, R"({"location": "boston, ma", "cuisine": "sushi"})")}), BfclError::None},
            {"with the optional list",
             calls({closest(full, R"({"location": "Boston", "cuisine": "Sushi", "amenities": ["Patio"]})")}),
             BfclError::None},
            {"the answer's short name",
             calls({closest("find_closest", R"({"location": "Boston", "cuisine": "Sushi"})")}),
             BfclError::WrongName},
            {"a wrong value", calls({closest(full, R"({"location": "Boston", "cuisine": "Tacos"})")}),
             BfclError::WrongValue},
            {"two calls",
             calls({closest(full, R"({"location": "Boston", "cuisine": "Sushi"})"),
                    closest(full, R"({"location": "Boston", "cuisine": "Sushi"})")}),
             BfclError::WrongCount}});
  }
  // The ground truth the format reward reads names the function the calls are checked against.
  EXPECT_EQ(
      BfclCase(kDotted, kDottedTruth, "simple_40").toolrl_text(),
      "<think> </think>\n<tool_call>\n{\"name\": \"restaurant_search.find_closest\", \"parameters\": "
      "{\"location\": \"Boston, MA\", \"cuisine\": \"Sushi\", \"amenities\": [\"Patio\"]}}\n</tool_call>");
}

TEST(BfclCheck, AnswerNamingAnAbsentFunctionFailsOutsideSimpleWithAWarning) {
  const std::string full = "restaurant_search.find_closest";
  const std::string good = closest(full, R"({"location": "Boston", "cuisine": "Sushi"})");
  // Multiple: BFCL looks the function up by the answer's name and finds none; the row is kept, warned about,
  // and no output passes it. The number of calls is checked first, as BFCL does.
  const BfclCase multiple(kDotted, kDottedTruth, "multiple_40");
  EXPECT_EQ(multiple.category(), BfclCategory::Multiple);
  ASSERT_EQ(multiple.warnings().size(), 1u);
  EXPECT_NE(multiple.warnings()[0].find("ground_truth[0]: function \"find_closest\" is not among the "
                                        "question's functions (\"restaurant_search.find_closest\")"),
            std::string::npos)
      << multiple.warnings()[0];
  expect_cases(multiple, {{"the question's name", calls({good}), BfclError::WrongName},
                          {"the answer's name",
                           calls({closest("find_closest", R"({"location": "Boston", "cuisine": "Sushi"})")}),
                           BfclError::WrongName},
                          {"two calls for one", calls({good, good}), BfclError::WrongCount}});
  // Parallel: the first expected call is matched, the second names no function of the question.
  const BfclCase parallel(kFunctions, R"([{"get_time": {"tz": ["CET"]}}, {"get_date": {"tz": ["UTC"]}}])",
                          "parallel_9");
  EXPECT_EQ(parallel.category(), BfclCategory::Parallel);
  ASSERT_EQ(parallel.warnings().size(), 1u);
  EXPECT_NE(parallel.warnings()[0].find("ground_truth[1]: function \"get_date\" is not among"),
            std::string::npos)
      << parallel.warnings()[0];
  const std::string cet = R"({"name": "get_time", "parameters": {"tz": "CET"}})";
  const std::string utc_date = R"({"name": "get_date", "parameters": {"tz": "UTC"}})";
  expect_cases(parallel, {{"both calls", calls({cet, utc_date}), BfclError::WrongName},
                          {"one call", calls({cet}), BfclError::WrongCount}});
  EXPECT_NE(bfcl_check(calls({cet, utc_date}), parallel).detail.find("expected call 2 (get_date)"),
            std::string::npos);
  // Without a BFCL id: two functions and one expected call are checked as BFCL's multiple category.
  const BfclCase shape(kFunctions, R"([{"no_such_fn": {}}])");
  EXPECT_EQ(shape.category(), BfclCategory::Multiple);
  ASSERT_EQ(shape.warnings().size(), 1u);
  EXPECT_NE(shape.warnings()[0].find("\"no_such_fn\" is not among the question's functions (\"calc_area\", "
                                     "\"get_time\")"),
            std::string::npos)
      << shape.warnings()[0];
  expect_cases(shape,
               {{"any call", calls({R"({"name": "no_such_fn", "parameters": {}})"}), BfclError::WrongName}});
}

const std::string kTime =
    R"([{"name": "get_time", "description": "Time in a zone.", "parameters": {"type": "dict",
  "properties": {"tz": {"type": "string"}, "days": {"type": "integer"}}, "required": ["tz"]}}])";

TEST(BfclCheck, AnswerParameterAbsentFromTheSchema) {
  // "format" is in the possible answer, not in the schema. BFCL: given, it is an unexpected parameter (not in
  // the function's properties); omitted, it passes only where "" is among its values.
  const BfclCase optional(kTime, R"([{"get_time": {"tz": ["CET"], "format": ["24h", ""]}}])", "simple_1");
  EXPECT_TRUE(optional.warnings().empty()) << optional.warnings()[0];
  expect_cases(optional,
               {{"omitted", calls({R"({"name": "get_time", "parameters": {"tz": "CET"}})"}), BfclError::None},
                {"given", calls({R"({"name": "get_time", "parameters": {"tz": "CET", "format": "24h"}})"}),
                 BfclError::UnknownParam}});
  EXPECT_EQ(optional.toolrl_text(),
            "<think> </think>\n<tool_call>\n{\"name\": \"get_time\", \"parameters\": {\"tz\": \"CET\"}}"
            "\n</tool_call>");
  const BfclCase strict(kTime, R"([{"get_time": {"tz": ["CET"], "format": ["24h"]}}])", "simple_2");
  ASSERT_EQ(strict.warnings().size(), 1u);
  EXPECT_NE(strict.warnings()[0].find("parameter \"format\" is not in the schema of \"get_time\""),
            std::string::npos)
      << strict.warnings()[0];
  expect_cases(
      strict,
      {{"omitted", calls({R"({"name": "get_time", "parameters": {"tz": "CET"}})"}), BfclError::MissingParam},
       {"given", calls({R"({"name": "get_time", "parameters": {"tz": "CET", "format": "24h"}})"}),
        BfclError::UnknownParam}});
}

TEST(BfclCheck, EmptyStringDoesNotExcuseARequiredParameter) {
  // BFCL checks the schema's required parameters before anything else, so "" among a required parameter's
  // values does not let it be omitted; given as "", a string passes ("" is among the normalised values), an
  // integer fails the type check (the acceptable values' type, int, is not str either).
  const BfclCase tz(kTime, R"([{"get_time": {"tz": ["", "CET"]}}])", "simple_3");
  EXPECT_TRUE(tz.warnings().empty());
  expect_cases(
      tz, {{"omitted", calls({R"({"name": "get_time", "parameters": {}})"}), BfclError::MissingParam},
           {"given", calls({R"({"name": "get_time", "parameters": {"tz": "c-e-t"}})"}), BfclError::None},
           {"given as \"\"", calls({R"({"name": "get_time", "parameters": {"tz": ""}})"}), BfclError::None},
           {"another zone", calls({R"({"name": "get_time", "parameters": {"tz": "UTC"}})"}),
            BfclError::WrongValue}});
  const BfclCase days(kTime, R"([{"get_time": {"tz": ["CET"], "days": ["", 3]}}])", "simple_4");
  expect_cases(
      days,
      {{"optional days omitted", calls({R"({"name": "get_time", "parameters": {"tz": "CET"}})"}),
        BfclError::None},
       {"days given", calls({R"({"name": "get_time", "parameters": {"tz": "CET", "days": 3}})"}),
        BfclError::None},
       {"days given as \"\"", calls({R"({"name": "get_time", "parameters": {"tz": "CET", "days": ""}})"}),
        BfclError::WrongType}});
  // A required parameter whose only acceptable value is "": the representative call gives "" (what passes).
  EXPECT_EQ(BfclCase(kTime, R"([{"get_time": {"tz": [""]}}])", "simple_5").toolrl_text(),
            "<think> </think>\n<tool_call>\n{\"name\": \"get_time\", \"parameters\": {\"tz\": "
            "\"\"}}\n</tool_call>");
}

}  // namespace
}  // namespace toolgrpo::reward
