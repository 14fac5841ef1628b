// The built-in byte-level tokenizer of the tiny models toolgrpo creates itself: ids 0..255 are bytes, then the
// special tokens a ToolRL model needs. It is written out as a Hugging Face tokenizer.json (byte-level BPE with
// no merges), so the model directories it makes are ordinary HF directories.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace toolgrpo::model {

class ByteTokenizer {
 public:
  static constexpr int64_t kEndOfText = 256;  // also the padding and end-of-sequence token
  static constexpr int64_t kImStart = 257;
  static constexpr int64_t kImEnd = 258;

  ByteTokenizer();
  int64_t vocab_size() const { return 256 + static_cast<int64_t>(specials_.size()); }
  const std::vector<std::string>& specials() const { return specials_; }
  bool is_special(int64_t id) const { return id == kEndOfText || id == kImStart || id == kImEnd; }

  // Special-token strings become their ids (longest match first); all other bytes are byte tokens.
  std::vector<int64_t> encode(std::string_view text) const;
  // Bytes back to text; invalid UTF-8 becomes U+FFFD per maximal invalid subsequence. With skip_special, the
  // control tokens (<|endoftext|>, <|im_start|>, <|im_end|>) are dropped; the ToolRL tags are kept.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;
  // A Hugging Face tokenizer.json describing this tokenizer.
  std::string to_tokenizer_json() const;
  // True when a tokenizer.json is the one to_tokenizer_json() writes.
  static bool describes(const std::string& tokenizer_json);

 private:
  std::vector<std::string> specials_;
};

// The GPT-2 byte-level alphabet of byte-level BPE vocabularies: the token text of byte b, and the byte of a
// token character (-1 when the character is not in the alphabet).
const std::string& byte_level_token(uint8_t b);
int byte_level_byte(uint32_t code_point);

// Appends bytes as UTF-8 text, replacing invalid sequences with U+FFFD as Rust's from_utf8_lossy does.
void utf8_lossy_append(std::string& out, std::string_view bytes);

// A Hugging Face tokenizer.json of byte-level BPE: the 256 byte tokens (ids 0..255), the special tokens of
// ByteTokenizer (256..), then each merge's token in order of first appearance; with `qwen_split`, the Qwen2
// split pre-tokenizer before the byte-level step. No merges and no split: ByteTokenizer's own file.
struct ByteLevelBpeJson {
  std::string text;
  int64_t vocab_size = 0;
};
ByteLevelBpeJson byte_level_bpe_json(const std::vector<std::pair<std::string, std::string>>& merges, bool qwen_split);

// The Qwen/ChatML rendering of a system + user turn with the assistant generation prompt.
std::string render_chatml(std::string_view system, std::string_view user);

}  // namespace toolgrpo::model
