// The names of the metrics a run writes (metrics.jsonl/csv: a row per step; eval.jsonl/csv: a row per
// evaluation), declared once: the trainers and the run driver write them, progress lines and `toolgrpo
// report` read them. A distribution is written as four columns, NAME_mean, NAME_std, NAME_min and NAME_max
// (stat_name).
#pragma once

#include <string>

namespace toolgrpo::app::metric_names {

// Every row.
inline constexpr const char* kStep = "step";

// GRPO step rows: distributions over the step's samples.
inline constexpr const char* kRewardTotal = "reward_total";
inline constexpr const char* kRewardFormat = "reward_format";
inline constexpr const char* kRewardCorrectness = "reward_correctness";
inline constexpr const char* kRewardLength = "reward_length";
inline constexpr const char* kResponseLength = "response_length";
// GRPO step rows: single values.
inline constexpr const char* kZeroStdGroupFraction = "zero_std_group_fraction";
inline constexpr const char* kTruncatedFraction = "truncated_fraction";
inline constexpr const char* kGroupsGenerated = "groups_generated";
inline constexpr const char* kGroupsTrained = "groups_trained";
inline constexpr const char* kKl = "kl";
inline constexpr const char* kEntropy = "entropy";
inline constexpr const char* kClipFraction = "clip_fraction";
inline constexpr const char* kApproxKl = "approx_kl";
inline constexpr const char* kPgLoss = "pg_loss";
// |sampler log-prob - trainer's recomputed old log-prob| over the trained response tokens: mean and max.
inline constexpr const char* kLogprobGapMean = "logprob_gap_mean";
inline constexpr const char* kLogprobGapMax = "logprob_gap_max";
inline constexpr const char* kSecondsGenerate = "seconds_generate";
inline constexpr const char* kSecondsScore = "seconds_score";
inline constexpr const char* kSecondsTrain = "seconds_train";
inline constexpr const char* kSecondsSync = "seconds_sync";

// SFT step rows.
inline constexpr const char* kLoss = "loss";
inline constexpr const char* kAnswerTokens = "answer_tokens";

// Step rows of both.
inline constexpr const char* kGradNorm = "grad_norm";
inline constexpr const char* kLr = "lr";
inline constexpr const char* kTokensPerS = "tokens_per_s";
inline constexpr const char* kSecondsStep = "seconds_step";
// Added by the run driver.
inline constexpr const char* kSecondsCheckpoint = "seconds_checkpoint";
inline constexpr const char* kEtaSeconds = "eta_seconds";

// Evaluation rows: GRPO's greedy rollouts (distributions of the reward parts and lengths, over `prompts`) ...
inline constexpr const char* kPrompts = "prompts";
inline constexpr const char* kEvalRewardTotal = "eval_reward_total";
inline constexpr const char* kEvalRewardFormat = "eval_reward_format";
inline constexpr const char* kEvalRewardCorrectness = "eval_reward_correctness";
inline constexpr const char* kEvalResponseLength = "eval_response_length";
// ... their tool calls checked as `toolgrpo eval` checks them (shares of the prompts whose ground truth is usable) ...
inline constexpr const char* kEvalExactCallAccuracy = "eval_exact_call_accuracy";
inline constexpr const char* kEvalNameAccuracy = "eval_name_accuracy";
inline constexpr const char* kEvalFormatAccuracy = "eval_format_accuracy";
// ... and SFT's loss on the answers of `examples`.
inline constexpr const char* kExamples = "examples";
inline constexpr const char* kEvalLoss = "eval_loss";
inline constexpr const char* kEvalAnswerTokens = "eval_answer_tokens";

// `toolgrpo eval --run RUN_DIR` appends its summary (the --summary object, with a label and kStep added) to this
// file of the run directory; `toolgrpo report` plots these of its keys.
inline constexpr const char* kEvalSummariesFile = "eval_summaries.jsonl";
inline constexpr const char* kSummaryLabel = "label";
inline constexpr const char* kSummaryExactCallAccuracy = "exact_call_accuracy";
inline constexpr const char* kSummaryFormatAccuracy = "format_accuracy";

// GRPO step metrics that a run computes only when its configuration asks for them: kl with a reference model
// (grpo.kl_coef > 0), entropy with an entropy term in the loss (grpo.entropy_coef != 0). A run without them
// writes null in metrics.jsonl (NaN in memory, "nan" in metrics.csv), and progress lines and reports print
// kNotComputed ("-") instead of a number: 0.000 would read as a measured value.
inline bool grpo_metric_computed(const std::string& name, double kl_coef, double entropy_coef) {
  if (name == kKl) return kl_coef > 0;
  if (name == kEntropy) return entropy_coef != 0;
  return true;
}
inline constexpr const char* kNotComputed = "-";

// The columns of a distribution.
enum class Stat { Mean, Std, Min, Max };
inline std::string stat_name(const std::string& base, Stat s) {
  static const char* const suffix[] = {"_mean", "_std", "_min", "_max"};
  return base + suffix[static_cast<int>(s)];
}
inline std::string mean_of(const std::string& base) {
  return stat_name(base, Stat::Mean);
}

}  // namespace toolgrpo::app::metric_names
