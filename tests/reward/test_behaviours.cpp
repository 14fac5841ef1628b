// One small hand-checked case per behaviour of the reference reward listed in ../shared/data/README.md
// ("Behaviour of the reference that a faithful reimplementation must reproduce"), numbered as there.
#include <gtest/gtest.h>

#include <string>

#include "reward/extract.hpp"
#include "reward/pystr.hpp"
#include "reward/score.hpp"

namespace toolgrpo::reward {
namespace {

const std::string kThink = "<think> t </think>\n";
const std::string kCall = R"({"name": "f", "parameters": {"a": 1, "b": "x"}})";
const std::string kToolGt = kThink + "<tool_call>\n" + kCall + "\n</tool_call>";
const std::string kRespGt = kThink + "<response> hi </response>";

RewardScores score(const std::string& out, const std::string& gt, RewardConfig cfg = {}, int64_t step = 0) {
  return score_output(out, GroundTruth(gt), cfg, step);
}
std::string tool(const std::string& lines) { return kThink + "<tool_call>\n" + lines + "\n</tool_call>"; }
RewardConfig variant(const char* name) { return reward_config_from_name(name); }

// 1. Template chosen by case-sensitive substrings, "llama" first.
TEST(Behaviour01, ExperimentName) {
  EXPECT_EQ(chat_template_from_experiment("grpo-llama3.2-3b"), ChatTemplate::Llama);
  EXPECT_EQ(chat_template_from_experiment("qwen-vs-llama"), ChatTemplate::Llama);
  EXPECT_EQ(chat_template_from_experiment("grpo-qwen2.5-3b"), ChatTemplate::Qwen);
  EXPECT_THROW(chat_template_from_experiment("grpo-Qwen2.5-3B"), std::invalid_argument);
  EXPECT_THROW(chat_template_from_experiment(""), std::invalid_argument);
}

// 2. After the last assistant marker, up to the first end marker; no end marker keeps the rest.
TEST(Behaviour02, Extraction) {
  const std::string q = "<|im_start|>assistant\nA<|im_end|><|im_start|>assistant\n B <|im_end|>pad<|im_end|>";
  EXPECT_EQ(extract_prediction(q, ChatTemplate::Qwen), "B");
  EXPECT_EQ(extract_prediction("<|im_start|>assistant\n trunc", ChatTemplate::Qwen), "trunc");
  EXPECT_EQ(extract_prediction(" no marker ", ChatTemplate::Qwen), "no marker");
  const std::string l = "<|start_header_id|>assistant<|end_header_id|>\n\nX<|eot_id|>Y";
  EXPECT_EQ(extract_prediction(l, ChatTemplate::Llama), "X");
  EXPECT_EQ(extract_prediction(l, ChatTemplate::Qwen), "<|start_header_id|>assistant<|end_header_id|>\n\nX<|eot_id|>Y");
}

// 3. Python's Unicode whitespace set, exactly.
TEST(Behaviour03, PythonWhitespace) {
  for (uint32_t cp : {0x09u, 0x0Du, 0x1Cu, 0x1Fu, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u,
                      0x2029u, 0x202Fu, 0x205Fu, 0x3000u})
    EXPECT_TRUE(py_is_space(cp)) << cp;
  for (uint32_t cp : {0x08u, 0x0Eu, 0x1Bu, 0x200Bu, 0x180Eu, 0xFEFFu, 0x21u, 0x2060u})
    EXPECT_FALSE(py_is_space(cp)) << cp;
  const std::string nbsp = "\xC2\xA0", ideographic = "\xE3\x80\x80", zwsp = "\xE2\x80\x8B";
  const std::string wrapped = "<|im_start|>assistant" + nbsp + kToolGt + ideographic;
  EXPECT_EQ(score(std::string(extract_prediction(wrapped, ChatTemplate::Qwen)), kToolGt).format, 1.0);
  const std::string zw = "<|im_start|>assistant" + zwsp + kToolGt;
  EXPECT_EQ(score(std::string(extract_prediction(zw, ChatTemplate::Qwen)), kToolGt).format, 0.0);
}

// 4. total = format + correctness + length, left to right.
TEST(Behaviour04, TotalIsSum) {
  const RewardScores s = score(kToolGt, kToolGt, variant("withlength"));
  EXPECT_EQ(s.format, 1.0);
  EXPECT_EQ(s.correctness, 3.0);
  EXPECT_EQ(s.length, 0.0);  // one word / 512 rounds to 0.0
  EXPECT_EQ(s.total, 4.0);
}

// 5. Pattern chosen from the ground truth; a think mentioning <response> switches to the combined pattern.
TEST(Behaviour05, PatternFromGroundTruth) {
  EXPECT_EQ(GroundTruth(kToolGt).pattern(), FormatPattern::ToolCall);
  EXPECT_EQ(GroundTruth(kRespGt).pattern(), FormatPattern::Response);
  EXPECT_EQ(GroundTruth("<think> x </think>").pattern(), FormatPattern::ThinkOnly);
  const std::string odd = "<think> reply in <response> </think>\n<tool_call>\n" + kCall + "\n</tool_call>";
  EXPECT_EQ(GroundTruth(odd).pattern(), FormatPattern::Both);
  EXPECT_EQ(score(odd, odd).format, 0.0);
  EXPECT_EQ(score("<think> x </think>", "<think> y </think>").format, 1.0);
  EXPECT_EQ(score(kRespGt, "<think> y </think>").format, 0.0);
}

// 6. `$` matches before one final newline when the function is called directly.
TEST(Behaviour06, DollarBeforeFinalNewline) {
  const GroundTruth gt(kToolGt);
  EXPECT_EQ(format_reward(kToolGt + "\n", gt, {}, 0), 1.0);
  EXPECT_EQ(format_reward(kToolGt + "\n\n", gt, {}, 0), 0.0);
  EXPECT_EQ(format_reward(kThink + "<response>r</response>\n", GroundTruth(kRespGt), {}, 0), 1.0);
}

// 7. Tag counts anywhere; <think> never counted.
TEST(Behaviour07, TagCounts) {
  const std::string body = "<tool_call>\n" + kCall + "\n</tool_call>";
  EXPECT_EQ(score("<think>a</think><think>b</think>\n" + body, kToolGt).format, 1.0);
  EXPECT_EQ(score("<think>a<think>b</think>\n" + body, kToolGt).format, 1.0);
  EXPECT_EQ(score("<think></think>\n" + body, kToolGt).format, 1.0);
  EXPECT_EQ(score("<think>I will write <tool_call></think>\n" + body, kToolGt).format, 0.0);
  EXPECT_EQ(score(kThink + "<response>a</response>\n<response>b</response>", kRespGt).format, 0.0);
}

// 8. Whitespace is literal.
TEST(Behaviour08, LiteralWhitespace) {
  EXPECT_EQ(score("<think> t </think> \n<tool_call>\n" + kCall + "\n</tool_call>", kToolGt).format, 0.0);
  EXPECT_EQ(score("<think> t </think>\n\n<tool_call>\n" + kCall + "\n</tool_call>", kToolGt).format, 0.0);
  EXPECT_EQ(score("<think> t </think>\r\n<tool_call>\r\n" + kCall + "\r\n</tool_call>", kToolGt).format, 0.0);
  EXPECT_EQ(score(kThink + "<tool_call>" + kCall + "</tool_call>", kToolGt).format, 0.0);
  EXPECT_EQ(score(kThink + "<tool_call>\n\n</tool_call>", kToolGt).format, 1.0);
  EXPECT_EQ(score(kThink + "<tool_call>\n</tool_call>", kToolGt).format, 0.0);
}

// 9. Response content is never inspected; tags are case-sensitive.
TEST(Behaviour09, ResponseContent) {
  EXPECT_EQ(score(kThink + "<response><tool_call></tool_call></response>", kRespGt).format, 1.0);
  EXPECT_EQ(score(kThink + "<response></response>", kRespGt).format, 1.0);
  EXPECT_EQ(score(kThink + "<Response>x</Response>", kRespGt).format, 0.0);
}

// 10. No <tool_call> in the ground truth: correctness is exactly 0.0 under every variant.
TEST(Behaviour10, NoToolCallGroundTruth) {
  for (const char* v : {"default", "schedulereward", "correctmax1", "coarsereward", "max1step30max3"}) {
    EXPECT_EQ(score(kToolGt, kRespGt, variant(v), 3).correctness, 0.0) << v;
    EXPECT_EQ(score("garbage", kRespGt, variant(v), 3).correctness, 0.0) << v;
  }
}

// 11. A ground truth the reference cannot parse is a per-row error, never a score.
TEST(Behaviour11, UnparsableGroundTruth) {
  const std::string gt = "<think> I will emit <tool_call> now </think>\n<tool_call>\n" + kCall + "\n</tool_call>";
  const GroundTruth g(gt);
  EXPECT_FALSE(g.error().empty());
  EXPECT_NE(g.error().find("not JSON"), std::string::npos);
  EXPECT_FALSE(score_output(gt, g, {}, 0).ok);
}

// 12. First <tool_call> block only; both tags required somewhere.
TEST(Behaviour12, FirstBlock) {
  EXPECT_EQ(score(kThink + "<tool_call>\n" + kCall, kToolGt).correctness, -3.0);
  EXPECT_EQ(score("<think> <tool_call> </think>\n<tool_call>\n" + kCall + "\n</tool_call>", kToolGt).correctness,
            -3.0);
  // </tool_call> only before <tool_call>: the rest of the string is the block.
  EXPECT_EQ(score("<think></tool_call></think>\n<tool_call>\n" + kCall, kToolGt).correctness, 3.0);
  // A second block is ignored for correctness (format fails on the counts).
  const RewardScores two = score(tool(kCall) + "\n<tool_call>\n[]\n</tool_call>", kToolGt);
  EXPECT_EQ(two.correctness, 3.0);
  EXPECT_EQ(two.format, 0.0);
}

// 13. Lines: strip the block, split on "\n", each line a complete Python JSON value.
TEST(Behaviour13, LineParsing) {
  const std::string gt2 = tool(kCall + "\n" + kCall);
  EXPECT_EQ(score(tool(kCall + "\n\n" + kCall), gt2).correctness, -3.0);          // blank line
  EXPECT_EQ(score(tool(kCall + "\r\n" + kCall + "\r"), gt2).correctness, 3.0);   // CRLF parses
  EXPECT_EQ(score(tool(kCall + "\n\xC2\xA0" + kCall), gt2).correctness, -3.0);   // NBSP before line 2
  EXPECT_EQ(score(kThink + "<tool_call>\xC2\xA0" + kCall + "\n</tool_call>", kToolGt).correctness, 3.0);
  EXPECT_EQ(score(tool("{\"name\": \"f\",\n\"parameters\": {\"a\": 1, \"b\": \"x\"}}"), kToolGt).correctness, -3.0);
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 1, "b": "x",}})"), kToolGt).correctness, -3.0);
  EXPECT_EQ(score(tool("{\"name\": \"f\", \"parameters\": {\"a\": 1, \"b\": \"x\ty\"}}"), kToolGt).correctness,
            -3.0);  // raw tab inside a string (strict mode)
  // Escaped tab is fine: name 1 + keys 1 + a 1 = 3 of local max 4 -> 6*3/4 - 3.
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 1, "b": "x\ty"}})"), kToolGt).correctness,
            6.0 * 3.0 / 4.0 - 3.0);
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": NaN, "b": "x"}})"), kToolGt).correctness,
            6.0 * 3.0 / 4.0 - 3.0);
  // Duplicate keys: the last value wins.
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 0, "b": "x", "a": 1}})"), kToolGt).correctness, 3.0);
  // Lone surrogate escapes parse (and do not match "x").
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 1, "b": "\ud800"}})"), kToolGt).correctness,
            6.0 * 3.0 / 4.0 - 3.0);
}

// 14. Subscript and hashing failures.
TEST(Behaviour14, CallShapes) {
  EXPECT_EQ(score(tool("[\"f\"]"), kToolGt).correctness, -3.0);
  EXPECT_EQ(score(tool("null"), kToolGt).correctness, -3.0);
  EXPECT_EQ(score(tool(R"({"parameters": {}})"), kToolGt).correctness, -3.0);
  EXPECT_EQ(score(tool(R"({"name": ["f"], "parameters": {}})"), kToolGt).correctness, -3.0);
  // A null name is just unmatched: names [f] vs [f, None] -> 1/2; f matched fully (1 + 2).
  const double partial = 6.0 * (0.5 + 3.0) / 4.0 - 3.0;
  EXPECT_EQ(score(tool(kCall + "\n{\"name\": null}"), kToolGt).correctness, partial);
  // parameters missing on a non-matching call is harmless, on a matching call gives min.
  EXPECT_EQ(score(tool(kCall + "\n{\"name\": \"g\"}"), kToolGt).correctness, partial);
  EXPECT_EQ(score(tool(R"({"name": "f", "arguments": {"a": 1, "b": "x"}})"), kToolGt).correctness, -3.0);
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": null})"), kToolGt).correctness, -3.0);
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": ["a", "b"]})"), kToolGt).correctness, -3.0);
  // Extra top-level keys are allowed and still reach max.
  EXPECT_EQ(score(tool(R"({"id": 7, "name": "f", "parameters": {"a": 1, "b": "x"}})"), kToolGt).correctness, 3.0);
}

// 15. Exact shortcut with Python equality.
TEST(Behaviour15, ExactShortcut) {
  EXPECT_EQ(score(tool(R"({"parameters": {"b": "x", "a": 1.0}, "name": "f"})"), kToolGt).correctness, 3.0);
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": true, "b": "x"}})"), kToolGt).correctness, 3.0);
  const std::string big = tool(R"({"name": "f", "parameters": {"a": 9007199254740993}})");
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 9007199254740992.0}})"), big).correctness,
            6.0 * 2.0 / 3.0 - 3.0);  // not equal: name 1 + key 1 of local max 3
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 9007199254740993.0}})"),
                  tool(R"({"name": "f", "parameters": {"a": 9007199254740992}})")).correctness, 3.0);
  // Order of calls matters for the shortcut but not for the final value when everything matches.
  const std::string g2 = R"({"name": "g", "parameters": {}})";
  EXPECT_EQ(score(tool(g2 + "\n" + kCall), tool(kCall + "\n" + g2)).correctness, 3.0);
}

// 16. Name match score: multiset Jaccard.
TEST(Behaviour16, NameMatchScore) {
  const std::string gt = tool(R"({"name": "f", "parameters": {}})" "\n" R"({"name": "f", "parameters": {}})" "\n"
                              R"({"name": "g", "parameters": {}})");
  // names [f, f, g] vs [f, h]: intersection 1, union 3+2-1 = 4; f matched with {} == {} -> 1.
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {}})" "\n" R"({"name": "h", "parameters": {}})"), gt)
                .correctness,
            6.0 * (1.0 / 4.0 + 1.0) / 4.0 - 3.0);
}

// 17. Greedy matching in ground-truth order; ties keep the first; zero never matches.
TEST(Behaviour17, GreedyMatching) {
  const std::string gt = tool(R"({"name": "f", "parameters": {"a": 1, "b": 1}})" "\n"
                              R"({"name": "f", "parameters": {"a": 1, "b": 2}})");
  const std::string p1 = R"({"name": "f", "parameters": {"a": 1, "b": 2}})";
  const std::string p2 = R"({"name": "f", "parameters": {"a": 9, "b": 1}})";
  EXPECT_EQ(score(tool(p1 + "\n" + p2), gt).correctness, (3.0 - -3.0) * 4.0 / 7.0 + -3.0);
  EXPECT_EQ(score(tool(p2 + "\n" + p1), gt).correctness, (3.0 - -3.0) * 6.0 / 7.0 + -3.0);
  // Non-empty prediction against {} scores 0 and is never matched.
  const std::string empty_gt = tool(R"({"name": "f", "parameters": {}})");
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"z": 1}})"), empty_gt).correctness,
            6.0 * 1.0 / 2.0 - 3.0);
}

// 18. local_max and the final affine map, in the reference's evaluation order.
TEST(Behaviour18, Normalisation) {
  // name 1 + keys [a,b] vs [a,b,c] = 2/3 + a correct 1, local max 1 + (1 + 2) = 4.
  const double s = 1.0 + (2.0 / 3.0 + 1.0);  // score = names; score += params + values
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 1, "b": "y", "c": 0}})"), kToolGt).correctness,
            (3.0 - -3.0) * s / 4.0 + -3.0);
}

// 19. Length: last <think>, unclosed keeps the rest; Python word splitting.
TEST(Behaviour19, LengthWords) {
  const RewardConfig L = variant("withlength");
  EXPECT_EQ(score("no think here", kRespGt, L).length, 0.0);
  std::string words;
  for (int i = 0; i < 64; ++i) words += "w ";
  EXPECT_EQ(score("<think>x</think><think>" + words + "</think>", kRespGt, L).length, 0.12);  // 64/512 tie -> even
  EXPECT_EQ(score("</think><think>" + words, kRespGt, L).length, 0.12);  // unclosed last think: rest of string
  const std::string sep = "a\xC2\xA0" "b\x1C" "c\xE2\x80\x8B" "d";  // NBSP and U+001C split, U+200B does not
  EXPECT_EQ(py_split_count(sep), 3u);
}

// 20. round() half-even on the exact binary value; the scheduled target is not clamped.
TEST(Behaviour20, RoundingAndSchedule) {
  EXPECT_EQ(py_round2(64.0 / 512), 0.12);
  EXPECT_EQ(py_round2(192.0 / 512), 0.38);
  EXPECT_EQ(py_round2(320.0 / 512), 0.62);
  EXPECT_EQ(py_round2(448.0 / 512), 0.88);
  EXPECT_EQ(py_round2(2.675), 2.67);  // 2.675 is 2.67499999... in binary
  std::string words;
  for (int i = 0; i < 100; ++i) words += "w ";
  const std::string out = "<think>" + words + "</think>";
  EXPECT_EQ(score(out, kRespGt, variant("schedulelength"), 210).length, 0.11);  // 100 / 896
  EXPECT_EQ(score(out, kRespGt, variant("withlength"), 210).length, 0.2);       // 100 / 512
}

// 21. CORRECTMAX1.
TEST(Behaviour21, CorrectMax1) {
  EXPECT_EQ(score(kToolGt, kToolGt, variant("correctmax1")).correctness, 1.0);
  EXPECT_EQ(score("x", kToolGt, variant("correctmax1")).correctness, -1.0);
}

// 22. MAX1STEP30MAX3.
TEST(Behaviour22, TwoStage) {
  const RewardConfig c = variant("max1step30max3");
  EXPECT_EQ(score(kToolGt, kToolGt, c, 29).format, 1.0);
  EXPECT_EQ(score(kToolGt, kToolGt, c, 30).format, 0.5);
  EXPECT_EQ(score(kToolGt, kToolGt, c, 29).correctness, 1.0);
  EXPECT_EQ(score("x", kToolGt, c, 29).correctness, -1.0);
  EXPECT_EQ(score(kToolGt, kToolGt, c, 30).correctness, 3.0);
}

// 23. SCHEDULEREWARD.
TEST(Behaviour23, SmoothSchedule) {
  const RewardConfig c = variant("schedulereward");
  EXPECT_EQ(score("x", kToolGt, c, 0).format, -2.0);
  EXPECT_EQ(score(kToolGt, kToolGt, c, 0).format, 2.0);
  EXPECT_EQ(score("x", kToolGt, c, 75).format, -1.0);
  EXPECT_EQ(score(kToolGt, kToolGt, c, 75).format, 1.5);
  EXPECT_EQ(score(kToolGt, kToolGt, c, 75).correctness, 2.5);
  EXPECT_EQ(score("x", kToolGt, c, 75).correctness, -2.5);
  EXPECT_EQ(score(kToolGt, kToolGt, c, 1000).correctness, 3.0);
  EXPECT_EQ(score("x", kToolGt, c, 1000).format, -1.0);
}

// 24. REFINEDREWARD: lists must be identical in order.
TEST(Behaviour24, Refined) {
  const RewardConfig c = variant("refinedreward");
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"b": "x", "a": 1}})"), kToolGt, c).correctness, 3.0);
  const std::string p = tool(R"({"name": "f", "parameters": {"b": "x", "a": 1, "c": 0}})");
  EXPECT_EQ(score(p, kToolGt, c).correctness, 6.0 * (1.0 + 0.0 + 2.0) / 4.0 - 3.0);
  EXPECT_EQ(score(p, kToolGt).correctness, 6.0 * (1.0 + (2.0 / 3.0 + 2.0)) / 4.0 - 3.0);
  // An unhashable name never reaches Counter under REFINEDREWARD (by default it raises -> min).
  const std::string unhashable = tool(kCall + "\n" R"({"name": ["f"], "parameters": {}})");
  EXPECT_EQ(score(unhashable, kToolGt, c).correctness, 6.0 * (0.0 + 3.0) / 4.0 - 3.0);
  EXPECT_EQ(score(unhashable, kToolGt).correctness, -3.0);
}

// 25. INTERMEDIATEREWARD: a tool scores only when equal as a whole.
TEST(Behaviour25, Intermediate) {
  const RewardConfig c = variant("intermediatereward");
  const std::string g = R"({"name": "g", "parameters": {"c": 3}})";
  const std::string gt = tool(kCall + "\n" + g);
  const std::string extra = R"({"id": 1, "name": "f", "parameters": {"a": 1, "b": "x"}})";
  EXPECT_EQ(score(tool(extra + "\n" + g), gt, c).correctness, 6.0 * (1.0 + 1.0) / 3.0 - 3.0);
}

// 26. COARSEREWARD: all or nothing, with Python equality.
TEST(Behaviour26, Coarse) {
  const RewardConfig c = variant("coarsereward");
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 1.0, "b": "x"}})"), kToolGt, c).correctness, 3.0);
  EXPECT_EQ(score(tool(R"({"name": "f", "parameters": {"a": 2, "b": "x"}})"), kToolGt, c).correctness, -3.0);
}

// 27. SCHEDULELENGTH alone has no effect.
TEST(Behaviour27, ScheduleLengthAlone) {
  RewardConfig c;
  c.schedule_length = true;
  EXPECT_EQ(score("<think> a b c </think>", "<think> y </think>", c, 5).length, 0.0);
  EXPECT_EQ(score("<think> a b c </think>", "<think> y </think>", c, 5).total, 1.0);
}

}  // namespace
}  // namespace toolgrpo::reward
