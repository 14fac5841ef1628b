// toolgrpo export: a checkpoint (HDF5 file, run directory or model directory) written as a Hugging Face model
// directory — config.json, safetensors weights in fp32 or bf16 (one file, or shards with an index), tokenizer and
// generation config — built under DIR.tmp-PID and renamed into place, so DIR is complete or untouched.
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "app/train/policy.hpp"
#include "common/input_error.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_file.hpp"
#include "model/safetensors.hpp"

namespace fs = std::filesystem;

namespace toolgrpo::app {
namespace {

using nlohmann::json;

// Files of the source model directory that describe the tokenizer and generation, copied as they are.
const char* const kSourceFiles[] = {"tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                                    "chat_template.jinja", "chat_template.json"};

// "5GB", "500MB", "2GiB", "1000000" (bytes): decimal units KB/MB/GB/TB, binary KiB/MiB/GiB/TiB, case-insensitive,
// as transformers' max_shard_size reads them.
uint64_t shard_size_parse(const std::string& text) {
  const auto bad = [&]() {
    return UsageError("export: --max-shard-size expects a size such as 500MB, 2GB, 1GiB or a byte count, got '" +
                      text + "'");
  };
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number = text.substr(0, i);
  std::string unit;
  for (std::size_t k = i; k < text.size(); ++k)
    if (text[k] != ' ') unit += static_cast<char>(std::toupper(static_cast<unsigned char>(text[k])));
  if (number.empty() || number == ".") throw bad();
  char* end = nullptr;
  const double x = std::strtod(number.c_str(), &end);
  if (*end != '\0' || !std::isfinite(x)) throw bad();
  const std::pair<const char*, double> units[] = {
      {"", 1},          {"B", 1},          {"BYTES", 1},        {"KB", 1e3},   {"MB", 1e6},
      {"GB", 1e9},      {"TB", 1e12},      {"KIB", 1024.0},     {"MIB", 1048576.0}, {"GIB", 1073741824.0},
      {"TIB", 1099511627776.0}};
  for (const auto& [name, scale] : units) {
    if (unit != name) continue;
    const double bytes = std::floor(x * scale);
    if (bytes < 1) throw UsageError("export: --max-shard-size must be at least 1 byte, got '" + text + "'");
    if (bytes > 1e18) throw bad();
    return static_cast<uint64_t>(bytes);
  }
  throw bad();
}

void write_text(const fs::path& p, const std::string& text) {
  io::AtomicFile f(p.string());
  f.write(text);
  f.commit();
}

// The policy at `path`; any problem with it is bad input (exit code 2): a damaged file (common::InputError, which
// io::CheckpointError is) as "toolgrpo: error: FILE: ...", anything else naming --checkpoint.
Policy export_source_load(const std::string& path) {
  ModelSection m;
  m.path = path;
  try {
    return policy_load(m, 0, 0);
  } catch (const UsageError& e) {
    std::string what = e.what();
    if (what.rfind("model.path: ", 0) == 0) what = what.substr(12);  // policy_load names the config key
    throw UsageError("export: --checkpoint: " + what);
  } catch (const common::InputError&) {
    throw;  // a damaged checkpoint or model file: the message names it (exit code 2)
  } catch (const std::runtime_error& e) {
    throw UsageError("export: --checkpoint " + path + ": cannot load the model: " + e.what());
  }
}

// tokenizer_config.json for a source without one: a fast tokenizer over tokenizer.json with its special tokens.
std::string tokenizer_config_json(const Policy& p) {
  json j = {{"tokenizer_class", "PreTrainedTokenizerFast"},
            {"model_max_length", p.cfg.max_position_embeddings},
            {"clean_up_tokenization_spaces", false}};
  const auto token = [&](int64_t id) -> json {
    if (!p.tok || id < 0 || id >= p.tok->vocab_size()) return nullptr;
    const std::string s = p.tok->decode({id});
    return s.empty() ? json(nullptr) : json(s);
  };
  const int64_t eos = p.cfg.eos_token_ids.empty() ? -1 : p.cfg.eos_token_ids[0];
  j["bos_token"] = token(p.cfg.bos_token_id);
  j["eos_token"] = token(eos);
  j["pad_token"] = token(eos);
  return j.dump(2) + "\n";
}

std::string generation_config_json(const model::ModelConfig& cfg) {
  json j = json::object();
  if (cfg.bos_token_id >= 0) j["bos_token_id"] = cfg.bos_token_id;
  if (cfg.eos_token_ids.size() == 1) j["eos_token_id"] = cfg.eos_token_ids[0];
  else if (!cfg.eos_token_ids.empty()) j["eos_token_id"] = cfg.eos_token_ids;
  if (!cfg.eos_token_ids.empty()) j["pad_token_id"] = cfg.eos_token_ids[0];
  return j.dump(2) + "\n";
}

// Writes the whole model directory into `dir` (which exists and is empty). Returns the weight files written.
std::vector<std::string> export_write(Policy& p, const fs::path& dir, at::ScalarType dtype, uint64_t max_shard) {
  // Convert tensor by tensor and drop the fp32 weights as we go: the peak is the fp32 model plus one tensor.
  std::vector<std::pair<std::string, at::Tensor>> tensors = model::decoder_named_parameters(p.cfg, p.w);
  p.w = model::DecoderWeights{};
  for (auto& [name, t] : tensors) t = t.detach().to(at::kCPU).to(dtype).contiguous();
  const std::vector<std::string> files = model::safetensors_save_sharded(dir.string(), tensors, max_shard);
  tensors.clear();

  json config = json::parse(model::model_config_to_json(p.cfg));
  config["torch_dtype"] = dtype == at::kBFloat16 ? "bfloat16" : "float32";
  write_text(dir / "config.json", config.dump(2) + "\n");
  bool has_tokenizer_config = false, has_generation_config = false;
  if (!p.source_dir.empty()) {
    for (const char* name : kSourceFiles) {
      const fs::path from = fs::path(p.source_dir) / name;
      if (!fs::is_regular_file(from)) continue;
      fs::copy_file(from, dir / name);
      has_tokenizer_config |= std::string(name) == "tokenizer_config.json";
      has_generation_config |= std::string(name) == "generation_config.json";
    }
  }
  if (!has_generation_config) write_text(dir / "generation_config.json", generation_config_json(p.cfg));
  if (!p.tokenizer_json.empty()) {
    write_text(dir / "tokenizer.json", p.tokenizer_json);
    if (!has_tokenizer_config) write_text(dir / "tokenizer_config.json", tokenizer_config_json(p));
  }
  return files;
}

// Moves the finished `tmp` to `out`: an empty `out` is replaced; a non-empty one (--force) is moved aside and
// deleted only once the new directory is in place, and restored when that fails.
void export_commit(const fs::path& tmp, const fs::path& out) {
  if (!fs::exists(out)) {
    fs::rename(tmp, out);
    return;
  }
  if (fs::is_empty(out)) {
    fs::remove(out);
    fs::rename(tmp, out);
    return;
  }
  const fs::path old = out.string() + ".old-" + std::to_string(::getpid());
  fs::rename(out, old);
  try {
    fs::rename(tmp, out);
  } catch (...) {
    fs::rename(old, out);
    throw;
  }
  fs::remove_all(old);
}

}  // namespace

int cmd_export(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "export",
      "export --checkpoint FILE|RUN_DIR|MODEL_DIR --out DIR [--dtype fp32|bf16] [--max-shard-size SIZE] [--force]",
      "Writes the model of a checkpoint as a Hugging Face model directory, laid out as transformers' "
      "save_pretrained writes one: config.json, the weights as safetensors in the chosen dtype (model.safetensors, or "
      "model-0000K-of-0000N.safetensors shards with model.safetensors.index.json when they exceed "
      "--max-shard-size), tokenizer.json, tokenizer_config.json and generation_config.json (the source model's "
      "tokenizer, generation and chat template files are copied when it has them). DIR is built under a "
      "temporary name and renamed into place: it is complete or untouched.",
      {{"--checkpoint", "PATH", "a checkpoint (*.h5), a run directory (its latest) or a model directory"},
       {"--out", "DIR", "the model directory to write (required)"},
       {"--dtype", "fp32|bf16", "weight type (default fp32; bf16 rounds to nearest even)"},
       {"--max-shard-size", "SIZE", "largest weight file, e.g. 500MB, 2GB, 1GiB or bytes (default 5GB)"},
       {"--force", "", "replace DIR when it exists and is not empty"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  const std::string source = cli.get("--checkpoint");
  const std::string dtype_name = cli.get_or("--dtype", "fp32");
  if (dtype_name != "fp32" && dtype_name != "bf16")
    throw UsageError("export: --dtype must be fp32 or bf16, got '" + dtype_name + "'");
  const at::ScalarType dtype = dtype_name == "bf16" ? at::kBFloat16 : at::kFloat;
  const uint64_t max_shard = shard_size_parse(cli.get_or("--max-shard-size", "5GB"));
  fs::path out = fs::path(cli.get("--out")).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  if (out.empty() || out == "." || out == "..")
    throw UsageError("export: --out must name a new or empty directory, got '" + cli.get("--out") + "'");
  if (source.empty() || !fs::exists(source)) throw UsageError("export: --checkpoint " + source + " does not exist");
  if (fs::exists(out) && !fs::is_directory(out))
    throw UsageError("export: --out " + out.string() + " exists and is not a directory");
  if (fs::exists(out) && !fs::is_empty(out) && !cli.has("--force"))
    throw UsageError("export: --out " + out.string() + " exists and is not empty (pass --force to replace it)");
  if (rt.rank() != 0) return 0;

  Policy p = export_source_load(source);
  const int64_t params = model::parameter_count(p.cfg);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  const fs::path tmp = out.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directory(tmp);
  std::vector<std::string> files;
  try {
    files = export_write(p, tmp, dtype, max_shard);
    export_commit(tmp, out);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  const std::size_t shards = files.size() == 1 ? 1 : files.size() - 1;
  std::printf("export: %s (%s, %lld parameters) -> %s: %s weights in %s%s\n", source.c_str(),
              p.cfg.architecture.c_str(), static_cast<long long>(params), out.string().c_str(), dtype_name.c_str(),
              shards == 1 ? "model.safetensors" : (std::to_string(shards) + " shards").c_str(),
              p.source_dir.empty() ? "" : (", tokenizer files from " + p.source_dir).c_str());
  return 0;
}

}  // namespace toolgrpo::app
