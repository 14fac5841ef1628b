// The ToolRL format, correctness and length rewards, reproducing the reference rlla.py decision by decision
// (see ../shared/data/README.md for the list of behaviours). Python exceptions become `false` returns here.
#include "reward/score.hpp"

#include <cstring>

#include "reward/pystr.hpp"
#include "reward/tags.hpp"

namespace toolgrpo::reward {
namespace {

constexpr std::size_t npos = TagScan::npos;

inline bool at(std::string_view s, std::size_t p, std::string_view lit) {
  return p <= s.size() && s.size() - p >= lit.size() && std::memcmp(s.data() + p, lit.data(), lit.size()) == 0;
}

// `$` without MULTILINE: the end of the string, or just before one final "\n".
inline bool ends_at(std::string_view s, std::size_t end) {
  return end == s.size() || (end + 1 == s.size() && s.back() == '\n');
}

// "</think>\n" + tag directly before position q, after the leading "<think>".
inline bool think_then(std::string_view s, std::size_t q) { return q >= 16 && at(s, q - 9, "</think>\n"); }

// The "<tool_call>\n.*?\n</tool_call>" core shared by the tool and combined patterns; returns the position of
// "</tool_call>" or npos.
std::size_t tool_part(std::string_view s, const TagScan& t) {
  const std::size_t q = t.first_tool_open, c = t.first_tool_close;
  if (!think_then(s, q) || !at(s, q + 11, "\n")) return npos;
  if (c == npos || c < q + 13 || s[c - 1] != '\n') return npos;
  return c;
}

bool format_ok(std::string_view s, const TagScan& t, FormatPattern pattern) {
  if (!at(s, 0, "<think>")) return false;
  switch (pattern) {
    case FormatPattern::ThinkOnly: {
      // ^<think>.*?</think>$
      const std::size_t n = s.size();
      if (n >= 15 && at(s, n - 8, "</think>")) return true;
      return n >= 16 && at(s, n - 9, "</think>\n");
    }
    case FormatPattern::ToolCall: {
      if (t.tool_open != 1 || t.tool_close != 1) return false;
      const std::size_t c = tool_part(s, t);
      return c != npos && ends_at(s, c + 12);
    }
    case FormatPattern::Response: {
      if (t.resp_open != 1 || t.resp_close != 1) return false;
      const std::size_t q = t.first_resp_open, c = t.first_resp_close;
      return think_then(s, q) && c >= q + 10 && ends_at(s, c + 11);
    }
    case FormatPattern::Both: {
      if (t.tool_open != 1 || t.tool_close != 1 || t.resp_open != 1 || t.resp_close != 1) return false;
      const std::size_t c1 = tool_part(s, t);
      if (c1 == npos || !at(s, c1 + 12, "\n") || t.first_resp_open != c1 + 13) return false;
      const std::size_t q2 = t.first_resp_open, c2 = t.first_resp_close;
      return c2 >= q2 + 10 && ends_at(s, c2 + 11);
    }
  }
  return false;
}

// Python's `tool["name"]` on a parsed line: only dicts with the key succeed.
const Value* subscript(const Value* v, std::string_view key) { return v->is_object() ? v->find(key) : nullptr; }

// Counter(list1) & Counter(list2) intersection size, with Python's key equality. False if unhashable.
template <class T, class Eq, class Hashable>
bool multiset_intersection(const std::vector<T>& a, const std::vector<T>& b, Eq eq, Hashable hashable,
                           std::size_t& out) {
  for (const auto& x : a)
    if (!hashable(x)) return false;
  for (const auto& x : b)
    if (!hashable(x)) return false;
  out = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = eq(a[j], a[i]);
    if (seen) continue;  // count each distinct key once
    std::size_t ca = 0, cb = 0;
    for (std::size_t j = i; j < a.size(); ++j) ca += eq(a[j], a[i]);
    for (const auto& y : b) cb += eq(y, a[i]);
    out += ca < cb ? ca : cb;
  }
  return true;
}

// match_score(list1, list2) of the reference. False where Python raises (unhashable elements).
template <class T, class Eq, class Hashable>
bool match_score(const std::vector<T>& a, const std::vector<T>& b, bool refined, Eq eq, Hashable hashable,
                 double& out) {
  bool equal = a.size() == b.size();
  for (std::size_t k = 0; equal && k < a.size(); ++k) equal = eq(a[k], b[k]);
  if (equal) {
    out = 1.0;
    return true;
  }
  if (refined || a.empty() || b.empty()) {
    out = 0.0;
    return true;
  }
  std::size_t inter = 0;
  if (!multiset_intersection(a, b, eq, hashable, inter)) return false;
  const std::size_t max_possible = a.size() + b.size() - inter;
  out = max_possible > 0 ? static_cast<double>(inter) / static_cast<double>(max_possible) : 0.0;
  return true;
}

bool value_ptr_eq(const Value* x, const Value* y) { return py_item_equal(*x, *y); }
bool value_ptr_hashable(const Value* x) { return py_hashable(*x); }
bool key_eq(std::string_view x, std::string_view y) { return x == y; }
bool key_hashable(std::string_view) { return true; }

void keys_of(const Value& obj, std::vector<std::string_view>& keys) {
  keys.clear();
  for (uint32_t k = 0; k < obj.size; ++k) keys.push_back(obj.u.members[k].key);
}

// compute_tool_call_reward of the reference. False where Python raises (the caller then gives `min`).
bool tool_call_reward(const Value* const* gt, std::size_t ng, const std::vector<const Value*>& pd,
                      const RewardConfig& cfg, RewardRange range, ScoreScratch& scratch, double& out) {
  bool exact = ng == pd.size();
  for (std::size_t k = 0; exact && k < ng; ++k) exact = py_item_equal(*gt[k], *pd[k]);
  if (exact) {
    out = range.max;
    return true;
  }
  if (cfg.coarse) {
    out = range.min;
    return true;
  }
  auto& gt_names = scratch.gt_names;
  auto& pd_names = scratch.pd_names;
  gt_names.clear();
  pd_names.clear();
  for (std::size_t k = 0; k < ng; ++k) {
    const Value* name = subscript(gt[k], "name");
    if (name == nullptr) return false;
    gt_names.push_back(name);
  }
  for (const Value* tool : pd) {
    const Value* name = subscript(tool, "name");
    if (name == nullptr) return false;
    pd_names.push_back(name);
  }
  double score = 0.0;
  if (!match_score(gt_names, pd_names, cfg.refined, value_ptr_eq, value_ptr_hashable, score)) return false;

  double local_max = 1.0;
  auto& used = scratch.used;
  used.assign(pd.size(), 0);
  for (std::size_t g = 0; g < ng; ++g) {
    const Value* gt_params = subscript(gt[g], "parameters");
    if (gt_params == nullptr) return false;
    if (cfg.intermediate) {
      local_max += 1.0;
    } else {
      std::size_t len = 0;
      if (!py_len_of(*gt_params, len)) return false;
      local_max += 1.0 + static_cast<double>(len);
    }
    double best_score = 0.0;
    std::size_t best = npos;
    for (std::size_t i = 0; i < pd.size(); ++i) {
      if (used[i] || !py_equal(*pd_names[i], *gt_names[g])) continue;
      if (cfg.intermediate) {
        if (py_equal(*gt[g], *pd[i])) {
          best = i;
          best_score = 1.0;
          break;
        }
        continue;
      }
      const Value* pd_params = subscript(pd[i], "parameters");
      if (pd_params == nullptr || !gt_params->is_object() || !pd_params->is_object()) return false;
      double param_score = 0.0;
      keys_of(*gt_params, scratch.gt_keys);
      keys_of(*pd_params, scratch.pd_keys);
      match_score(scratch.gt_keys, scratch.pd_keys, cfg.refined, key_eq, key_hashable, param_score);
      double correct = 0.0;
      for (uint32_t k = 0; k < gt_params->size; ++k) {
        const Member& m = gt_params->u.members[k];
        const Value* v = pd_params->find(m.key);
        if (v != nullptr && py_equal(*v, m.value)) correct += 1.0;
      }
      const double total = param_score + correct;
      if (total > best_score) {
        best_score = total;
        best = i;
      }
    }
    if (best != npos) {
      used[best] = 1;
      score += best_score;
    }
  }
  out = (range.max - range.min) * score / local_max + range.min;
  return true;
}

// Splits a stripped block on "\n" and parses each line; false on the first line json.loads would reject.
bool parse_lines(std::string_view block, JsonParser& parser, Arena& arena, std::vector<const Value*>& out,
                 JsonError* err = nullptr, std::size_t* bad_line = nullptr) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = block.find('\n', start);
    const std::string_view line = block.substr(start, nl == npos ? npos : nl - start);
    const Value* v = parser.parse(line, arena, err);
    if (v == nullptr) {
      if (bad_line) *bad_line = out.size();
      return false;
    }
    out.push_back(v);
    if (nl == npos) return true;
    start = nl + 1;
  }
}

double correctness_from_scan(std::string_view s, const TagScan& t, const GroundTruth& gt, const RewardConfig& cfg,
                             int64_t step, ScoreScratch& scratch) {
  if (!gt.has_tool_call()) return 0.0;
  const RewardRange range = correctness_range(cfg, step);
  if (t.first_tool_open == npos || t.first_tool_close == npos) return range.min;
  std::string_view block;
  tool_block(s, t, block);
  scratch.arena.reset();
  // Parse each line; a line byte-identical to the ground truth's line at the same index reuses its parsed
  // value (two parses of the same text are always equal under Python's container comparison).
  const std::string_view stripped = py_strip(block);
  if (stripped == gt.call_block()) return range.max;  // identical text parses to equal calls
  auto& pd = scratch.pd_tools;
  pd.clear();
  for (std::size_t start = 0;;) {
    const std::size_t nl = stripped.find('\n', start);
    const std::string_view line = stripped.substr(start, nl == npos ? npos : nl - start);
    const std::size_t k = pd.size();
    if (k < gt.tool_count() && line == gt.tool_line(k)) {
      pd.push_back(gt.tools()[k]);
    } else {
      const Value* v = scratch.parser.parse_borrowed(line, scratch.arena);
      if (v == nullptr) return range.min;
      pd.push_back(v);
    }
    if (nl == npos) break;
    start = nl + 1;
  }
  double out = 0.0;
  if (!tool_call_reward(gt.tools(), gt.tool_count(), scratch.pd_tools, cfg, range, scratch, out))
    return range.min;
  return out;
}

double length_from_scan(std::string_view s, const TagScan& t, const RewardConfig& cfg, int64_t step) {
  if (!cfg.with_length) return 0.0;
  if (t.last_think_open == npos || !t.has_think_close) return 0.0;
  const std::size_t begin = t.last_think_open + 7;
  const std::size_t end = t.think_close_after == npos ? s.size() : t.think_close_after;
  const double words = static_cast<double>(py_split_count(s.substr(begin, end - begin)));
  const double target =
      cfg.schedule_length ? static_cast<double>(step) * (640 - 384) / 105.0 + 384.0 : 512.0;
  double r = py_round2(words / target);
  if (r > 1.0) r = 1.0;
  return r * (1.0 - 0.0) + 0.0;
}

}  // namespace

GroundTruth::GroundTruth(std::string text) : text_(std::move(text)) {
  const std::string_view s = text_;
  const bool has_resp = s.find("<response>") != npos;
  has_tool_call_ = s.find("<tool_call>") != npos;
  pattern_ = has_tool_call_ ? (has_resp ? FormatPattern::Both : FormatPattern::ToolCall)
                            : (has_resp ? FormatPattern::Response : FormatPattern::ThinkOnly);
  if (!has_tool_call_) return;
  const TagScan t = tag_scan(s);
  std::string_view block;
  tool_block(s, t, block);
  JsonParser parser;
  std::vector<const Value*> tools;
  JsonError err;
  std::size_t bad = 0;
  if (!parse_lines(py_strip(block), parser, arena_, tools, &err, &bad)) {
    error_ = "ground truth tool-call line " + std::to_string(bad + 1) + " is not JSON (" + err.message +
             " at byte " + std::to_string(err.offset) +
             "); the reference reward raises on it. A \"<tool_call>\" mentioned before the real block (e.g. in "
             "the think text) causes this.";
    return;
  }
  const std::string_view stripped = py_strip(block);
  block_span_ = {static_cast<std::size_t>(stripped.data() - text_.data()), stripped.size()};
  for (std::size_t start = 0;;) {
    const std::size_t nl = stripped.find('\n', start);
    const std::size_t len = (nl == npos ? stripped.size() : nl) - start;
    line_spans_.emplace_back(static_cast<std::size_t>(stripped.data() - text_.data()) + start, len);
    if (nl == npos) break;
    start = nl + 1;
  }
  tools_ = arena_.allocate_array<const Value*>(tools.size());
  for (std::size_t k = 0; k < tools.size(); ++k) tools_[k] = tools[k];
  tool_count_ = tools.size();
}

RewardRange format_range(const RewardConfig& cfg, int64_t step) {
  double max = 1.0, min = 0.0;
  const double st = static_cast<double>(step);
  if (cfg.max1_step30_max3 && step >= 30) {
    max = max / 2;
    min = min / 2;
  }
  if (cfg.schedule_reward) {
    max = 2 - (2 - max) * st / 150;
    min = -2 + (2 + min) * st / 150;
    if (max < 1.0) max = 1.0;
    if (min > -1.0) min = -1.0;
  }
  return {max, min};
}

RewardRange correctness_range(const RewardConfig& cfg, int64_t step) {
  double max = cfg.correct_max1 ? 1.0 : 3.0;
  double min = cfg.correct_max1 ? -1.0 : -3.0;
  const double st = static_cast<double>(step);
  if (cfg.max1_step30_max3 && step < 30) {
    max = max / 3;
    min = min / 3;
  }
  if (cfg.schedule_reward) {
    max = (max - 2) * st / 150 + 2;
    min = (min + 2) * st / 150 - 2;
    if (max > 3.0) max = 3.0;
    if (min < -3.0) min = -3.0;
  }
  return {max, min};
}

double format_reward(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg, int64_t step) {
  const RewardRange r = format_range(cfg, step);
  return format_ok(output, tag_scan(output), gt.pattern()) ? r.max : r.min;
}

double correctness_reward(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg, int64_t step,
                          ScoreScratch& scratch) {
  return correctness_from_scan(output, tag_scan(output), gt, cfg, step, scratch);
}

double length_reward(std::string_view output, const RewardConfig& cfg, int64_t step) {
  return length_from_scan(output, tag_scan(output), cfg, step);
}

RewardScores score_output(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg, int64_t step,
                          ScoreScratch& scratch) {
  RewardScores r;
  if (!gt.error().empty()) {
    r.ok = false;
    return r;
  }
  const TagScan t = tag_scan(output);
  const RewardRange fr = format_range(cfg, step);
  r.format = format_ok(output, t, gt.pattern()) ? fr.max : fr.min;
  r.correctness = correctness_from_scan(output, t, gt, cfg, step, scratch);
  r.length = length_from_scan(output, t, cfg, step);
  r.total = r.format + r.correctness + r.length;
  return r;
}

RewardScores score_output(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg,
                          int64_t step) {
  ScoreScratch scratch;
  return score_output(output, gt, cfg, step, scratch);
}

}  // namespace toolgrpo::reward
