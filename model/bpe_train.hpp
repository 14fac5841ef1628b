// A task vocabulary for the tiny models toolgrpo creates: byte-level BPE merges learned from a corpus, written
// as a Hugging Face tokenizer.json that model/bpe_tokenizer.hpp (and the Hugging Face tokenizers) read. The
// byte tokens keep ids 0..255 and the special tokens the ids of the built-in byte tokenizer (256..), so the
// model configuration's BOS/EOS ids stay the same; merged tokens follow.
//
// Letters merge only with letters and punctuation only with punctuation (and a leading space), never across,
// so a word is the same token wherever it stands: "refund" in "a refund", in "cancel_refund" and in "\"refund":
// a model copies words from a request into a call by copying single tokens. Digits stay single bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace toolgrpo::model {

struct BpeTrainOptions {
  int64_t max_merges = 2000;
  int64_t min_count = 2;  // a pair seen fewer times in the corpus is not merged
};

struct BpeTrained {
  std::string tokenizer_json;
  int64_t vocab_size = 0;  // bytes + special tokens + merged tokens
  int64_t merges = 0;
};

// Learns merges from `texts` (special-token strings in them are left out) and returns the tokenizer.json.
// Deterministic: ties between equally frequent pairs go to the smaller pair in byte order.
BpeTrained bpe_train(const std::vector<std::string>& texts, const BpeTrainOptions& opt = {});

}  // namespace toolgrpo::model
