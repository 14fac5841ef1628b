// libFuzzer target over tokenizer.json loading and byte-level BPE encoding/decoding. Input: [mode byte] payload.
// Mode bit 0 clear: the payload is a tokenizer.json text, loaded as a file from outside is (BpeTokenizer::parse);
// a tokenizer that loads then encodes and decodes the payload. Bit 0 set: the payload is text for the tokenizer
// named by TOOLGRPO_FUZZ_TOKENIZER (a tokenizer.json; the real Qwen2.5 one in CI), checked to round-trip:
// decode(encode(text)) is the text after the tokenizer's normaliser (NFC for Qwen2.5) when the text is UTF-8.
// Besides "no crash, no sanitizer report": every id encode returns is inside the vocabulary.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "model/bpe_tokenizer.hpp"

using toolgrpo::model::BpeTokenizer;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

// Well-formed UTF-8 without surrogates: the text a round trip must give back.
bool utf8_ok(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t k = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (k == 0 || i + k > s.size()) return false;
    for (std::size_t j = 1; j < k; ++j)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
    if (k == 3) {
      const unsigned char d = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d >= 0xA0)) return false;  // overlong, surrogate
    }
    if (k == 4) {
      const unsigned char d = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xF0 && d < 0x90) || (c == 0xF4 && d >= 0x90)) return false;
    }
    i += k;
  }
  return true;
}

const BpeTokenizer* reference() {
  static const std::unique_ptr<BpeTokenizer> tok = [] {
    const char* path = std::getenv("TOOLGRPO_FUZZ_TOKENIZER");
    return path ? BpeTokenizer::load(path) : std::unique_ptr<BpeTokenizer>();
  }();
  return tok.get();
}

void check_ids(const BpeTokenizer& tok, const std::vector<int64_t>& ids) {
  for (int64_t id : ids) require(id >= 0 && id < tok.vocab_size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    std::unique_ptr<BpeTokenizer> tok;
    try {
      tok = BpeTokenizer::parse(payload, "fuzz/tokenizer.json");
    } catch (const std::exception&) {
      return 0;  // a clear error is the expected answer to a broken file
    }
    const std::vector<int64_t> ids = tok->encode(payload.substr(0, 256));
    check_ids(*tok, ids);
    (void)tok->decode(ids);
    (void)tok->decode(ids, true);
    return 0;
  }
  const BpeTokenizer* tok = reference();
  if (tok == nullptr) return 0;
  const std::vector<int64_t> ids = tok->encode(payload);
  check_ids(*tok, ids);
  if (utf8_ok(payload)) require(tok->decode(ids) == toolgrpo::model::nfc_normalize(payload));
  return 0;
}
