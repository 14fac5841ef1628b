// The name tables of the model library's choices (model/choices.hpp) whose users need libtorch (the presets'
// shapes for init.cpp, the schedules for optimizer.cpp, the loss aggregations and KL estimators for
// grpo_loss.cpp): here, in standard C++, so that code reading the run configuration without libtorch (the
// YAML configuration's fuzzer) links the same tables. The chat formats' table stays in chat_template.cpp.
#include "model/choices.hpp"

#include <stdexcept>

#include "common/name_table.hpp"

namespace toolgrpo::model {

namespace {

// qwen2.5-0.5b and qwen2.5-1.5b: the layer shapes of Qwen2.5-0.5B and -1.5B (with --arch qwen2 and vocabulary
// 151936 the whole model).
const PresetShape kShapes[] = {{Preset::Tiny, "tiny", 64, 128, 2, 4, 2},
                               {Preset::Demo, "demo", 128, 384, 3, 4, 2},
                               {Preset::Small, "small", 256, 704, 4, 4, 2},
                               {Preset::Bench, "bench", 512, 1408, 8, 8, 2},
                               {Preset::Qwen25_05B, "qwen2.5-0.5b", 896, 4864, 24, 14, 2},
                               {Preset::Qwen25_15B, "qwen2.5-1.5b", 1536, 8960, 28, 12, 2}};

const common::EnumName<LrSchedule> kLrSchedules[] = {
    {LrSchedule::Constant, "constant"}, {LrSchedule::Warmup, "warmup"}, {LrSchedule::Cosine, "cosine"}};

const common::EnumName<LossAgg> kLossAggs[] = {{LossAgg::TokenMean, "token-mean"},
                                               {LossAgg::SeqMeanTokenMean, "seq-mean-token-mean"},
                                               {LossAgg::SeqMeanTokenSumNorm, "seq-mean-token-sum-norm"}};
const common::EnumName<KlEstimator> kKlEstimators[] = {
    {KlEstimator::K1, "k1"}, {KlEstimator::K2, "k2"}, {KlEstimator::K3, "k3"}};

}  // namespace

const PresetShape& preset_shape(Preset p) {
  for (const auto& x : kShapes)
    if (x.value == p) return x;
  throw std::invalid_argument("not a preset");
}
Preset preset_from_name(const std::string& name) { return common::enum_from_name(kShapes, name, "preset"); }
const char* preset_name(Preset p) { return common::enum_name(kShapes, p); }
std::vector<std::string> preset_names() { return common::enum_names(kShapes); }

LrSchedule lr_schedule_from_name(const std::string& name) {
  return common::enum_from_name(kLrSchedules, name, "learning-rate schedule");
}
const char* lr_schedule_name(LrSchedule s) { return common::enum_name(kLrSchedules, s); }
std::vector<std::string> lr_schedule_names() { return common::enum_names(kLrSchedules); }

LossAgg loss_agg_from_name(const std::string& n) { return common::enum_from_name(kLossAggs, n, "loss aggregation"); }
const char* loss_agg_name(LossAgg agg) { return common::enum_name(kLossAggs, agg); }
std::vector<std::string> loss_agg_names() { return common::enum_names(kLossAggs); }
KlEstimator kl_estimator_from_name(const std::string& n) {
  return common::enum_from_name(kKlEstimators, n, "KL estimator");
}
const char* kl_estimator_name(KlEstimator kind) { return common::enum_name(kKlEstimators, kind); }
std::vector<std::string> kl_estimator_names() { return common::enum_names(kKlEstimators); }

}  // namespace toolgrpo::model
