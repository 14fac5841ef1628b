// Text helpers that model/ and reward/ both need but neither may take from the other: the UTF-8 encoder and
// Python json.dumps string escaping. Header-only and standard C++ only, so reward/ still builds alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace toolgrpo::common {

// Appends the UTF-8 (WTF-8 for surrogates) encoding of cp to out.
inline void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Appends a JSON string literal for s as Python's json.dumps writes it: '"', '\\', \n \r \t \b \f as two-character
// escapes and the other control characters as \u00XX (lowercase hex). With `ensure_ascii` (json.dumps' default)
// DEL is \u007f too and every non-ASCII character is \uXXXX (a surrogate pair above U+FFFF), invalid UTF-8 bytes
// becoming U+FFFD; without it (ensure_ascii=False) DEL and bytes >= 0x80 are copied as they are.
inline void json_dumps_string(std::string& out, std::string_view s, bool ensure_ascii) {
  static const char* kHex = "0123456789abcdef";
  const auto append_u = [&](uint32_t cp) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(cp >> shift) & 0xF]);
  };
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || (ensure_ascii && c == 0x7F)) append_u(c);
          else out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    if (!ensure_ascii) {  // the bytes as they are, valid UTF-8 or not
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // Decode one UTF-8 (WTF-8) sequence; invalid bytes become U+FFFD.
    std::size_t k = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) { k = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; cp = c & 0x07; }
    bool ok = k != 0 && i + k <= s.size();
    for (std::size_t j = 1; ok && j < k; ++j) {
      const unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))) ok = false;
    if (!ok) {
      append_u(0xFFFD);
      ++i;
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      append_u(0xD800 + (cp >> 10));
      append_u(0xDC00 + (cp & 0x3FF));
    } else {
      append_u(cp);
    }
    i += k;
  }
  out.push_back('"');
}

}  // namespace toolgrpo::common
