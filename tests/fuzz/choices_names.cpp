// The name tables of the model library's choices whose own tables sit in files that need libtorch (init.cpp,
// optimizer.cpp, grpo_loss.cpp), for fuzz_yaml_config, which reads the run configuration without libtorch.
// Same names and messages; only the YAML handling is under test, a name missing here would only make a seed
// invalid.
#include "common/name_table.hpp"
#include "model/choices.hpp"

namespace toolgrpo::model {
namespace {

const common::EnumName<Preset> kPresets[] = {{Preset::Tiny, "tiny"},
                                             {Preset::Demo, "demo"},
                                             {Preset::Small, "small"},
                                             {Preset::Bench, "bench"},
                                             {Preset::Qwen25_05B, "qwen2.5-0.5b"},
                                             {Preset::Qwen25_15B, "qwen2.5-1.5b"}};
const common::EnumName<LrSchedule> kSchedules[] = {
    {LrSchedule::Constant, "constant"}, {LrSchedule::Warmup, "warmup"}, {LrSchedule::Cosine, "cosine"}};
const common::EnumName<LossAgg> kLossAggs[] = {{LossAgg::TokenMean, "token-mean"},
                                               {LossAgg::SeqMeanTokenMean, "seq-mean-token-mean"},
                                               {LossAgg::SeqMeanTokenSumNorm, "seq-mean-token-sum-norm"}};
const common::EnumName<KlEstimator> kKl[] = {
    {KlEstimator::K1, "k1"}, {KlEstimator::K2, "k2"}, {KlEstimator::K3, "k3"}};

}  // namespace

Preset preset_from_name(const std::string& n) {
  return common::enum_from_name(kPresets, n, "preset");
}
const char* preset_name(Preset p) {
  return common::enum_name(kPresets, p);
}
std::vector<std::string> preset_names() {
  return common::enum_names(kPresets);
}
LrSchedule lr_schedule_from_name(const std::string& n) {
  return common::enum_from_name(kSchedules, n, "learning-rate schedule");
}
const char* lr_schedule_name(LrSchedule s) {
  return common::enum_name(kSchedules, s);
}
std::vector<std::string> lr_schedule_names() {
  return common::enum_names(kSchedules);
}
LossAgg loss_agg_from_name(const std::string& n) {
  return common::enum_from_name(kLossAggs, n, "loss aggregation");
}
const char* loss_agg_name(LossAgg a) {
  return common::enum_name(kLossAggs, a);
}
std::vector<std::string> loss_agg_names() {
  return common::enum_names(kLossAggs);
}
KlEstimator kl_estimator_from_name(const std::string& n) {
  return common::enum_from_name(kKl, n, "KL estimator");
}
const char* kl_estimator_name(KlEstimator k) {
  return common::enum_name(kKl, k);
}
std::vector<std::string> kl_estimator_names() {
  return common::enum_names(kKl);
}

}  // namespace toolgrpo::model
