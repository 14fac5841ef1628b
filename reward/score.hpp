// The ToolRL reward of one output against one ground truth, exactly as the reference compute_score: format,
// correctness and (optionally) length, total = format + correctness + length. Ground truths are prepared once
// (pattern choice, parsed calls) and shared by every sample of their group.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reward/arena.hpp"
#include "reward/config.hpp"
#include "reward/json.hpp"

namespace toolgrpo::reward {

// Which format pattern applies; chosen by substring tests on the ground truth, not the output.
enum class FormatPattern : uint8_t { ToolCall, Response, Both, ThinkOnly };

class GroundTruth {
 public:
  explicit GroundTruth(std::string text);
  GroundTruth(GroundTruth&&) = default;
  GroundTruth& operator=(GroundTruth&&) = default;

  const std::string& text() const { return text_; }
  FormatPattern pattern() const { return pattern_; }
  bool has_tool_call() const { return has_tool_call_; }
  // Non-empty when the reference would raise on this ground truth (its tool-call lines are parsed outside the
  // reference's try block), e.g. a "<tool_call>" mentioned inside the think text.
  const std::string& error() const { return error_; }
  // The parsed tool-call lines (valid when has_tool_call() and error() is empty).
  const Value* const* tools() const { return tools_; }
  std::size_t tool_count() const { return tool_count_; }
  // The stripped text of the first tool-call block.
  std::string_view call_block() const {
    return std::string_view(text_).substr(block_span_.first, block_span_.second);
  }
  // The source text of tool-call line k (a byte-identical output line reuses the parsed value).
  std::string_view tool_line(std::size_t k) const {
    return std::string_view(text_).substr(line_spans_[k].first, line_spans_[k].second);
  }

 private:
  std::string text_;
  FormatPattern pattern_ = FormatPattern::ThinkOnly;
  bool has_tool_call_ = false;
  std::string error_;
  Arena arena_{4096};
  const Value** tools_ = nullptr;
  std::size_t tool_count_ = 0;
  std::pair<std::size_t, std::size_t> block_span_{0, 0};          // (offset, length) in text_
  std::vector<std::pair<std::size_t, std::size_t>> line_spans_;  // (offset, length) in text_
};

struct RewardScores {
  double format = 0.0;
  double correctness = 0.0;
  double length = 0.0;  // 0 unless RewardConfig::with_length
  double total = 0.0;
  bool ok = true;  // false when the ground truth is unusable (see GroundTruth::error)
};

// Reusable per-thread working memory for scoring (parse arena and stacks).
struct ScoreScratch {
  Arena arena{16 * 1024};
  JsonParser parser;
  std::vector<const Value*> pd_tools, gt_names, pd_names;
  std::vector<std::string_view> gt_keys, pd_keys;
  std::vector<unsigned char> used;
};

// Score ranges of each component at a step (exposed for tests and docs).
struct RewardRange {
  double max;
  double min;
};
RewardRange format_range(const RewardConfig& cfg, int64_t step);
RewardRange correctness_range(const RewardConfig& cfg, int64_t step);

// The three components on an already extracted output (the text the reference passes to its reward functions).
double format_reward(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg, int64_t step);
double correctness_reward(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg,
                          int64_t step, ScoreScratch& scratch);
double length_reward(std::string_view output, const RewardConfig& cfg, int64_t step);

// All components of an extracted output. Never throws on any output bytes.
RewardScores score_output(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg,
                          int64_t step, ScoreScratch& scratch);
RewardScores score_output(std::string_view output, const GroundTruth& gt, const RewardConfig& cfg,
                          int64_t step);

}  // namespace toolgrpo::reward
