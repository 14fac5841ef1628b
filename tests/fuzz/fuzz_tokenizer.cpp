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
#include "tests/fuzz/fuzz_check.hpp"

using toolgrpo::fuzz::require;
using toolgrpo::model::BpeTokenizer;

namespace {

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

// The reference tokenizer is loaded before the first input, so its load (seconds under the sanitizers on a busy
// machine) does not count against that input's -timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  reference();
  return 0;
}

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
  if (toolgrpo::fuzz::utf8_well_formed(payload, false))
    require(tok->decode(ids) == toolgrpo::model::nfc_normalize(payload));
  return 0;
}
