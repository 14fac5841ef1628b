// Tag scanning with memchr over '<'; see tags.hpp.
#include "reward/tags.hpp"

#include <cstring>

namespace toolgrpo::reward {
namespace {
// Compares s[p, p + N) with a literal of N bytes; the fixed size lets the compiler emit plain loads.
template <std::size_t N>
inline bool at(std::string_view s, std::size_t p, const char (&lit)[N]) {
  return s.size() - p >= N - 1 && std::memcmp(s.data() + p, lit, N - 1) == 0;
}
}  // namespace

TagScan tag_scan(std::string_view s) {
  TagScan t;
  const char* base = s.data();
  const std::size_t n = s.size();
  std::size_t p = 0;
  while (p < n) {
    const void* hit = std::memchr(base + p, '<', n - p);
    if (hit == nullptr) break;
    p = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
    if (p + 1 >= n) break;
    const char c1 = base[p + 1];
    if (c1 == '/') {
      const char c2 = p + 2 < n ? base[p + 2] : '\0';
      if (c2 == 't' && at(s, p, "</tool_call>")) {
        ++t.tool_close;
        if (t.first_tool_close == TagScan::npos) t.first_tool_close = p;
        if (t.first_tool_open != TagScan::npos && t.tool_close_after == TagScan::npos) t.tool_close_after = p;
        p += 12;
        continue;
      }
      if (c2 == 'r' && at(s, p, "</response>")) {
        ++t.resp_close;
        if (t.first_resp_close == TagScan::npos) t.first_resp_close = p;
        p += 11;
        continue;
      }
      if (c2 == 't' && at(s, p, "</think>")) {
        t.has_think_close = true;
        if (t.last_think_open != TagScan::npos && t.think_close_after == TagScan::npos) t.think_close_after = p;
        p += 8;
        continue;
      }
    } else if (c1 == 't') {
      if (at(s, p, "<tool_call>")) {
        ++t.tool_open;
        if (t.first_tool_open == TagScan::npos) t.first_tool_open = p;
        else if (t.second_tool_open == TagScan::npos) t.second_tool_open = p;
        p += 11;
        continue;
      }
      if (at(s, p, "<think>")) {
        t.last_think_open = p;
        t.think_close_after = TagScan::npos;  // a later "<think>" restarts the search
        p += 7;
        continue;
      }
    } else if (c1 == 'r' && at(s, p, "<response>")) {
      ++t.resp_open;
      if (t.first_resp_open == TagScan::npos) t.first_resp_open = p;
      p += 10;
      continue;
    }
    ++p;
  }
  return t;
}

bool tool_block(std::string_view s, const TagScan& t, std::string_view& block) {
  if (t.first_tool_open == TagScan::npos) return false;
  const std::size_t begin = t.first_tool_open + 11;
  std::size_t end = s.size();
  if (t.second_tool_open != TagScan::npos) end = t.second_tool_open;
  if (t.tool_close_after != TagScan::npos && t.tool_close_after < end) end = t.tool_close_after;
  block = s.substr(begin, end - begin);
  return true;
}

}  // namespace toolgrpo::reward
