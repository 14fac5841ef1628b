// The built-in byte tokenizer: round trips, special tokens, U+FFFD replacement checked against the reference
// tokenizer's decodes of invalid byte sequences, and ChatML renders equal to the Qwen2.5 template's output.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/byte_tokenizer.hpp"
#include "tests/model/shared_data.hpp"

namespace toolgrpo::model {
namespace {

using nlohmann::json;

using testing::jsonl;
using testing::shared;

// Inverse of the GPT-2 byte-level alphabet: code point of a token character -> byte.
int byte_of(uint32_t cp) {
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t mapped = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
    if (mapped == cp) return b;
  }
  return -1;
}

uint32_t single_code_point(const std::string& s) {
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  if (s.size() == 1) return u[0];
  if (s.size() == 2) return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
  return 0xFFFFFFFF;
}

TEST(ByteTokenizer, RoundTripsToolRLText) {
  const ByteTokenizer tok;
  int rows = 0;
  for (const auto& r : jsonl(shared() + "/toolrl/test.jsonl")) {
    const std::string text = render_chatml(r["system"].get<std::string>(), r["user"].get<std::string>()) +
                             r["ground_truth"].get<std::string>();
    const auto ids = tok.encode(text);
    EXPECT_EQ(tok.decode(ids), text);
    ++rows;
  }
  EXPECT_EQ(rows, 80);
  const auto ids = tok.encode("<|im_start|>a<think>b</think><tool_call><toolx");
  EXPECT_EQ(ids[0], ByteTokenizer::kImStart);
  EXPECT_EQ(ids[1], 'a');
  EXPECT_EQ(ids[2], 259);  // <think>
  EXPECT_EQ(ids[5], 261);  // <tool_call>
  EXPECT_EQ(ids[6], '<');  // "<toolx" is plain text
  EXPECT_EQ(tok.decode({ByteTokenizer::kImStart, 'x', ByteTokenizer::kImEnd}, true), "x");
  EXPECT_TRUE(ByteTokenizer::describes(tok.to_tokenizer_json()));
}

// Rows of the reference decode fixtures made of single-byte tokens: our lossy UTF-8 decoding must agree.
TEST(ByteTokenizer, InvalidUtf8ReplacedAsTheReference) {
  int checked = 0;
  for (const char* name : {"qwen3", "llama3"}) {
    for (const auto& r : jsonl(shared() + "/fixtures/tokenizer/" + name + "/decode.jsonl")) {
      if (r["category"] != "decode_bytes") continue;
      std::string bytes;
      bool ok = true;
      for (const auto& t : r["tokens"]) {
        const int b = byte_of(single_code_point(t.get<std::string>()));
        if (b < 0) ok = false;
        bytes.push_back(static_cast<char>(b));
      }
      if (!ok) continue;
      std::string out;
      utf8_lossy_append(out, bytes);
      EXPECT_EQ(out, r["decoded"].get<std::string>()) << r["note"];
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

TEST(ChatML, MatchesQwen25TemplateForSystemAndUser) {
  int checked = 0;
  for (const auto& r : jsonl(shared() + "/fixtures/tokenizer/qwen2.5/chat.jsonl")) {
    const auto& m = r["messages"];
    if (!r["tools"].is_null() || !r["add_generation_prompt"].get<bool>() || m.size() != 2 ||
        m[0]["role"] != "system" || m[1]["role"] != "user")
      continue;
    EXPECT_EQ(render_chatml(m[0]["content"].get<std::string>(), m[1]["content"].get<std::string>()),
              r["rendered"].get<std::string>());
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace toolgrpo::model
