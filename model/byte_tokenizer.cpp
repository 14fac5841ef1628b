// Built-in byte tokenizer, lossy UTF-8 decoding and ChatML rendering; see byte_tokenizer.hpp.
#include "model/byte_tokenizer.hpp"

#include <nlohmann/json.hpp>

namespace toolgrpo::model {

ByteTokenizer::ByteTokenizer()
    : specials_{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>",   "</think>",
                "<tool_call>",   "</tool_call>", "<response>", "</response>"} {}

std::vector<int64_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    int64_t best = -1;
    std::size_t best_len = 0;
    if (text[i] == '<')
      for (std::size_t k = 0; k < specials_.size(); ++k)
        if (specials_[k].size() > best_len && text.compare(i, specials_[k].size(), specials_[k]) == 0) {
          best = 256 + static_cast<int64_t>(k);
          best_len = specials_[k].size();
        }
    if (best >= 0) {
      ids.push_back(best);
      i += best_len;
    } else {
      ids.push_back(static_cast<unsigned char>(text[i]));
      ++i;
    }
  }
  return ids;
}

void utf8_lossy_append(std::string& out, std::string_view b) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  std::size_t i = 0;
  while (i < b.size()) {
    const unsigned char c = static_cast<unsigned char>(b[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // Expected length and the allowed range of the second byte (Unicode Table 3-7).
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c == 0xE0) { need = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) need = 3;
    else if (c == 0xED) { need = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) need = 3;
    else if (c == 0xF0) { need = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need = 4;
    else if (c == 0xF4) { need = 4; hi = 0x8F; }
    if (need == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    std::size_t k = 1;
    for (; k < need && i + k < b.size(); ++k) {
      const unsigned char cc = static_cast<unsigned char>(b[i + k]);
      const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (cc < l || cc > h) break;
    }
    if (k == need) out.append(b.data() + i, need);
    else out += kReplacement;  // one replacement for the maximal invalid prefix
    i += k;
  }
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out, pending;
  for (int64_t id : ids) {
    if (id >= 0 && id < 256) {
      pending.push_back(static_cast<char>(id));
      continue;
    }
    utf8_lossy_append(out, pending);
    pending.clear();
    if (id >= 256 && id < vocab_size()) {
      if (!(skip_special && is_special(id))) out += specials_[static_cast<std::size_t>(id - 256)];
    } else {
      out += "\xEF\xBF\xBD";  // an id outside the vocabulary
    }
  }
  utf8_lossy_append(out, pending);
  return out;
}

namespace {
struct ByteLevelAlphabet {
  std::string token[256];
  std::vector<int> byte_of;  // indexed by code point (< 324)
  ByteLevelAlphabet() : byte_of(324, -1) {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const int cp = printable ? b : 256 + n++;
      byte_of[static_cast<std::size_t>(cp)] = b;
      if (cp < 0x80) {
        token[b].push_back(static_cast<char>(cp));
      } else {
        token[b].push_back(static_cast<char>(0xC0 | (cp >> 6)));
        token[b].push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
  }
};
const ByteLevelAlphabet& alphabet() {
  static const ByteLevelAlphabet a;
  return a;
}
}  // namespace

const std::string& byte_level_token(uint8_t b) { return alphabet().token[b]; }

int byte_level_byte(uint32_t cp) {
  const auto& t = alphabet().byte_of;
  return cp < t.size() ? t[cp] : -1;
}

std::string ByteTokenizer::to_tokenizer_json() const { return byte_level_bpe_json({}, false).text; }

ByteLevelBpeJson byte_level_bpe_json(const std::vector<std::pair<std::string, std::string>>& merges,
                                     bool qwen_split) {
  const ByteTokenizer bt;
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level_token(static_cast<uint8_t>(b))] = b;
  nlohmann::json added = nlohmann::json::array();
  for (std::size_t k = 0; k < bt.specials().size(); ++k) {
    const int64_t id = 256 + static_cast<int64_t>(k);
    added.push_back({{"id", id}, {"content", bt.specials()[k]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", bt.is_special(id)}});
  }
  int64_t next_id = bt.vocab_size();
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [l, r] : merges) {
    if (!vocab.contains(l + r)) vocab[l + r] = next_id++;
    merge_list.push_back(l + " " + r);
  }
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  // The Qwen2 split: text is cut where Qwen's tokenizer cuts it, then the merges apply by rank.
  const nlohmann::json split = {
      {"type", "Split"},
      {"pattern",
       {{"Regex",
         "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
         "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
      {"behavior", "Isolated"},
      {"invert", false}};
  const nlohmann::json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       qwen_split ? nlohmann::json{{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}} : byte_level},
      {"post_processor", nullptr},
      {"decoder", byte_level},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                 {"vocab", vocab}, {"merges", merge_list}}},
  };
  return {j.dump(2) + "\n", next_id};
}

bool ByteTokenizer::describes(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    return j.at("model").at("type") == "BPE" && j.at("model").at("merges").empty() &&
           j.at("model").at("vocab").size() == 256 && j.at("added_tokens").size() == ByteTokenizer().specials().size();
  } catch (const std::exception&) {
    return false;
  }
}

std::string render_chatml(std::string_view system, std::string_view user) {
  std::string s = "<|im_start|>system\n";
  s.append(system);
  s += "<|im_end|>\n<|im_start|>user\n";
  s.append(user);
  s += "<|im_end|>\n<|im_start|>assistant\n";
  return s;
}

}  // namespace toolgrpo::model
