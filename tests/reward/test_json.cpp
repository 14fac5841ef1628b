// Python json.loads and == semantics of the reward's JSON value type, each case checked against CPython.
#include <gtest/gtest.h>

#include <cmath>

#include "reward/json.hpp"

namespace toolgrpo::reward {
namespace {

struct Parsed {
  Arena arena;
  JsonParser parser;
  JsonError err;
  const Value* v = nullptr;
  explicit Parsed(std::string_view text) { v = parser.parse(text, arena, &err); }
};

bool loads_ok(std::string_view text) { return Parsed(text).v != nullptr; }

bool eq(std::string_view a, std::string_view b) {
  Parsed pa(a), pb(b);
  EXPECT_NE(pa.v, nullptr) << a;
  EXPECT_NE(pb.v, nullptr) << b;
  return pa.v && pb.v && py_equal(*pa.v, *pb.v);
}

TEST(JsonLoads, AcceptsWhatPythonAccepts) {
  for (const char* ok : {"0", "-0", "1.5e3", "1E0", "-1e-5", "NaN", "Infinity", "-Infinity", "1e400", "true",
                         " \t\r\n{} \n", "[]", "[1, [2, {\"a\": null}]]", "\"\\ud800\"", "\"\\u00e9\\/\"",
                         "123456789012345678901234567890", "\"\x7f\"", "{\"a\" : 1 , \"b\":2}"})
    EXPECT_TRUE(loads_ok(ok)) << ok;
}

TEST(JsonLoads, RejectsWhatPythonRejects) {
  for (const char* bad : {"", " ", "01", "1.", ".5", "+1", "1e", "-", "nan", "inf", "True", "None", "'a'",
                          "{a: 1}", "[1,]", "{\"a\": 1,}", "[1 2]", "{} {}", "1 // c", "\"a\tb\"",
                          "\"\\x41\"", "\"\\u12\"", "\"unterminated", "\xEF\xBB\xBF{}", "\f{}", "{\"a\" 1}",
                          "[", "\"\\ud800"})
    EXPECT_FALSE(loads_ok(bad)) << bad;
}

TEST(JsonLoads, ErrorWordingFollowsPython) {
  EXPECT_EQ(Parsed("").err.message, "Expecting value");
  EXPECT_EQ(Parsed("{} x").err.message, "Extra data");
  EXPECT_EQ(Parsed("{} x").err.offset, 3u);
  EXPECT_EQ(Parsed("{\"a\": 1,}").err.message, "Expecting property name enclosed in double quotes");
  EXPECT_EQ(Parsed("\"a\x01\"").err.message, "Invalid control character at");
}

TEST(JsonLoads, DuplicateKeysLastValueFirstPosition) {
  Parsed p(R"({"a": 1, "b": 2, "a": 3})");
  ASSERT_NE(p.v, nullptr);
  ASSERT_EQ(p.v->size, 2u);
  EXPECT_EQ(p.v->u.members[0].key, "a");
  EXPECT_EQ(p.v->u.members[0].value.u.i, 3);
  EXPECT_EQ(p.v->u.members[1].key, "b");
  // Large objects take the indexed path: same rule.
  std::string big = "{";
  for (int i = 0; i < 100; ++i) big += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  big += "\"k5\": -1}";
  Parsed q(big);
  ASSERT_NE(q.v, nullptr);
  EXPECT_EQ(q.v->size, 100u);
  EXPECT_EQ(q.v->u.members[5].value.u.i, -1);
}

TEST(JsonLoads, StringsAndSurrogates) {
  Parsed pair(R"("\ud83d\ude00")");
  EXPECT_EQ(pair.v->string(), "\xF0\x9F\x98\x80");  // one code point U+1F600
  Parsed lone(R"("\ud800x")");
  EXPECT_EQ(lone.v->string(), "\xED\xA0\x80x");  // lone surrogate kept (WTF-8)
  Parsed high_then_high(R"("\ud800\ud800")");
  EXPECT_EQ(high_then_high.v->string(), "\xED\xA0\x80\xED\xA0\x80");
  Parsed esc(R"("a\"\\\/\b\f\n\r\t\u0041")");
  EXPECT_EQ(esc.v->string(), std::string("a\"\\/\b\f\n\r\tA"));
}

TEST(JsonLoads, Numbers) {
  Parsed huge("1e400");
  EXPECT_TRUE(std::isinf(huge.v->u.f));
  Parsed tiny("1e-400");
  EXPECT_EQ(tiny.v->u.f, 0.0);
  Parsed big("-123456789012345678901234567890");
  EXPECT_EQ(big.v->kind, JsonKind::BigInt);
  EXPECT_TRUE(big.v->flag);
  Parsed edge("-9223372036854775808");
  EXPECT_EQ(edge.v->kind, JsonKind::Int);
  EXPECT_EQ(edge.v->u.i, INT64_MIN);
  EXPECT_EQ(Parsed("9223372036854775808").v->kind, JsonKind::BigInt);
  EXPECT_FALSE(loads_ok(std::string(4301, '7')));  // CPython's 4300-digit limit
  EXPECT_TRUE(loads_ok(std::string(4300, '7')));
}

TEST(JsonLoads, DepthLimit) {
  EXPECT_TRUE(loads_ok(std::string(100, '[') + std::string(100, ']')));
  EXPECT_FALSE(loads_ok(std::string(100000, '[') + std::string(100000, ']')));
}

TEST(PyEqual, NumericTower) {
  EXPECT_TRUE(eq("1", "1.0"));
  EXPECT_TRUE(eq("1", "true"));
  EXPECT_TRUE(eq("0", "false"));
  EXPECT_TRUE(eq("0", "-0.0"));
  EXPECT_TRUE(eq("false", "-0.0"));
  EXPECT_FALSE(eq("null", "0"));
  EXPECT_FALSE(eq("\"1\"", "1"));
  EXPECT_FALSE(eq("9007199254740993", "9007199254740992.0"));
  EXPECT_TRUE(eq("9007199254740992", "9007199254740992.0"));
  EXPECT_TRUE(eq("1.00000000000000001", "1"));
  EXPECT_TRUE(eq("100000000000000000000", "1e20"));
  EXPECT_FALSE(eq("100000000000000000001", "1e20"));
  EXPECT_TRUE(eq("-100000000000000000000", "-1e20"));
  EXPECT_FALSE(eq("100000000000000000000", "-1e20"));
  EXPECT_FALSE(eq("NaN", "NaN"));
  EXPECT_TRUE(eq("Infinity", "1e400"));
  EXPECT_FALSE(eq("123456789012345678901234567890", "Infinity"));
}

TEST(PyEqual, Containers) {
  EXPECT_TRUE(eq(R"({"a": 1, "b": [1, 2]})", R"({"b": [1.0, 2], "a": true})"));
  EXPECT_FALSE(eq("[1, 2]", "[2, 1]"));
  EXPECT_FALSE(eq(R"({"a": 1})", R"({"a": 1, "b": 2})"));
  EXPECT_FALSE(eq("[]", "{}"));
  // json.loads returns one shared NaN object: equal inside containers (identity), unequal at top level.
  EXPECT_TRUE(eq("[NaN]", "[NaN]"));
  EXPECT_TRUE(eq(R"({"x": NaN})", R"({"x": NaN})"));
}

TEST(JsonDumps, MatchesPythonDefaults) {
  Parsed p(R"({"a": [1, 2.5, "\u00e9\ud83d\ude00", null, true], "b": {}, "c": 1e20, "d": -0.0})");
  EXPECT_EQ(json_dumps(*p.v),
            R"({"a": [1, 2.5, "\u00e9\ud83d\ude00", null, true], "b": {}, "c": 1e+20, "d": -0.0})");
}

}  // namespace
}  // namespace toolgrpo::reward
