// What every fuzz target checks with: a failed property stops the run where libFuzzer records the input, and
// whether a byte string is well-formed UTF-8 (the text a round trip must give back).
#pragma once

#include <cstddef>
#include <string_view>

namespace toolgrpo::fuzz {

inline void require(bool ok) {
  if (!ok) __builtin_trap();
}

// Well-formed UTF-8: no overlong forms, nothing above U+10FFFF; encoded surrogates (U+D800..DFFF) only with
// `surrogates` (Python str holds them, and json.dumps writes them as escapes).
inline bool utf8_well_formed(std::string_view s, bool surrogates) {
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const std::size_t k = c < 0x80                  ? 1
                          : (c >= 0xC2 && c <= 0xDF) ? 2
                          : (c >= 0xE0 && c <= 0xEF) ? 3
                          : (c >= 0xF0 && c <= 0xF4) ? 4
                                                     : 0;
    if (k == 0 || i + k > s.size()) return false;
    for (std::size_t j = 1; j < k; ++j)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
    const unsigned char d = k > 1 ? static_cast<unsigned char>(s[i + 1]) : 0;
    if (k == 3 && c == 0xE0 && d < 0xA0) return false;                 // overlong
    if (k == 3 && c == 0xED && d >= 0xA0 && !surrogates) return false;  // a surrogate
    if (k == 4 && c == 0xF0 && d < 0x90) return false;                 // overlong
    if (k == 4 && c == 0xF4 && d > 0x8F) return false;                 // above U+10FFFF
    i += k;
  }
  return true;
}

}  // namespace toolgrpo::fuzz
