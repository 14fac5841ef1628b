// Qwen3 and Llama-3 tokenizer.json files against the reference tokenizer: every encode.jsonl case id-exact,
// every decode.jsonl case text-exact (with and without special tokens), plus NFC and load errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/bpe_tokenizer.hpp"
#include "model/byte_tokenizer.hpp"
#include "tests/model/shared_data.hpp"

namespace toolgrpo::model {
namespace {

using nlohmann::json;

using testing::jsonl;
using testing::shared;

class TokenizerFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerFixture, EncodeIdExact) {
  const auto tok = BpeTokenizer::load(shared() + "/tokenizers/" + GetParam());
  int n = 0, bad = 0;
  for (const auto& r : jsonl(shared() + "/fixtures/tokenizer/" + GetParam() + "/encode.jsonl")) {
    const auto ids = tok->encode(r["text"].get<std::string>());
    const auto want = r["ids"].get<std::vector<int64_t>>();
    if (ids != want && ++bad <= 5) ADD_FAILURE() << r["id"] << " " << r["text"].dump().substr(0, 200);
    ++n;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_GE(n, 1000);
  std::printf("[tokenizer] %s encode: %d cases, %d mismatches\n", GetParam(), n, bad);
}

TEST_P(TokenizerFixture, DecodeExact) {
  const auto tok = BpeTokenizer::load(shared() + "/tokenizers/" + GetParam());
  int n = 0;
  for (const char* file : {"decode.jsonl", "encode.jsonl"})
    for (const auto& r : jsonl(shared() + "/fixtures/tokenizer/" + GetParam() + "/" + file)) {
      const auto ids = r["ids"].get<std::vector<int64_t>>();
      EXPECT_EQ(tok->decode(ids), r["decoded"].get<std::string>()) << r["id"];
      EXPECT_EQ(tok->decode(ids, true), r["decoded_skip_special"].get<std::string>()) << r["id"];
      ++n;
    }
  EXPECT_GE(n, 1100);
}

INSTANTIATE_TEST_SUITE_P(QwenAndLlama, TokenizerFixture, ::testing::Values("qwen3", "llama3"));

TEST(Nfc, ComposesAndReorders) {
  EXPECT_EQ(nfc_normalize("e\xCC\x81"), "\xC3\xA9");                       // e + acute -> é
  EXPECT_EQ(nfc_normalize("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");   // Hangul L+V -> 가
  EXPECT_EQ(nfc_normalize("a\xCC\xA3\xCC\x87"), "\xE1\xBA\xA1\xCC\x87");  // a + dot below + dot above
  EXPECT_EQ(nfc_normalize("a\xCC\x87\xCC\xA3"), "\xE1\xBA\xA1\xCC\x87");  // reordered first
  EXPECT_EQ(nfc_normalize("\xE2\x84\xAB"), "\xC3\x85");                   // Angstrom sign -> Å (singleton)
  EXPECT_EQ(nfc_normalize("plain ascii"), "plain ascii");
}

TEST(BpeTokenizer, ReadsTheByteTokenizerFileAndRejectsOthers) {
  const std::string dir = ::testing::TempDir() + "/byte_tok";
  std::system(("mkdir -p " + dir).c_str());
  std::ofstream(dir + "/tokenizer.json") << ByteTokenizer().to_tokenizer_json();
  const auto tok = BpeTokenizer::load(dir);
  const ByteTokenizer ref;
  const std::string text = "<|im_start|>user\nhé <tool_call>x</tool_call><|im_end|>";
  EXPECT_EQ(tok->encode(text), ref.encode(text));
  EXPECT_EQ(tok->decode(ref.encode(text)), text);
  std::ofstream(dir + "/tokenizer.json") << R"({"model": {"type": "WordPiece"}})";
  try {
    BpeTokenizer::load(dir);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/tokenizer.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace toolgrpo::model
