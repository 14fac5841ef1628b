// Byte-level BPE from tokenizer.json; see bpe_tokenizer.hpp. The split regex is matched by hand, alternative by
// alternative, with the reference engine's character classes (unicode/tables.inc).
#include "model/bpe_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "common/input_error.hpp"
#include "common/text.hpp"
#include "model/byte_tokenizer.hpp"

namespace toolgrpo::model {
namespace {
#include "model/unicode/tables.inc"

enum Cls : uint8_t { kOther = 0, kL = 1, kN = 2, kWS = 3, kCRLF = 4 };

uint8_t class_of(uint32_t cp) {
  static const auto ascii = [] {
    std::array<uint8_t, 128> t{};
    for (const auto& r : kClassRanges)
      for (uint32_t c = r.first; c <= r.last && c < 128; ++c) t[c] = r.cls;
    return t;
  }();
  if (cp < 128) return ascii[cp];
  const auto* end = kClassRanges + sizeof(kClassRanges) / sizeof(kClassRanges[0]);
  const auto* it = std::upper_bound(kClassRanges, end, cp, [](uint32_t v, const ClassRange& r) { return v < r.first; });
  if (it == kClassRanges) return kOther;
  --it;
  return cp <= it->last ? it->cls : static_cast<uint8_t>(kOther);
}

// UTF-8 decoding into code points with byte offsets; an invalid byte is one "other" unit.
struct Units {
  std::vector<uint32_t> cp;
  std::vector<uint32_t> off;  // byte offset of each unit, plus the end
};
Units decode_units(std::string_view s) {
  Units u;
  u.cp.reserve(s.size());
  u.off.reserve(s.size() + 1);
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t k = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    uint32_t cp = c;
    bool ok = k != 0 && i + k <= s.size();
    if (ok && k > 1) {
      cp = c & (0xFF >> (k + 1));
      for (std::size_t j = 1; j < k && ok; ++j) {
        const unsigned char cc = static_cast<unsigned char>(s[i + j]);
        ok = (cc & 0xC0) == 0x80;
        cp = (cp << 6) | (cc & 0x3F);
      }
    }
    if (!ok) {
      k = 1;
      cp = 0xFFFFFFFF;  // invalid byte
    }
    u.cp.push_back(cp);
    u.off.push_back(static_cast<uint32_t>(i));
    i += k;
  }
  u.off.push_back(static_cast<uint32_t>(s.size()));
  return u;
}

// ---- NFC ----
uint8_t ccc_of(uint32_t cp) {
  const auto* end = kCcc + sizeof(kCcc) / sizeof(kCcc[0]);
  const auto* it = std::lower_bound(kCcc, end, cp, [](const CccEntry& e, uint32_t v) { return e.cp < v; });
  return it != end && it->cp == cp ? it->ccc : 0;
}
const DecompEntry* decomp_of(uint32_t cp) {
  const auto* end = kDecomp + sizeof(kDecomp) / sizeof(kDecomp[0]);
  const auto* it = std::lower_bound(kDecomp, end, cp, [](const DecompEntry& e, uint32_t v) { return e.cp < v; });
  return it != end && it->cp == cp ? it : nullptr;
}
uint32_t compose_pair(uint32_t a, uint32_t b) {
  constexpr uint32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21,
                     TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;
  if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
    return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
  if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
    return a + (b - TBase);
  const auto* end = kCompose + sizeof(kCompose) / sizeof(kCompose[0]);
  const auto* it = std::lower_bound(kCompose, end, std::make_pair(a, b), [](const ComposeEntry& e, std::pair<uint32_t, uint32_t> v) {
    return e.first < v.first || (e.first == v.first && e.second < v.second);
  });
  return it != end && it->first == a && it->second == b ? it->composite : 0;
}
void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  constexpr uint32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, TCount = 28, NCount = 588,
                     SCount = 11172;
  if (cp >= SBase && cp < SBase + SCount) {
    const uint32_t s = cp - SBase;
    out.push_back(LBase + s / NCount);
    out.push_back(VBase + (s % NCount) / TCount);
    if (s % TCount) out.push_back(TBase + s % TCount);
    return;
  }
  if (const DecompEntry* d = decomp_of(cp)) {
    decompose(d->first, out);
    if (d->second) decompose(d->second, out);
    return;
  }
  out.push_back(cp);
}

}  // namespace

std::string nfc_normalize(std::string_view text) {
  bool simple = true;  // text below U+0300 is always in NFC
  for (unsigned char c : text)
    if (c >= 0xCC) {
      simple = false;
      break;
    }
  if (simple) return std::string(text);
  const Units u = decode_units(text);
  std::string out;
  out.reserve(text.size());
  std::vector<uint32_t> buf;
  const auto flush = [&] {
    // Canonical ordering: stable sort of non-starter runs by combining class.
    for (std::size_t i = 0; i < buf.size();) {
      if (ccc_of(buf[i]) == 0) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < buf.size() && ccc_of(buf[j]) != 0) ++j;
      std::stable_sort(buf.begin() + static_cast<long>(i), buf.begin() + static_cast<long>(j),
                       [](uint32_t a, uint32_t b) { return ccc_of(a) < ccc_of(b); });
      i = j;
    }
    // Canonical composition: a character joins the last starter unless something between them blocks it.
    std::vector<uint32_t> res;
    std::size_t starter = SIZE_MAX;
    int last_cc = -1;  // combining class of the last character kept after the starter; -1: none (adjacent)
    for (uint32_t cp : buf) {
      const int cc = ccc_of(cp);
      if (starter != SIZE_MAX && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
        if (const uint32_t comp = compose_pair(res[starter], cp)) {
          res[starter] = comp;
          continue;
        }
      }
      if (cc == 0) {
        starter = res.size();
        last_cc = -1;
      } else {
        last_cc = cc;
      }
      res.push_back(cp);
    }
    for (uint32_t cp : res) common::utf8_append(out, cp);
    buf.clear();
  };
  for (std::size_t i = 0; i < u.cp.size(); ++i) {
    if (u.cp[i] == 0xFFFFFFFF) {
      flush();
      out.push_back(text[u.off[i]]);
      continue;
    }
    decompose(u.cp[i], buf);
  }
  flush();
  return out;
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::load(const std::string& path_or_dir) {
  std::string path = path_or_dir;
  {
    std::ifstream probe(path + "/tokenizer.json");
    if (probe) path += "/tokenizer.json";
  }
  std::ifstream in(path);
  if (!in) throw common::InputError(path + ": cannot open tokenizer.json");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::parse(const std::string& json_text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const std::exception& e) {
    throw common::InputError(path + ": not valid JSON: " + e.what());
  }
  const auto fail = [&](const std::string& what) { throw common::InputError(path + ": " + what); };
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  try {
    const auto& model = j.at("model");
    if (model.at("type") != "BPE") fail("model.type must be \"BPE\"");
    t->ignore_merges_ = model.value("ignore_merges", false);
    const auto& norm = j.at("normalizer");
    if (!norm.is_null()) {
      if (norm.at("type") != "NFC") fail("normalizer " + norm.dump() + " is not supported (only NFC or null)");
      t->nfc_ = true;
    }
    // Pre-tokenizer: [Split(known regex), ByteLevel(use_regex=false)] or ByteLevel(use_regex=false).
    const auto& pre = j.at("pre_tokenizer");
    std::vector<nlohmann::json> steps;
    if (pre.at("type") == "Sequence") steps = pre.at("pretokenizers").get<std::vector<nlohmann::json>>();
    else steps = {pre};
    for (const auto& s : steps) {
      if (s.at("type") == "ByteLevel") {
        if (s.value("use_regex", true)) fail("pre_tokenizer ByteLevel with use_regex=true is not supported");
        if (s.value("add_prefix_space", false)) fail("pre_tokenizer ByteLevel with add_prefix_space is not supported");
      } else if (s.at("type") == "Split") {
        const std::string re = s.at("pattern").at("Regex");
        const std::string common_head = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|";
        const std::string common_tail = "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
        if (re == common_head + "\\p{N}" + common_tail) t->split_ = Split::Qwen;
        else if (re == common_head + "\\p{N}{1,3}" + common_tail) t->split_ = Split::Llama3;
        else fail("pre_tokenizer Split regex " + re + " is not one of the Qwen / Llama-3 patterns");
        if (s.value("behavior", "") != "Isolated" || s.value("invert", false)) fail("Split must be Isolated, not inverted");
      } else {
        fail("pre_tokenizer type " + s.at("type").dump() + " is not supported");
      }
    }
    for (const auto& [tok, id] : model.at("vocab").items()) {
      const int64_t i = id.get<int64_t>();
      t->vocab_[tok] = static_cast<int32_t>(i);
      if (static_cast<std::size_t>(i) >= t->id_to_token_.size()) t->id_to_token_.resize(static_cast<std::size_t>(i) + 1);
      t->id_to_token_[static_cast<std::size_t>(i)] = tok;
    }
    for (int b = 0; b < 256; ++b) {
      const auto it = t->vocab_.find(byte_level_token(static_cast<uint8_t>(b)));
      if (it == t->vocab_.end()) fail("vocab lacks the byte-level token for byte " + std::to_string(b));
      t->byte_token_[b] = it->second;
    }
    int32_t rank = 0;
    for (const auto& m : model.at("merges")) {
      std::string a, b;
      if (m.is_array()) {
        a = m.at(0);
        b = m.at(1);
      } else {
        const std::string s = m;
        const std::size_t sp = s.find(' ');
        if (sp == std::string::npos) fail("merge \"" + s + "\" is not \"left right\"");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      }
      const auto ia = t->vocab_.find(a), ib = t->vocab_.find(b), im = t->vocab_.find(a + b);
      if (ia == t->vocab_.end() || ib == t->vocab_.end() || im == t->vocab_.end())
        fail("merge " + std::to_string(rank) + " (\"" + a + "\", \"" + b + "\") names tokens missing from the vocab");
      const uint64_t key = (static_cast<uint64_t>(ia->second) << 32) | static_cast<uint32_t>(ib->second);
      t->merges_.emplace(key, std::make_pair(rank, im->second));
      ++rank;
    }
    t->id_is_added_.assign(t->id_to_token_.size(), 0);
    for (const auto& a : j.at("added_tokens")) {
      Added x{a.at("content"), a.at("id").get<int64_t>(), a.value("special", false)};
      if (x.content.empty()) fail("added token with empty content");
      if (static_cast<std::size_t>(x.id) >= t->id_to_token_.size()) {
        t->id_to_token_.resize(static_cast<std::size_t>(x.id) + 1);
        t->id_is_added_.resize(t->id_to_token_.size(), 0);
      }
      t->id_to_token_[static_cast<std::size_t>(x.id)] = x.content;
      t->id_is_added_[static_cast<std::size_t>(x.id)] = x.special ? 2 : 1;
      t->added_.push_back(std::move(x));
    }
    std::stable_sort(t->added_.begin(), t->added_.end(),
                     [](const Added& a, const Added& b) { return a.content.size() > b.content.size(); });
    for (std::size_t k = 0; k < t->added_.size(); ++k)
      t->added_by_first_[static_cast<unsigned char>(t->added_[k].content[0])].push_back(k);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("unexpected tokenizer.json structure: ") + e.what());
  }
  return t;
}

int64_t BpeTokenizer::token_id(const std::string& token) const {
  for (const auto& a : added_)
    if (a.content == token) return a.id;
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_word(std::string_view w, std::vector<int64_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(std::string(w));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> syms;
  syms.reserve(w.size());
  bool whole = false;
  if (ignore_merges_) {
    std::string s;
    for (unsigned char b : w) s += byte_level_token(b);
    const auto it = vocab_.find(s);
    if (it != vocab_.end()) {
      syms.push_back(it->second);
      whole = true;
    }
  }
  if (!whole) {
    for (unsigned char b : w) syms.push_back(byte_token_[b]);
    while (syms.size() > 1) {
      int32_t best_rank = INT32_MAX, best_id = -1;
      std::size_t best_pos = 0;
      for (std::size_t k = 0; k + 1 < syms.size(); ++k) {
        const uint64_t key = (static_cast<uint64_t>(syms[k]) << 32) | static_cast<uint32_t>(syms[k + 1]);
        const auto it = merges_.find(key);
        if (it != merges_.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          best_id = it->second.second;
          best_pos = k;
        }
      }
      if (best_id < 0) break;
      syms[best_pos] = best_id;
      syms.erase(syms.begin() + static_cast<long>(best_pos) + 1);
    }
  }
  out.insert(out.end(), syms.begin(), syms.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() > 200000) cache_.clear();
  cache_.emplace(std::string(w), std::move(syms));
}

void BpeTokenizer::encode_segment(std::string_view text, std::vector<int64_t>& out) const {
  const std::string normalized = nfc_ ? nfc_normalize(text) : std::string();
  const std::string_view s = nfc_ ? std::string_view(normalized) : text;
  if (split_ == Split::None) {
    if (!s.empty()) encode_word(s, out);
    return;
  }
  const Units u = decode_units(s);
  const std::size_t n = u.cp.size();
  std::vector<uint8_t> cls(n);
  for (std::size_t i = 0; i < n; ++i) cls[i] = u.cp[i] == 0xFFFFFFFF ? static_cast<uint8_t>(kOther) : class_of(u.cp[i]);
  const auto is_ws = [&](std::size_t i) { return cls[i] == kWS || cls[i] == kCRLF; };
  const auto lower = [&](std::size_t i) -> uint32_t {
    const uint32_t c = u.cp[i];
    if (c == 0x17F) return 's';
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
  };
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = 0;
    // 1. (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (u.cp[i] == '\'' && i + 1 < n) {
      const uint32_t a = lower(i + 1);
      if (a == 's' || a == 't' || a == 'm' || a == 'd') end = i + 2;
      else if (i + 2 < n) {
        const uint32_t b = lower(i + 2);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) end = i + 3;
      }
      if (end && u.cp[i + 1] == 0x17F && lower(i + 1) != 's') end = 0;
    }
    // 2. [^\r\n\p{L}\p{N}]?\p{L}+
    if (!end) {
      std::size_t j = i;
      if (cls[j] != kCRLF && cls[j] != kL && cls[j] != kN && j + 1 < n && cls[j + 1] == kL) ++j;
      if (cls[j] == kL) {
        while (j < n && cls[j] == kL) ++j;
        end = j;
      }
    }
    // 3. \p{N} (Qwen) or \p{N}{1,3} (Llama 3)
    if (!end && cls[i] == kN) {
      std::size_t j = i + 1;
      if (split_ == Split::Llama3)
        while (j < n && j < i + 3 && cls[j] == kN) ++j;
      end = j;
    }
    // 4.  ?[^\s\p{L}\p{N}]+[\r\n]*
    if (!end) {
      const auto plain = [&](std::size_t k) { return !is_ws(k) && cls[k] != kL && cls[k] != kN; };
      std::size_t j = i;
      if (u.cp[j] == ' ' && j + 1 < n && plain(j + 1)) ++j;
      if (plain(j)) {
        while (j < n && plain(j)) ++j;
        while (j < n && cls[j] == kCRLF) ++j;
        end = j;
      }
    }
    // 5-7. \s*[\r\n]+ | \s+(?!\S) | \s+
    if (!end && is_ws(i)) {
      std::size_t j = i;
      while (j < n && is_ws(j)) ++j;
      std::size_t last_crlf = SIZE_MAX;
      for (std::size_t k = i; k < j; ++k)
        if (cls[k] == kCRLF) last_crlf = k;
      if (last_crlf != SIZE_MAX) end = last_crlf + 1;
      else if (j == n) end = j;
      else if (j - 1 > i) end = j - 1;
      else end = j;
    }
    if (!end) end = i + 1;  // unreachable with these classes; keeps progress on invalid input
    encode_word(s.substr(u.off[i], u.off[end] - u.off[i]), out);
    i = end;
  }
}

std::vector<int64_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> out;
  std::size_t start = 0, i = 0;
  while (i < text.size()) {
    const Added* hit = nullptr;
    for (const std::size_t k : added_by_first_[static_cast<unsigned char>(text[i])]) {  // longest first
      const Added& a = added_[k];
      if (text.compare(i, a.content.size(), a.content) == 0) {
        hit = &a;
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    encode_segment(text.substr(start, i - start), out);
    out.push_back(hit->id);
    i += hit->content.size();
    start = i;
  }
  encode_segment(text.substr(start), out);
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string bytes;
  for (int64_t id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size()) continue;
    const uint8_t added = id_is_added_[static_cast<std::size_t>(id)];
    if (added == 2 && skip_special) continue;
    const std::string& tok = id_to_token_[static_cast<std::size_t>(id)];
    // Every character through the byte-level map, or the token's own bytes when one is outside it.
    const Units u = decode_units(tok);
    std::string mapped;
    bool ok = true;
    for (uint32_t cp : u.cp) {
      const int b = byte_level_byte(cp);
      if (b < 0) {
        ok = false;
        break;
      }
      mapped.push_back(static_cast<char>(b));
    }
    bytes += ok ? mapped : tok;
  }
  std::string out;
  utf8_lossy_append(out, bytes);
  return out;
}

}  // namespace toolgrpo::model
