// The model library's configuration choices as enums, with the declarations of their name tables (the tables
// themselves sit in choices.cpp, and chat_template.cpp for the chat formats). Standard C++ only, so app/config/config.hpp can
// hold these enums without pulling in libtorch's or the decoder's headers.
#pragma once

#include <string>
#include <vector>

namespace toolgrpo::model {

// Built-in model sizes (model.preset, init-model --preset): tiny (hidden 64, 2 layers) | demo (128, 3) |
// small (256, 4) | bench (512, 8) | qwen2.5-0.5b (896, 24: the layer shapes of Qwen2.5-0.5B) | qwen2.5-1.5b
// (1536, 28: Qwen2.5-1.5B's). Table: choices.cpp.
enum class Preset { Tiny, Demo, Small, Bench, Qwen25_05B, Qwen25_15B };
struct PresetShape {
  Preset value;  // (value, name): a row of a name table (common/name_table.hpp)
  const char* name;
  long long hidden, inter, layers, heads, kv;
};
const PresetShape& preset_shape(Preset p);
Preset preset_from_name(const std::string& name);
const char* preset_name(Preset p);
std::vector<std::string> preset_names();

// Chat templates (model.chat_template, checkpoint metadata): qwen2.5 | qwen3 | llama3. Table: chat_template.cpp.
// chat_format_from_name also takes "qwen2" for qwen2.5.
enum class ChatFormat { Qwen25, Qwen3, Llama3 };
ChatFormat chat_format_from_name(const std::string& name);
const char* chat_format_name(ChatFormat f);
std::vector<std::string> chat_format_names();

// Learning-rate schedules (grpo.schedule, sft.schedule): constant; warmup (linear from 0 over warmup_steps,
// then constant); cosine (linear warm-up, then cosine decay to 0 at the run's total). Table: choices.cpp.
enum class LrSchedule { Constant, Warmup, Cosine };
LrSchedule lr_schedule_from_name(const std::string& name);
const char* lr_schedule_name(LrSchedule s);
std::vector<std::string> lr_schedule_names();

// GRPO loss aggregation (grpo.loss_agg) and KL estimator (grpo.kl_type). Tables: choices.cpp.
enum class LossAgg {
  TokenMean,           // token-mean: sum over all response tokens / number of tokens
  SeqMeanTokenMean,    // seq-mean-token-mean: mean over sequences of each sequence's token mean
  SeqMeanTokenSumNorm  // seq-mean-token-sum-norm: sum / (sequences * max response length), "Dr. GRPO"
};
enum class KlEstimator { K1, K2, K3 };  // logp - ref;  (logp - ref)^2 / 2;  e^(ref-logp) - (ref-logp) - 1
LossAgg loss_agg_from_name(const std::string& name);
const char* loss_agg_name(LossAgg agg);
std::vector<std::string> loss_agg_names();
KlEstimator kl_estimator_from_name(const std::string& name);
const char* kl_estimator_name(KlEstimator kind);
std::vector<std::string> kl_estimator_names();

// Every from_name above throws std::invalid_argument "unknown WHAT 'x'; expected one of: a b c".

}  // namespace toolgrpo::model
