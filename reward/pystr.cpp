// Python str whitespace semantics on UTF-8 bytes; see pystr.hpp.
#include "reward/pystr.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace toolgrpo::reward {
namespace {

constexpr std::array<bool, 128> make_ascii_space() {
  std::array<bool, 128> t{};
  for (int c = 0x09; c <= 0x0D; ++c) t[c] = true;
  for (int c = 0x1C; c <= 0x1F; ++c) t[c] = true;
  t[0x20] = true;
  return t;
}
constexpr std::array<bool, 128> kAsciiSpace = make_ascii_space();

inline unsigned char byte_at(std::string_view s, std::size_t i) { return static_cast<unsigned char>(s[i]); }

}  // namespace

bool py_is_space(uint32_t cp) {
  if (cp < 128) return kAsciiSpace[cp];
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// Multi-byte whitespace in UTF-8: C2 85, C2 A0, E1 9A 80, E2 80 80..8A, E2 80 A8, E2 80 A9, E2 80 AF,
// E2 81 9F, E3 80 80.
std::size_t py_space_len_at(std::string_view s, std::size_t i) {
  const unsigned char c = byte_at(s, i);
  if (c < 0x80) return kAsciiSpace[c] ? 1 : 0;
  const std::size_t n = s.size();
  if (c == 0xC2) {
    if (i + 1 < n && (byte_at(s, i + 1) == 0x85 || byte_at(s, i + 1) == 0xA0)) return 2;
    return 0;
  }
  if (c < 0xE1 || c > 0xE3 || i + 2 >= n) return 0;
  const unsigned char c1 = byte_at(s, i + 1), c2 = byte_at(s, i + 2);
  if (c == 0xE1) return (c1 == 0x9A && c2 == 0x80) ? 3 : 0;
  if (c == 0xE3) return (c1 == 0x80 && c2 == 0x80) ? 3 : 0;
  if (c1 == 0x80) return ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF) ? 3 : 0;
  if (c1 == 0x81) return c2 == 0x9F ? 3 : 0;
  return 0;
}

std::size_t py_space_len_before(std::string_view s, std::size_t end) {
  if (end == 0) return 0;
  const unsigned char last = byte_at(s, end - 1);
  if (last < 0x80) return kAsciiSpace[last] ? 1 : 0;
  if (end >= 2 && py_space_len_at(s, end - 2) == 2) return 2;
  if (end >= 3 && py_space_len_at(s, end - 3) == 3) return 3;
  return 0;
}

std::string_view py_strip(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e) {
    const std::size_t k = py_space_len_at(s, b);
    if (k == 0 || b + k > e) break;
    b += k;
  }
  while (e > b) {
    const std::size_t k = py_space_len_before(s, e);
    if (k == 0 || e - k < b) break;
    e -= k;
  }
  return s.substr(b, e - b);
}

std::size_t py_split_count(std::string_view s) {
  std::size_t words = 0, i = 0;
  bool in_word = false;
  const std::size_t n = s.size();
  while (i < n) {
    const unsigned char c = byte_at(s, i);
    std::size_t k;
    if (c < 0x80) {
      if (kAsciiSpace[c]) {
        in_word = false;
      } else if (!in_word) {
        in_word = true;
        ++words;
      }
      ++i;
      continue;
    }
    k = py_space_len_at(s, i);
    if (k) {
      in_word = false;
      i += k;
    } else {
      if (!in_word) {
        in_word = true;
        ++words;
      }
      ++i;  // continuation bytes are never spaces, so stepping one byte is safe
    }
  }
  return words;
}

double py_round2(double x) {
  if (!std::isfinite(x)) return x;
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.2f", x);  // glibc prints the exact binary value, rounded half-even
  return std::strtod(buf, nullptr);
}

std::size_t py_len(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = byte_at(s, i);
    std::size_t k = 1;
    if (c >= 0xF0 && c <= 0xF4) k = 4;
    else if (c >= 0xE0 && c <= 0xEF) k = 3;
    else if (c >= 0xC2 && c <= 0xDF) k = 2;
    if (i + k > s.size()) k = 1;
    for (std::size_t j = 1; j < k; ++j)
      if ((byte_at(s, i + j) & 0xC0) != 0x80) { k = 1; break; }
    i += k;
    ++n;
  }
  return n;
}

void py_float_repr_append(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
    return;
  }
  if (std::isinf(x)) {
    out += x > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[64];
  // Python repr: shortest round-trip digits; fixed notation for 1e-4 <= |x| < 1e16, else exponent.
  const double ax = std::fabs(x);
  std::to_chars_result r;
  if (ax != 0.0 && (ax < 1e-4 || ax >= 1e16)) {
    r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  } else {
    r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
  }
  const std::string_view digits(buf, static_cast<std::size_t>(r.ptr - buf));
  out += digits;
  if (digits.find_first_of(".e") == std::string_view::npos) out += ".0";
}

std::string py_float_repr(double x) {
  std::string out;
  py_float_repr_append(out, x);
  return out;
}

}  // namespace toolgrpo::reward
