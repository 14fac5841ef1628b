// Python-exact JSON parsing and comparison; see json.hpp for the semantics reproduced.
#include "reward/json.hpp"

#include "common/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "reward/pystr.hpp"

namespace toolgrpo::reward {
namespace {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Index of the first byte in [i, n) that ends a plain string run: '"', '\\' or a control character (< 0x20).
// Eight bytes at a time with word tricks (portable, no intrinsics).
std::size_t scan_plain(const char* s, std::size_t i, std::size_t n) {
  constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "scan_plain assumes little-endian words");
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    const uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
    // A byte b is "special" when b == '"', b == '\\' or b < 0x20 (as unsigned).
    const uint64_t zero_q = (quote - ones) & ~quote, zero_s = (slash - ones) & ~slash;
    const uint64_t below = (w - ones * 0x20) & ~w;
    const uint64_t hits = (zero_q | zero_s | below) & highs;
    // The lowest flagged byte is always a true hit (false positives only sit above a true one).
    if (hits) return i + static_cast<std::size_t>(__builtin_ctzll(hits) >> 3);
    i += 8;
  }
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c < 0x20) return i;
    ++i;
  }
  return n;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Exact decimal digits of an integral finite double's magnitude.
std::string integral_double_digits(double d) {
  int exp = 0;
  const double m = std::frexp(std::fabs(d), &exp);  // |d| = m * 2^exp, m in [0.5, 1)
  uint64_t mant = static_cast<uint64_t>(std::ldexp(m, 53));
  int shift = exp - 53;
  if (shift <= 0) return std::to_string(mant >> (-shift));
  std::vector<uint32_t> limbs;  // base 1e9, little endian
  while (mant) {
    limbs.push_back(static_cast<uint32_t>(mant % 1000000000u));
    mant /= 1000000000u;
  }
  for (int k = 0; k < shift; ++k) {
    uint64_t carry = 0;
    for (auto& l : limbs) {
      const uint64_t v = uint64_t{l} * 2 + carry;
      l = static_cast<uint32_t>(v % 1000000000u);
      carry = v / 1000000000u;
    }
    if (carry) limbs.push_back(static_cast<uint32_t>(carry));
  }
  std::string out = std::to_string(limbs.back());
  char buf[16];
  for (std::size_t k = limbs.size() - 1; k-- > 0;) {
    std::snprintf(buf, sizeof buf, "%09u", limbs[k]);
    out += buf;
  }
  return out;
}

// Numeric view of bool/int/float for cross-type comparison.
bool numeric(const Value& v) {
  return v.kind == JsonKind::Bool || v.kind == JsonKind::Int || v.kind == JsonKind::BigInt ||
         v.kind == JsonKind::Float;
}

bool int_equals_double(int64_t i, double d) {
  if (!std::isfinite(d) || d != std::trunc(d)) return false;
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
  return static_cast<int64_t>(d) == i;
}

bool bigint_equals_double(const Value& b, double d) {
  if (!std::isfinite(d) || d != std::trunc(d)) return false;
  if ((d < 0) != b.flag) return false;
  return integral_double_digits(d) == b.string();
}

bool numeric_equal(const Value& a, const Value& b) {
  // Normalise bool to int: Python's bool is an int subclass.
  const auto as_int = [](const Value& v) { return v.kind == JsonKind::Bool ? int64_t{v.flag} : v.u.i; };
  const bool a_int = a.kind == JsonKind::Bool || a.kind == JsonKind::Int;
  const bool b_int = b.kind == JsonKind::Bool || b.kind == JsonKind::Int;
  if (a_int && b_int) return as_int(a) == as_int(b);
  if (a.kind == JsonKind::Float && b.kind == JsonKind::Float) return a.u.f == b.u.f;
  if (a_int && b.kind == JsonKind::Float) return int_equals_double(as_int(a), b.u.f);
  if (b_int && a.kind == JsonKind::Float) return int_equals_double(as_int(b), a.u.f);
  if (a.kind == JsonKind::BigInt && b.kind == JsonKind::BigInt)
    return a.flag == b.flag && a.string() == b.string();
  if (a.kind == JsonKind::BigInt && b.kind == JsonKind::Float) return bigint_equals_double(a, b.u.f);
  if (b.kind == JsonKind::BigInt && a.kind == JsonKind::Float) return bigint_equals_double(b, a.u.f);
  return false;  // BigInt never equals a value that fits int64
}

}  // namespace

bool Value::is_nan() const { return kind == JsonKind::Float && std::isnan(u.f); }

const Value* Value::find(std::string_view key) const {
  if (kind != JsonKind::Object) return nullptr;
  for (uint32_t k = 0; k < size; ++k)
    if (u.members[k].key == key) return &u.members[k].value;
  return nullptr;
}

bool py_equal(const Value& a, const Value& b) {
  if (numeric(a) && numeric(b)) return numeric_equal(a, b);
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case JsonKind::Null:
      return true;
    case JsonKind::String:
      return a.string() == b.string();
    case JsonKind::Array:
      if (a.size != b.size) return false;
      for (uint32_t k = 0; k < a.size; ++k)
        if (!py_item_equal(a.u.items[k], b.u.items[k])) return false;
      return true;
    case JsonKind::Object:
      if (a.size != b.size) return false;
      for (uint32_t k = 0; k < a.size; ++k) {
        const Value* other = b.find(a.u.members[k].key);
        if (other == nullptr || !py_item_equal(a.u.members[k].value, *other)) return false;
      }
      return true;
    default:
      return false;
  }
}

bool py_item_equal(const Value& a, const Value& b) {
  if (&a == &b) return true;  // identity, as PyObject_RichCompareBool
  if (a.is_nan() && b.is_nan()) return true;  // the same float('nan') object from json.loads
  return py_equal(a, b);
}

bool py_hashable(const Value& v) { return v.kind != JsonKind::Array && v.kind != JsonKind::Object; }

bool py_len_of(const Value& v, std::size_t& out) {
  switch (v.kind) {
    case JsonKind::String:
      out = py_len(v.string());
      return true;
    case JsonKind::Array:
    case JsonKind::Object:
      out = v.size;
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parser: mirrors CPython's C scanner (Modules/_json.c) decisions, including its error wording.

bool JsonParser::fail(const char* message, std::size_t offset) {
  if (err_) {
    err_->message = message;
    err_->offset = offset;
  }
  return false;
}

void JsonParser::skip_ws() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    ++pos_;
  }
}

const Value* JsonParser::parse(std::string_view text, Arena& arena, JsonError* err) {
  borrow_ = false;
  return parse_impl(text, arena, err);
}

const Value* JsonParser::parse_borrowed(std::string_view text, Arena& arena, JsonError* err) {
  borrow_ = true;
  return parse_impl(text, arena, err);
}

const Value* JsonParser::parse_impl(std::string_view text, Arena& arena, JsonError* err) {
  text_ = text;
  pos_ = 0;
  arena_ = &arena;
  err_ = err;
  items_.clear();
  members_.clear();
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) {
    fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
    return nullptr;
  }
  skip_ws();
  Value* root = arena.allocate_array<Value>(1);
  new (root) Value();
  if (!parse_value(*root, 0)) return nullptr;
  skip_ws();
  if (pos_ != text_.size()) {
    fail("Extra data", pos_);
    return nullptr;
  }
  return root;
}

bool JsonParser::parse_value(Value& out, int depth) {
  if (pos_ >= text_.size()) return fail("Expecting value", pos_);
  const std::string_view rest = text_.substr(pos_);
  const auto starts = [&](std::string_view word) { return rest.substr(0, word.size()) == word; };
  switch (text_[pos_]) {
    case '"': {
      std::string_view s;
      if (!parse_string(s)) return false;
      out.kind = JsonKind::String;
      out.size = static_cast<uint32_t>(s.size());
      out.u.str = s.data();
      return true;
    }
    case '{':
      if (depth >= kMaxDepth) return fail("maximum recursion depth exceeded", pos_);
      return parse_object(out, depth + 1);
    case '[':
      if (depth >= kMaxDepth) return fail("maximum recursion depth exceeded", pos_);
      return parse_array(out, depth + 1);
    case 'n':
      if (starts("null")) {
        out.kind = JsonKind::Null;
        pos_ += 4;
        return true;
      }
      break;
    case 't':
      if (starts("true")) {
        out.kind = JsonKind::Bool;
        out.flag = true;
        pos_ += 4;
        return true;
      }
      break;
    case 'f':
      if (starts("false")) {
        out.kind = JsonKind::Bool;
        out.flag = false;
        pos_ += 5;
        return true;
      }
      break;
    case 'N':
      if (starts("NaN")) {
        out.kind = JsonKind::Float;
        out.u.f = std::nan("");
        pos_ += 3;
        return true;
      }
      break;
    case 'I':
      if (starts("Infinity")) {
        out.kind = JsonKind::Float;
        out.u.f = HUGE_VAL;
        pos_ += 8;
        return true;
      }
      break;
    case '-':
      if (starts("-Infinity")) {
        out.kind = JsonKind::Float;
        out.u.f = -HUGE_VAL;
        pos_ += 9;
        return true;
      }
      break;
    default:
      break;
  }
  return parse_number(out);
}

bool JsonParser::parse_number(Value& out) {
  const std::size_t start = pos_, n = text_.size();
  std::size_t i = pos_;
  if (i < n && text_[i] == '-') ++i;
  if (i < n && text_[i] >= '1' && text_[i] <= '9') {
    while (i < n && is_digit(text_[i])) ++i;
  } else if (i < n && text_[i] == '0') {
    ++i;
  } else {
    return fail("Expecting value", start);
  }
  const std::size_t int_end = i;
  bool is_float = false;
  if (i + 1 < n && text_[i] == '.' && is_digit(text_[i + 1])) {
    is_float = true;
    i += 2;
    while (i < n && is_digit(text_[i])) ++i;
  }
  if (i < n && (text_[i] == 'e' || text_[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < n && (text_[j] == '+' || text_[j] == '-')) ++j;
    const std::size_t digits_start = j;
    while (j < n && is_digit(text_[j])) ++j;
    if (j > digits_start) {
      is_float = true;
      i = j;
    }
  }
  pos_ = i;
  const std::string_view num = text_.substr(start, i - start);
  if (is_float) {
    out.kind = JsonKind::Float;
    double d = 0;
    const auto r = std::from_chars(num.data(), num.data() + num.size(), d);
    if (r.ec != std::errc()) {  // overflow to inf / underflow to 0: let strtod decide, as Python's float() does
      const std::string copy(num);
      d = std::strtod(copy.c_str(), nullptr);
    }
    out.u.f = d;
    return true;
  }
  const bool negative = num[0] == '-';
  std::string_view digits = text_.substr(start + (negative ? 1 : 0), int_end - start - (negative ? 1 : 0));
  if (digits.size() > kMaxIntDigits)
    return fail("Exceeds the limit (4300 digits) for integer string conversion", start);
  if (digits.size() <= 18) {
    int64_t v = 0;
    for (char c : digits) v = v * 10 + (c - '0');
    out.kind = JsonKind::Int;
    out.u.i = negative ? -v : v;
    return true;
  }
  // 19+ digits: int64 if it fits, else an exact decimal BigInt.
  uint64_t v = 0;
  bool overflow = digits.size() > 20;
  for (std::size_t k = 0; k < digits.size() && !overflow; ++k) {
    const uint64_t d = static_cast<uint64_t>(digits[k] - '0');
    if (v > (UINT64_MAX - d) / 10) overflow = true;
    else v = v * 10 + d;
  }
  const uint64_t limit = negative ? (uint64_t{1} << 63) : (uint64_t{1} << 63) - 1;
  if (!overflow && v <= limit) {
    out.kind = JsonKind::Int;
    out.u.i = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    return true;
  }
  char* copy = arena_->allocate_array<char>(digits.size());
  std::memcpy(copy, digits.data(), digits.size());
  out.kind = JsonKind::BigInt;
  out.flag = negative;
  out.size = static_cast<uint32_t>(digits.size());
  out.u.str = copy;
  return true;
}

bool JsonParser::parse_string(std::string_view& out) {
  const std::size_t start = pos_;  // at the opening quote
  std::size_t i = pos_ + 1;
  const std::size_t n = text_.size();
  // Fast path: no escapes.
  std::size_t j = scan_plain(text_.data(), i, n);
  if (j < n && text_[j] == '"') {
    if (borrow_) {
      out = text_.substr(i, j - i);
    } else {
      char* copy = arena_->allocate_array<char>(j - i);
      std::memcpy(copy, text_.data() + i, j - i);
      out = std::string_view(copy, j - i);
    }
    pos_ = j + 1;
    return true;
  }
  scratch_.assign(text_.data() + i, j - i);
  i = j;
  while (true) {
    if (i >= n) return fail("Unterminated string starting at", start);
    const unsigned char c = static_cast<unsigned char>(text_[i]);
    if (c == '"') break;
    if (c < 0x20) return fail("Invalid control character at", i);
    if (c != '\\') {
      const std::size_t k = scan_plain(text_.data(), i, n);
      scratch_.append(text_.data() + i, k - i);
      i = k;
      continue;
    }
    if (i + 1 >= n) return fail("Unterminated string starting at", start);
    const char e = text_[i + 1];
    if (e != 'u') {
      char decoded;
      switch (e) {
        case '"': decoded = '"'; break;
        case '\\': decoded = '\\'; break;
        case '/': decoded = '/'; break;
        case 'b': decoded = '\b'; break;
        case 'f': decoded = '\f'; break;
        case 'n': decoded = '\n'; break;
        case 'r': decoded = '\r'; break;
        case 't': decoded = '\t'; break;
        default: return fail("Invalid \\escape", i);
      }
      scratch_.push_back(decoded);
      i += 2;
      continue;
    }
    // \uXXXX: CPython requires a character after the four digits (the closing quote at least).
    const auto read_hex4 = [&](std::size_t at, uint32_t& cp) {
      if (at + 4 >= n) return false;
      cp = 0;
      for (std::size_t k = 0; k < 4; ++k) {
        const int h = hex_value(text_[at + k]);
        if (h < 0) return false;
        cp = cp * 16 + static_cast<uint32_t>(h);
      }
      return true;
    };
    uint32_t cp = 0;
    if (!read_hex4(i + 2, cp)) return fail("Invalid \\uXXXX escape", i);
    std::size_t next = i + 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && next + 6 < n && text_[next] == '\\' && text_[next + 1] == 'u') {
      uint32_t lo = 0;
      if (!read_hex4(next + 2, lo)) return fail("Invalid \\uXXXX escape", next);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        next += 6;
      }
    }
    utf8_append(scratch_, cp);
    i = next;
  }
  char* copy = arena_->allocate_array<char>(scratch_.size());
  std::memcpy(copy, scratch_.data(), scratch_.size());
  out = std::string_view(copy, scratch_.size());
  pos_ = i + 1;
  return true;
}

bool JsonParser::parse_array(Value& out, int depth) {
  ++pos_;  // '['
  const std::size_t base = items_.size();
  skip_ws();
  if (pos_ < text_.size() && text_[pos_] == ']') {
    ++pos_;
  } else {
    while (true) {
      Value v;
      if (!parse_value(v, depth)) return false;
      items_.push_back(v);
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        break;
      }
      if (pos_ >= text_.size() || text_[pos_] != ',') return fail("Expecting ',' delimiter", pos_);
      ++pos_;
      skip_ws();
    }
  }
  const std::size_t count = items_.size() - base;
  Value* arr = arena_->allocate_array<Value>(count);
  for (std::size_t k = 0; k < count; ++k) new (arr + k) Value(items_[base + k]);
  items_.resize(base);
  out.kind = JsonKind::Array;
  out.size = static_cast<uint32_t>(count);
  out.u.items = arr;
  return true;
}

bool JsonParser::parse_object(Value& out, int depth) {
  ++pos_;  // '{'
  const std::size_t base = members_.size();
  // Large objects index their keys; small ones search linearly.
  std::unordered_map<std::string_view, std::size_t> index;
  constexpr std::size_t kIndexFrom = 32;
  skip_ws();
  if (pos_ < text_.size() && text_[pos_] == '}') {
    ++pos_;
  } else {
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] != '"')
        return fail("Expecting property name enclosed in double quotes", pos_);
      std::string_view key;
      if (!parse_string(key)) return false;
      skip_ws();
      if (pos_ >= text_.size() || text_[pos_] != ':') return fail("Expecting ':' delimiter", pos_);
      ++pos_;
      skip_ws();
      Value v;
      if (!parse_value(v, depth)) return false;
      // Duplicate key: last value wins, first position kept (Python dict assignment).
      const std::size_t count = members_.size() - base;
      std::size_t found = SIZE_MAX;
      if (count >= kIndexFrom) {
        if (index.empty())
          for (std::size_t k = 0; k < count; ++k) index.emplace(members_[base + k].key, base + k);
        const auto it = index.find(key);
        if (it != index.end()) found = it->second;
      } else {
        for (std::size_t k = base; k < members_.size(); ++k)
          if (members_[k].key == key) {
            found = k;
            break;
          }
      }
      if (found != SIZE_MAX) {
        members_[found].value = v;
      } else {
        members_.push_back(Member{key, v});
        if (!index.empty()) index.emplace(key, members_.size() - 1);
      }
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        break;
      }
      if (pos_ >= text_.size() || text_[pos_] != ',') return fail("Expecting ',' delimiter", pos_);
      ++pos_;
      skip_ws();
    }
  }
  const std::size_t count = members_.size() - base;
  Member* mem = arena_->allocate_array<Member>(count);
  for (std::size_t k = 0; k < count; ++k) new (mem + k) Member(members_[base + k]);
  members_.resize(base);
  out.kind = JsonKind::Object;
  out.size = static_cast<uint32_t>(count);
  out.u.members = mem;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Serialisation as json.dumps writes it.

void json_append_string(std::string& out, std::string_view s) {
  common::json_dumps_string(out, s, /*ensure_ascii=*/true);
}

namespace {
void dump_into(std::string& out, const Value& v) {
  switch (v.kind) {
    case JsonKind::Null: out += "null"; break;
    case JsonKind::Bool: out += v.flag ? "true" : "false"; break;
    case JsonKind::Int: out += std::to_string(v.u.i); break;
    case JsonKind::BigInt:
      if (v.flag) out.push_back('-');
      out.append(v.u.str, v.size);
      break;
    case JsonKind::Float: out += py_float_repr(v.u.f); break;
    case JsonKind::String: json_append_string(out, v.string()); break;
    case JsonKind::Array:
      out.push_back('[');
      for (uint32_t k = 0; k < v.size; ++k) {
        if (k) out += ", ";
        dump_into(out, v.u.items[k]);
      }
      out.push_back(']');
      break;
    case JsonKind::Object:
      out.push_back('{');
      for (uint32_t k = 0; k < v.size; ++k) {
        if (k) out += ", ";
        json_append_string(out, v.u.members[k].key);
        out += ": ";
        dump_into(out, v.u.members[k].value);
      }
      out.push_back('}');
      break;
  }
}
}  // namespace

std::string json_dumps(const Value& v) {
  std::string out;
  dump_into(out, v);
  return out;
}

}  // namespace toolgrpo::reward
