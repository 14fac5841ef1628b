// Python str semantics on UTF-8 text: the Unicode whitespace set of str.isspace(), str.strip(),
// len(str.split()), and round(x, 2). Text is UTF-8 (lone surrogates allowed, WTF-8 style); an invalid
// byte counts as one non-space character, so adversarial bytes never throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/text.hpp"

namespace toolgrpo::reward {

// True for exactly the code points Python's str.isspace()/str.split() treat as whitespace.
bool py_is_space(uint32_t cp);

// Length in bytes of the whitespace code point starting at s[i], or 0 if none starts there.
std::size_t py_space_len_at(std::string_view s, std::size_t i);

// Length in bytes of the whitespace code point ending just before s[end], or 0 if none.
std::size_t py_space_len_before(std::string_view s, std::size_t end);

// Python str.strip() with no argument.
std::string_view py_strip(std::string_view s);

// Python len(s.split()) with no argument: the number of maximal runs of non-whitespace.
std::size_t py_split_count(std::string_view s);

// Python round(x, 2) for a double: correctly rounded, ties to even on the exact binary value.
double py_round2(double x);

// Number of code points (Python len()); invalid bytes count one each.
std::size_t py_len(std::string_view s);

// A float as Python json.dumps writes it ("1.0", "0.1", "1e+16", "NaN", "Infinity"): reads back exactly.
std::string py_float_repr(double x);
// The same, appended to `out` (no allocation once `out` has room).
void py_float_repr_append(std::string& out, double x);

// Appends the UTF-8 (WTF-8 for surrogates) encoding of cp to out (shared with model/: common/text.hpp).
using common::utf8_append;

}  // namespace toolgrpo::reward
