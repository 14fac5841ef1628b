// YAML run configuration: one table of fields drives parsing, validation and the resolved dump.
#include "app/config/config.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "app/cli/commands.hpp"
#include "common/name_table.hpp"
#include "reward/config.hpp"

namespace toolgrpo::app {
namespace {

// The one table of names of each of the configuration's own enums (config.hpp).
template <class E>
struct Choices;
template <>
struct Choices<ModelDtype> {
  static constexpr common::EnumName<ModelDtype> table[] = {{ModelDtype::Fp32, "fp32"}, {ModelDtype::Bf16, "bf16"}};
};
template <>
struct Choices<ModelDevice> {
  static constexpr common::EnumName<ModelDevice> table[] = {{ModelDevice::Cpu, "cpu"}, {ModelDevice::Cuda, "cuda"}};
};
template <>
struct Choices<AdvantageMode> {
  static constexpr common::EnumName<AdvantageMode> table[] = {{AdvantageMode::Grpo, "grpo"},
                                                             {AdvantageMode::Gdpo, "gdpo"}};
};
template <>
struct Choices<KlWhere> {
  static constexpr common::EnumName<KlWhere> table[] = {{KlWhere::Loss, "loss"}, {KlWhere::Reward, "reward"}};
};
template <>
struct Choices<Overlong> {
  static constexpr common::EnumName<Overlong> table[] = {
      {Overlong::None, "none"}, {Overlong::Filter, "filter"}, {Overlong::Penalty, "penalty"}};
};
template <>
struct Choices<ParallelMode> {
  static constexpr common::EnumName<ParallelMode> table[] = {{ParallelMode::Colocated, "colocated"},
                                                            {ParallelMode::Split, "split"}};
};
template <>
struct Choices<ResumeMode> {  // ResumeMode::Path has no name: any other text is a path
  static constexpr common::EnumName<ResumeMode> table[] = {{ResumeMode::Auto, "auto"}, {ResumeMode::Never, "never"}};
};

}  // namespace

namespace {
// The error of a choice's unknown name: "'x' is not one of: a b c" (the YAML path and line are added by the caller).
[[noreturn]] void not_one_of(const std::string& name, const std::vector<std::string>& names) {
  std::string msg = "'" + name + "' is not one of:";
  for (const auto& n : names) msg += " " + n;
  throw std::invalid_argument(msg);
}
}  // namespace

template <class E>
E choice_from_name(const std::string& name) {
  if (const auto* e = common::enum_find(Choices<E>::table, name)) return e->value;
  not_one_of(name, common::enum_names(Choices<E>::table));
}
template <class E>
std::vector<std::string> choice_names() {
  return common::enum_names(Choices<E>::table);
}
#define TOOLGRPO_CHOICE(E)                                                                  \
  template E choice_from_name<E>(const std::string&);                                       \
  template std::vector<std::string> choice_names<E>();                                      \
  const char* choice_name(E v) { return common::enum_name(Choices<E>::table, v); }
TOOLGRPO_CHOICE(ModelDtype)
TOOLGRPO_CHOICE(ModelDevice)
TOOLGRPO_CHOICE(AdvantageMode)
TOOLGRPO_CHOICE(KlWhere)
TOOLGRPO_CHOICE(Overlong)
TOOLGRPO_CHOICE(ParallelMode)
TOOLGRPO_CHOICE(ResumeMode)
#undef TOOLGRPO_CHOICE

ResumeFrom ResumeFrom::parse(const std::string& text) {
  if (const auto* e = common::enum_find(Choices<ResumeMode>::table, text)) return {e->value, ""};
  return {ResumeMode::Path, text};
}

std::string ResumeFrom::text() const { return mode == ResumeMode::Path ? path : choice_name(mode); }

namespace {

// One configurable field: its YAML path and how to read, check and print it.
struct Field {
  std::string path;  // "section.key"
  std::function<void(Config&, const YAML::Node&)> read;  // throws std::invalid_argument on a wrong type/value
  std::function<void(const Config&, YAML::Emitter&)> emit;
};

template <class T>
T scalar_as(const YAML::Node& n);
template <>
std::string scalar_as<std::string>(const YAML::Node& n) {
  if (!n.IsScalar()) throw std::invalid_argument("expected a string");
  return n.Scalar();
}
template <>
int64_t scalar_as<int64_t>(const YAML::Node& n) {
  if (!n.IsScalar()) throw std::invalid_argument("expected an integer");
  std::size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(n.Scalar(), &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != n.Scalar().size()) throw std::invalid_argument("expected an integer, got '" + n.Scalar() + "'");
  return v;
}
template <>
double scalar_as<double>(const YAML::Node& n) {
  if (!n.IsScalar()) throw std::invalid_argument("expected a number");
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(n.Scalar(), &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != n.Scalar().size()) throw std::invalid_argument("expected a number, got '" + n.Scalar() + "'");
  return v;
}
template <>
bool scalar_as<bool>(const YAML::Node& n) {
  if (!n.IsScalar()) throw std::invalid_argument("expected true or false");
  const std::string s = n.Scalar();
  if (s == "true" || s == "True" || s == "yes") return true;
  if (s == "false" || s == "False" || s == "no") return false;
  throw std::invalid_argument("expected true or false, got '" + s + "'");
}

// run.time_limit: seconds ("3600", "5400.5") or HH:MM:SS / MM:SS as Slurm and PBS write wall times.
double time_limit_seconds(const YAML::Node& n) {
  const std::string s = scalar_as<std::string>(n);
  double total = 0;
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = s.find(':', start);
    const std::string part = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::size_t used = 0;
    double v = -1;
    try {
      v = std::stod(part, &used);
    } catch (...) {
      used = 0;
    }
    if (part.empty() || used != part.size() || !(v >= 0) || (colon != std::string::npos && part.find('.') != std::string::npos))
      throw std::invalid_argument("expected seconds or HH:MM:SS, got '" + s + "'");
    total = total * 60 + v;
    ++parts;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts > 3) throw std::invalid_argument("expected seconds or HH:MM:SS, got '" + s + "'");
  return total;
}

template <class S, class T>
Field field(const std::string& path, S Config::*section, T S::*member) {
  return Field{path, [=](Config& c, const YAML::Node& n) { (c.*section).*member = scalar_as<T>(n); },
               [=](const Config& c, YAML::Emitter& e) { e << YAML::Key << path.substr(path.find('.') + 1)
                                                           << YAML::Value << (c.*section).*member; }};
}

reward::AdvantageStd adv_std_from_name(const std::string& name) { return reward::advantage_std_from_name(name); }

// A choice: read with `from` (std::invalid_argument listing the names), printed with `name`; both from the
// enum's one table.
template <class S, class E>
Field choice(const std::string& path, S Config::*section, E S::*member, E (*from)(const std::string&),
             const char* (*name)(E)) {
  return Field{path, [=](Config& c, const YAML::Node& n) { (c.*section).*member = from(scalar_as<std::string>(n)); },
               [=](const Config& c, YAML::Emitter& e) { e << YAML::Key << path.substr(path.find('.') + 1)
                                                           << YAML::Value << std::string(name((c.*section).*member)); }};
}
template <class S, class E>
Field choice(const std::string& path, S Config::*section, E S::*member) {
  return choice<S, E>(path, section, member, &choice_from_name<E>, static_cast<const char* (*)(E)>(&choice_name));
}

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      field("run.name", &Config::run, &RunSection::name),
      field("run.out_dir", &Config::run, &RunSection::out_dir),
      field("run.seed", &Config::run, &RunSection::seed),
      field("run.memory_check", &Config::run, &RunSection::memory_check),
      field("run.memory_limit_gb", &Config::run, &RunSection::memory_limit_gb),
      Field{"run.time_limit",
            [](Config& c, const YAML::Node& n) { c.run.time_limit = time_limit_seconds(n); },
            [](const Config& c, YAML::Emitter& e) {
              e << YAML::Key << "time_limit" << YAML::Value << c.run.time_limit;
            }},
      field("model.path", &Config::model, &ModelSection::path),
      choice("model.arch", &Config::model, &ModelSection::arch, &model::arch_from_name, &model::arch_name),
      choice("model.preset", &Config::model, &ModelSection::preset, &model::preset_from_name, &model::preset_name),
      choice("model.dtype", &Config::model, &ModelSection::dtype),
      choice("model.device", &Config::model, &ModelSection::device),
      Field{"model.chat_template",
            [](Config& c, const YAML::Node& n) {
              const std::string s = scalar_as<std::string>(n);
              if (s.empty()) {
                c.model.chat_template.reset();
                return;
              }
              const std::vector<std::string> names = model::chat_format_names();  // not the alias "qwen2"
              if (std::find(names.begin(), names.end(), s) == names.end()) not_one_of(s, names);
              c.model.chat_template = model::chat_format_from_name(s);
            },
            [](const Config& c, YAML::Emitter& e) {
              e << YAML::Key << "chat_template" << YAML::Value
                << std::string(c.model.chat_template ? model::chat_format_name(*c.model.chat_template) : "");
            }},
      field("data.train", &Config::data, &DataSection::train),
      field("data.eval", &Config::data, &DataSection::eval),
      choice("data.format", &Config::data, &DataSection::format, &io::dataset_format_from_name, &io::dataset_format_name),
      field("data.skip_bad_rows", &Config::data, &DataSection::skip_bad_rows),
      field("data.eval_prompts", &Config::data, &DataSection::eval_prompts),
      field("rollout.prompts_per_step", &Config::rollout, &RolloutSection::prompts_per_step),
      field("rollout.group_size", &Config::rollout, &RolloutSection::group_size),
      field("rollout.max_prompt_tokens", &Config::rollout, &RolloutSection::max_prompt_tokens),
      field("rollout.max_new_tokens", &Config::rollout, &RolloutSection::max_new_tokens),
      field("rollout.temperature", &Config::rollout, &RolloutSection::temperature),
      field("rollout.top_p", &Config::rollout, &RolloutSection::top_p),
      field("rollout.top_k", &Config::rollout, &RolloutSection::top_k),
      field("reward.variant", &Config::reward, &RewardSection::variant),
      field("grpo.lr", &Config::grpo, &GrpoSection::lr),
      choice("grpo.schedule", &Config::grpo, &GrpoSection::schedule, &model::lr_schedule_from_name, &model::lr_schedule_name),
      field("grpo.warmup_steps", &Config::grpo, &GrpoSection::warmup_steps),
      field("grpo.mini_batches", &Config::grpo, &GrpoSection::mini_batches),
      field("grpo.micro_batch_tokens", &Config::grpo, &GrpoSection::micro_batch_tokens),
      field("grpo.activation_checkpointing", &Config::grpo, &GrpoSection::activation_checkpointing),
      field("grpo.skip_zero_advantage", &Config::grpo, &GrpoSection::skip_zero_advantage),
      field("grpo.prefix_sharing", &Config::grpo, &GrpoSection::prefix_sharing),
      field("grpo.response_only_head", &Config::grpo, &GrpoSection::response_only_head),
      field("grpo.epochs", &Config::grpo, &GrpoSection::epochs),
      field("grpo.steps", &Config::grpo, &GrpoSection::steps),
      field("grpo.clip_low", &Config::grpo, &GrpoSection::clip_low),
      field("grpo.clip_high", &Config::grpo, &GrpoSection::clip_high),
      field("grpo.dual_clip_c", &Config::grpo, &GrpoSection::dual_clip_c),
      choice("grpo.adv_std", &Config::grpo, &GrpoSection::adv_std, &adv_std_from_name, &reward::advantage_std_name),
      choice("grpo.advantage", &Config::grpo, &GrpoSection::advantage),
      choice("grpo.loss_agg", &Config::grpo, &GrpoSection::loss_agg, &model::loss_agg_from_name, &model::loss_agg_name),
      choice("grpo.kl_type", &Config::grpo, &GrpoSection::kl_type, &model::kl_estimator_from_name, &model::kl_estimator_name),
      field("grpo.kl_coef", &Config::grpo, &GrpoSection::kl_coef),
      choice("grpo.kl_where", &Config::grpo, &GrpoSection::kl_where),
      field("grpo.entropy_coef", &Config::grpo, &GrpoSection::entropy_coef),
      field("grpo.max_grad_norm", &Config::grpo, &GrpoSection::max_grad_norm),
      field("grpo.weight_decay", &Config::grpo, &GrpoSection::weight_decay),
      field("grpo.dynamic_sampling", &Config::grpo, &GrpoSection::dynamic_sampling),
      field("grpo.dynamic_sampling_rounds", &Config::grpo, &GrpoSection::dynamic_sampling_rounds),
      choice("grpo.overlong", &Config::grpo, &GrpoSection::overlong),
      field("grpo.overlong_buffer", &Config::grpo, &GrpoSection::overlong_buffer),
      field("grpo.overlong_penalty", &Config::grpo, &GrpoSection::overlong_penalty),
      field("sft.lr", &Config::sft, &SftSection::lr),
      choice("sft.schedule", &Config::sft, &SftSection::schedule, &model::lr_schedule_from_name, &model::lr_schedule_name),
      field("sft.warmup_steps", &Config::sft, &SftSection::warmup_steps),
      field("sft.batch_size", &Config::sft, &SftSection::batch_size),
      field("sft.epochs", &Config::sft, &SftSection::epochs),
      field("sft.steps", &Config::sft, &SftSection::steps),
      field("sft.micro_batch_tokens", &Config::sft, &SftSection::micro_batch_tokens),
      field("sft.activation_checkpointing", &Config::sft, &SftSection::activation_checkpointing),
      field("sft.max_seq_tokens", &Config::sft, &SftSection::max_seq_tokens),
      field("sft.max_grad_norm", &Config::sft, &SftSection::max_grad_norm),
      field("sft.weight_decay", &Config::sft, &SftSection::weight_decay),
      choice("parallel.mode", &Config::parallel, &ParallelSection::mode),
      field("parallel.generation_ranks", &Config::parallel, &ParallelSection::generation_ranks),
      field("parallel.threads", &Config::parallel, &ParallelSection::threads),
      field("parallel.shard_optimizer", &Config::parallel, &ParallelSection::shard_optimizer),
      field("parallel.share_gpus", &Config::parallel, &ParallelSection::share_gpus),
      field("parallel.tf32", &Config::parallel, &ParallelSection::tf32),
      field("checkpoint.every", &Config::checkpoint, &CheckpointSection::every),
      field("checkpoint.keep", &Config::checkpoint, &CheckpointSection::keep),
      Field{"checkpoint.resume",
            [](Config& c, const YAML::Node& n) { c.checkpoint.resume = ResumeFrom::parse(scalar_as<std::string>(n)); },
            [](const Config& c, YAML::Emitter& e) {
              e << YAML::Key << "resume" << YAML::Value << c.checkpoint.resume.text();
            }},
      field("checkpoint.async", &Config::checkpoint, &CheckpointSection::async),
      field("checkpoint.collective", &Config::checkpoint, &CheckpointSection::collective),
      field("log.every", &Config::log, &LogSection::every),
      field("log.eval_every", &Config::log, &LogSection::eval_every),
  };
  return f;
}

// A yaml-cpp error as "ORIGIN: line L, column C: what (not valid YAML)", without yaml-cpp's own prefix.
std::string yaml_error(const std::string& origin, const YAML::Exception& e) {
  std::string what = dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr
                         ? "nested deeper than yaml-cpp reads (about 2000 levels)"
                         : e.msg;
  if (e.mark.is_null()) return origin + ": " + what + " (not valid YAML)";
  return origin + ": line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) + ": " +
         what + " (not valid YAML)";
}

std::string where(const std::string& origin, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? origin + ":" + std::to_string(m.line + 1) : origin;
}

void validate(const Config& c, int world, std::vector<std::string>& p) {
  const auto positive = [&](const char* path, int64_t v) {
    if (v <= 0) p.push_back(std::string(path) + ": must be > 0, got " + std::to_string(v));
  };
  const auto at_least = [&](const char* path, int64_t v, int64_t lo) {
    if (v < lo) p.push_back(std::string(path) + ": must be >= " + std::to_string(lo) + ", got " + std::to_string(v));
  };
  positive("rollout.prompts_per_step", c.rollout.prompts_per_step);
  positive("rollout.group_size", c.rollout.group_size);
  positive("rollout.max_prompt_tokens", c.rollout.max_prompt_tokens);
  positive("rollout.max_new_tokens", c.rollout.max_new_tokens);
  at_least("rollout.top_k", c.rollout.top_k, 0);
  if (!(c.rollout.temperature > 0)) p.push_back("rollout.temperature: must be > 0");
  if (!(c.rollout.top_p > 0 && c.rollout.top_p <= 1)) p.push_back("rollout.top_p: must be in (0, 1]");
  if (!(c.grpo.lr > 0)) p.push_back("grpo.lr: must be > 0");
  positive("grpo.mini_batches", c.grpo.mini_batches);
  positive("grpo.micro_batch_tokens", c.grpo.micro_batch_tokens);
  positive("grpo.epochs", c.grpo.epochs);
  at_least("grpo.steps", c.grpo.steps, 0);
  at_least("grpo.warmup_steps", c.grpo.warmup_steps, 0);
  if (c.grpo.clip_low < 0 || c.grpo.clip_low >= 1) p.push_back("grpo.clip_low: must be in [0, 1)");
  if (c.grpo.clip_high < 0) p.push_back("grpo.clip_high: must be >= 0");
  if (c.grpo.dual_clip_c != 0 && c.grpo.dual_clip_c <= 1) p.push_back("grpo.dual_clip_c: must be > 1, or 0 (off)");
  if (c.grpo.kl_coef < 0) p.push_back("grpo.kl_coef: must be >= 0");
  if (c.grpo.max_grad_norm < 0) p.push_back("grpo.max_grad_norm: must be >= 0 (0 = no clipping)");
  positive("grpo.dynamic_sampling_rounds", c.grpo.dynamic_sampling_rounds);
  at_least("grpo.overlong_buffer", c.grpo.overlong_buffer, 0);
  if (c.grpo.overlong_buffer > c.rollout.max_new_tokens)
    p.push_back("grpo.overlong_buffer: must be <= rollout.max_new_tokens (" + std::to_string(c.rollout.max_new_tokens) + "), got " + std::to_string(c.grpo.overlong_buffer));
  if (c.grpo.overlong_penalty < 0) p.push_back("grpo.overlong_penalty: must be >= 0");
  if (!(c.sft.lr > 0)) p.push_back("sft.lr: must be > 0");
  if (!(c.run.memory_limit_gb >= 0)) p.push_back("run.memory_limit_gb: must be >= 0 (0 = detect)");
  at_least("sft.warmup_steps", c.sft.warmup_steps, 0);
  positive("sft.batch_size", c.sft.batch_size);
  positive("sft.epochs", c.sft.epochs);
  at_least("sft.steps", c.sft.steps, 0);
  positive("sft.micro_batch_tokens", c.sft.micro_batch_tokens);
  at_least("sft.max_seq_tokens", c.sft.max_seq_tokens, 2);
  if (c.sft.max_grad_norm < 0) p.push_back("sft.max_grad_norm: must be >= 0 (0 = no clipping)");
  at_least("data.eval_prompts", c.data.eval_prompts, 0);
  at_least("parallel.threads", c.parallel.threads, 0);
  at_least("log.eval_every", c.log.eval_every, 0);
  at_least("checkpoint.every", c.checkpoint.every, 0);
  positive("checkpoint.keep", c.checkpoint.keep);
  positive("log.every", c.log.every);
  // The names of choices (enums) were checked when they were read; reward.variant is text the reward library
  // parses (names joined by '+'), kept as written.
  try {
    reward::reward_config_from_name(c.reward.variant);
  } catch (const std::invalid_argument& e) {
    p.push_back(std::string("reward.variant: ") + e.what());
  }
  // Roles and divisibility.
  int64_t generators = world;
  if (c.parallel.mode == ParallelMode::Split) {
    if (world < 2) p.push_back("parallel.mode: split needs at least 2 ranks (one generating, one training), the job has " + std::to_string(world));
    else if (c.parallel.generation_ranks < 1 || c.parallel.generation_ranks >= world)
      p.push_back("parallel.generation_ranks: must be in [1, " + std::to_string(world - 1) + "] for " + std::to_string(world) + " ranks, got " + std::to_string(c.parallel.generation_ranks));
    else generators = c.parallel.generation_ranks;
  }
  if (c.rollout.prompts_per_step > 0 && c.rollout.prompts_per_step % generators != 0)
    p.push_back("rollout.prompts_per_step (" + std::to_string(c.rollout.prompts_per_step) + ") must be divisible by the " +
                std::to_string(generators) + " generating ranks");
  const int64_t samples = c.rollout.prompts_per_step * c.rollout.group_size;
  if (c.grpo.mini_batches > 0 && samples > 0 && samples % c.grpo.mini_batches != 0)
    p.push_back("grpo.mini_batches (" + std::to_string(c.grpo.mini_batches) + ") must divide prompts_per_step x group_size (" +
                std::to_string(samples) + ")");
}

void set_path(YAML::Node root, const std::string& path, const YAML::Node& value) {
  const std::size_t dot = path.find('.');
  if (dot == std::string::npos) {
    root[path] = value;
    return;
  }
  YAML::Node section = root[path.substr(0, dot)];
  section[path.substr(dot + 1)] = value;
}

}  // namespace

Config config_parse(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides,
                    int world_size) {
  YAML::Node root;
  try {
    root = text.empty() ? YAML::Node(YAML::NodeType::Map) : YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UsageError(yaml_error(origin, e));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw UsageError(origin + ": the config must be a mapping of sections (run, model, data, ...)");
  std::vector<std::string> problems;
  for (const auto& o : overrides) {
    const std::size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      problems.push_back("override '" + o + "': expected section.key=value");
      continue;
    }
    try {
      set_path(root, o.substr(0, eq), YAML::Load(o.substr(eq + 1)));
    } catch (const YAML::Exception& e) {
      problems.push_back("override '" + o + "': " + e.what());
    }
  }
  std::map<std::string, const Field*> by_path;
  std::set<std::string> sections;
  for (const auto& f : fields()) {
    by_path[f.path] = &f;
    sections.insert(f.path.substr(0, f.path.find('.')));
  }
  Config c;
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) {
      problems.push_back(where(origin, kv.first) + ": expected a section name (run, model, data, ...), got a " +
                         (kv.first.IsMap() ? "mapping" : kv.first.IsSequence() ? "list" : "null"));
      continue;
    }
    const std::string sec = kv.first.Scalar();
    if (!sections.count(sec)) {
      problems.push_back(where(origin, kv.first) + ": unknown section '" + sec + "'");
      continue;
    }
    if (kv.second.IsNull()) continue;
    if (!kv.second.IsMap()) {
      problems.push_back(where(origin, kv.second) + ": " + sec + ": expected a mapping of keys");
      continue;
    }
    for (const auto& item : kv.second) {
      if (!item.first.IsScalar()) {
        problems.push_back(where(origin, item.first) + ": " + sec + ": expected a key name, got a " +
                           (item.first.IsMap() ? "mapping" : item.first.IsSequence() ? "list" : "null"));
        continue;
      }
      const std::string path = sec + "." + item.first.Scalar();
      const auto it = by_path.find(path);
      if (it == by_path.end()) {
        std::string known;
        for (const auto& f : fields())
          if (f.path.rfind(sec + ".", 0) == 0) known += " " + f.path.substr(sec.size() + 1);
        problems.push_back(where(origin, item.first) + ": " + path + ": unknown key (known in " + sec + ":" + known + ")");
        continue;
      }
      try {
        it->second->read(c, item.second);
      } catch (const std::invalid_argument& e) {
        problems.push_back(where(origin, item.second) + ": " + path + ": " + e.what());
      }
    }
  }
  validate(c, world_size, problems);
  if (!problems.empty()) {
    std::string msg = origin + ": " + std::to_string(problems.size()) + " problem(s) in the configuration:";
    for (const auto& p : problems) msg += "\n  - " + p;
    throw UsageError(msg);
  }
  return c;
}

Config config_load(const std::string& path, const std::vector<std::string>& overrides, int world_size) {
  if (path.empty()) return config_parse("", "<defaults>", overrides, world_size);
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read config " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return config_parse(ss.str(), path, overrides, world_size);
}

std::string config_to_yaml(const Config& c) {
  YAML::Emitter e;
  e.SetDoublePrecision(17);
  e << YAML::BeginMap;
  std::string current;
  for (const auto& f : fields()) {
    const std::string sec = f.path.substr(0, f.path.find('.'));
    if (sec != current) {
      if (!current.empty()) e << YAML::EndMap;
      e << YAML::Key << sec << YAML::Value << YAML::BeginMap;
      current = sec;
    }
    f.emit(c, e);
  }
  e << YAML::EndMap << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace toolgrpo::app
