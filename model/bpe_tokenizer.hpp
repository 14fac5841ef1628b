// Byte-level BPE tokenizers from Hugging Face tokenizer.json files (Qwen2/2.5, Qwen3, Llama-3, and the built-in
// byte tokenizer's file): added tokens matched first, NFC where the file asks for it, the Qwen / Llama-3 split
// regex with the exact Unicode classes of the reference regex engine, merges by rank, and decoding back to text
// with invalid UTF-8 replaced as the reference does.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace toolgrpo::model {

class BpeTokenizer {
 public:
  // Reads a tokenizer.json file, or DIR/tokenizer.json. Errors name the file and the unsupported item.
  static std::unique_ptr<BpeTokenizer> load(const std::string& path_or_dir);
  // The same from tokenizer.json text; `origin` names it in errors.
  static std::unique_ptr<BpeTokenizer> parse(const std::string& json_text, const std::string& origin);

  std::vector<int64_t> encode(std::string_view text) const;
  // Added tokens marked special are dropped with skip_special.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;
  int64_t vocab_size() const { return static_cast<int64_t>(id_to_token_.size()); }
  int64_t token_id(const std::string& token) const;  // -1 when absent

  enum class Split { None, Qwen, Llama3 };

 private:
  BpeTokenizer() = default;
  void encode_segment(std::string_view text, std::vector<int64_t>& out) const;
  void encode_word(std::string_view word_bytes, std::vector<int64_t>& out) const;

  struct Added {
    std::string content;
    int64_t id;
    bool special;
  };
  Split split_ = Split::None;
  bool nfc_ = false;
  bool ignore_merges_ = false;
  std::unordered_map<std::string, int32_t> vocab_;  // byte-level token string -> id
  std::vector<std::string> id_to_token_;            // id -> byte-level string or added content
  std::vector<uint8_t> id_is_added_;                // 0 normal, 1 added non-special, 2 added special
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (left, right) -> (rank, merged id)
  std::vector<Added> added_;                                         // longest first
  std::vector<std::size_t> added_by_first_[256];                     // indices into added_ by first byte
  int32_t byte_token_[256] = {0};                                    // id of each single-byte token
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// NFC normalisation of UTF-8 text (invalid bytes pass through).
std::string nfc_normalize(std::string_view text);

}  // namespace toolgrpo::model
