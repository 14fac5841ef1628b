// Task vocabularies (model/bpe_train.hpp) learned from the ToolRL SFT data: the written tokenizer.json loads
// in the Hugging Face-compatible reader, encodes every text back to itself in far fewer tokens than bytes,
// keeps the special tokens' ids, and gives a word one token wherever it stands.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/bpe_tokenizer.hpp"
#include "model/bpe_train.hpp"
#include "model/byte_tokenizer.hpp"
#include "shared_data.hpp"

namespace toolgrpo::model {
namespace {

// The SFT rows as the trainers see them: the ChatML prompt, the answer, the end of the turn.
std::vector<std::string> sft_texts() {
  std::vector<std::string> texts;
  for (const auto& j : testing::jsonl(testing::shared() + "/toolrl/sft.jsonl"))
    if (texts.size() < 400)
      texts.push_back(render_chatml(j.value("system", ""), j.value("user", "")) + j.value("ground_truth", "") +
                      "<|im_end|>");
  return texts;
}

TEST(BpeTrain, LearnedVocabularyRoundTripsAndShortensTheCorpus) {
  const std::vector<std::string> texts = sft_texts();
  ASSERT_GE(texts.size(), 100u);
  const BpeTrained t = bpe_train(texts, {800, 2});
  EXPECT_EQ(t.merges, 800);
  EXPECT_EQ(t.vocab_size, 256 + static_cast<int64_t>(ByteTokenizer().specials().size()) + 800);
  const auto tok = BpeTokenizer::parse(t.tokenizer_json, "trained");
  EXPECT_EQ(tok->vocab_size(), t.vocab_size);
  std::size_t bytes = 0, tokens = 0;
  for (const std::string& s : texts) {
    const std::vector<int64_t> ids = tok->encode(s);
    EXPECT_EQ(tok->decode(ids), s);
    bytes += s.size();
    tokens += ids.size();
  }
  EXPECT_LT(static_cast<double>(tokens), 0.45 * static_cast<double>(bytes)) << tokens << " tokens, " << bytes << " bytes";
  // The same corpus and options give the same file.
  EXPECT_EQ(bpe_train(texts, {800, 2}).tokenizer_json, t.tokenizer_json);
}

TEST(BpeTrain, WordsAreOneTokenWhereverTheyStandAndSpecialsKeepTheirIds) {
  const BpeTrained t = bpe_train(sft_texts(), {2000, 2});
  const auto tok = BpeTokenizer::parse(t.tokenizer_json, "trained");
  const std::vector<int64_t> word = tok->encode("parameters");
  ASSERT_EQ(word.size(), 1u);
  for (const char* context : {" parameters", "\"parameters", "_parameters", "{\"parameters"}) {
    const std::vector<int64_t> ids = tok->encode(context);
    EXPECT_EQ(ids.back(), word[0]) << context;
    EXPECT_EQ(tok->decode(ids), context);
  }
  EXPECT_EQ(tok->encode("2024").size(), 4u);  // digits stay single bytes
  EXPECT_EQ(tok->encode("<tool_call>"), std::vector<int64_t>{ByteTokenizer().encode("<tool_call>")});
  EXPECT_EQ(tok->token_id("<|im_end|>"), ByteTokenizer::kImEnd);
  EXPECT_EQ(tok->token_id("<|endoftext|>"), ByteTokenizer::kEndOfText);
  // A pair seen once is not merged: the word below occurs once, so it stays in pieces.
  const BpeTrained once = bpe_train({"qzxv qzxv wkj"}, {100, 2});
  const auto t1 = BpeTokenizer::parse(once.tokenizer_json, "once");
  EXPECT_EQ(t1->encode("qzxv").size(), 1u);
  EXPECT_EQ(t1->encode("wkj").size(), 3u);
}

}  // namespace
}  // namespace toolgrpo::model
