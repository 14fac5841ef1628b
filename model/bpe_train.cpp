// BPE training for task vocabularies; see bpe_train.hpp.
#include "model/bpe_train.hpp"

#include <map>
#include <string_view>
#include <unordered_map>

#include "model/byte_tokenizer.hpp"

namespace toolgrpo::model {
namespace {

enum class Cls { Letter, Digit, Space, Newline, Punct };

Cls class_of(unsigned char b) {
  if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80) return Cls::Letter;
  if (b >= '0' && b <= '9') return Cls::Digit;
  if (b == '\n' || b == '\r') return Cls::Newline;
  if (b == ' ' || b == '\t' || b == '\f' || b == '\v') return Cls::Space;
  return Cls::Punct;
}

// The pieces merges may act within: letter runs, punctuation runs with an optional leading space and trailing
// newlines, whitespace runs; digits and a space before a word are pieces of one byte.
void pieces_of(std::string_view s, std::map<std::string, int64_t>& counts) {
  std::size_t i = 0;
  while (i < s.size()) {
    const Cls c = class_of(static_cast<unsigned char>(s[i]));
    std::size_t j = i + 1;
    if (c == Cls::Letter) {
      while (j < s.size() && class_of(static_cast<unsigned char>(s[j])) == Cls::Letter) ++j;
    } else if (c == Cls::Punct || (c == Cls::Space && s[i] == ' ' && j < s.size() &&
                                   class_of(static_cast<unsigned char>(s[j])) == Cls::Punct)) {
      while (j < s.size() && class_of(static_cast<unsigned char>(s[j])) == Cls::Punct) ++j;
      while (j < s.size() && class_of(static_cast<unsigned char>(s[j])) == Cls::Newline) ++j;
    } else if (c == Cls::Newline || c == Cls::Space) {
      while (j < s.size()) {
        const Cls d = class_of(static_cast<unsigned char>(s[j]));
        if (d != Cls::Newline && d != Cls::Space) break;
        if (d == Cls::Space && j + 1 < s.size() && class_of(static_cast<unsigned char>(s[j + 1])) != Cls::Space &&
            class_of(static_cast<unsigned char>(s[j + 1])) != Cls::Newline)
          break;  // the space before a word or punctuation stays with it
        ++j;
      }
    }
    ++counts[std::string(s.substr(i, j - i))];
    i = j;
  }
}

}  // namespace

BpeTrained bpe_train(const std::vector<std::string>& texts, const BpeTrainOptions& opt) {
  const ByteTokenizer bt;
  const std::vector<std::string>& specials = bt.specials();
  // Piece counts over the texts with the special tokens cut out.
  std::map<std::string, int64_t> piece_counts;
  for (const std::string& t : texts) {
    std::size_t start = 0;
    while (start < t.size()) {
      std::size_t next = std::string::npos, len = 0;
      for (const std::string& sp : specials) {
        const std::size_t p = t.find(sp, start);
        if (p < next || (p == next && p != std::string::npos && sp.size() > len)) next = p, len = sp.size();
      }
      pieces_of(std::string_view(t).substr(start, next == std::string::npos ? std::string::npos : next - start),
                piece_counts);
      if (next == std::string::npos) break;
      start = next + len;
    }
  }
  // Each piece as its byte-level symbols.
  struct Word {
    std::vector<std::string> symbols;
    int64_t count;
  };
  std::vector<Word> words;
  for (const auto& [piece, n] : piece_counts) {
    if (piece.size() < 2) continue;
    Word w{{}, n};
    for (unsigned char b : piece) w.symbols.push_back(byte_level_token(b));
    words.push_back(std::move(w));
  }
  std::vector<std::pair<std::string, std::string>> merges;
  while (static_cast<int64_t>(merges.size()) < opt.max_merges) {
    std::unordered_map<std::string, int64_t> pairs;  // "left\x01right" (the byte-level alphabet has no \x01)
    for (const Word& w : words)
      for (std::size_t k = 0; k + 1 < w.symbols.size(); ++k) pairs[w.symbols[k] + '\x01' + w.symbols[k + 1]] += w.count;
    const std::string* best = nullptr;
    int64_t best_n = 0;
    for (const auto& [key, n] : pairs)
      if (n > best_n || (n == best_n && best != nullptr && key < *best)) best = &key, best_n = n;
    if (best == nullptr || best_n < opt.min_count) break;
    const std::size_t cut = best->find('\x01');
    const std::string left = best->substr(0, cut), right = best->substr(cut + 1), joined = left + right;
    merges.emplace_back(left, right);
    for (Word& w : words) {
      std::vector<std::string> out;
      for (std::size_t k = 0; k < w.symbols.size(); ++k) {
        if (k + 1 < w.symbols.size() && w.symbols[k] == left && w.symbols[k + 1] == right) {
          out.push_back(joined);
          ++k;
        } else {
          out.push_back(w.symbols[k]);
        }
      }
      w.symbols = std::move(out);
    }
  }

  const ByteLevelBpeJson file = byte_level_bpe_json(merges, /*qwen_split=*/true);
  BpeTrained out;
  out.tokenizer_json = file.text;
  out.vocab_size = file.vocab_size;
  out.merges = static_cast<int64_t>(merges.size());
  return out;
}

}  // namespace toolgrpo::model
