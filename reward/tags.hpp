// One pass over an output that finds every ToolRL tag the three rewards look at: counts (str.count) and the
// first/last positions that Python's split(...)[k] picks. All rewards then work in O(1) or on a sub-range.
#pragma once

#include <cstddef>
#include <string_view>

namespace toolgrpo::reward {

struct TagScan {
  static constexpr std::size_t npos = std::string_view::npos;

  int tool_open = 0;    // count of "<tool_call>"
  int tool_close = 0;   // count of "</tool_call>"
  int resp_open = 0;    // count of "<response>"
  int resp_close = 0;   // count of "</response>"
  std::size_t first_tool_open = npos;    // first "<tool_call>"
  std::size_t second_tool_open = npos;   // second "<tool_call>"
  std::size_t first_tool_close = npos;   // first "</tool_call>" anywhere
  std::size_t tool_close_after = npos;   // first "</tool_call>" after first_tool_open
  std::size_t first_resp_open = npos;    // first "<response>"
  std::size_t first_resp_close = npos;   // first "</response>"
  std::size_t last_think_open = npos;    // last "<think>"
  std::size_t think_close_after = npos;  // first "</think>" after last_think_open
  bool has_think_close = false;          // "</think>" anywhere
};

TagScan tag_scan(std::string_view s);

// Python s.split("<tool_call>")[1].split("</tool_call>")[0]: the first block, or nothing if no "<tool_call>".
bool tool_block(std::string_view s, const TagScan& t, std::string_view& block);

}  // namespace toolgrpo::reward
