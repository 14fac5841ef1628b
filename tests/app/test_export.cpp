// `toolgrpo export`, `toolgrpo ckpt info` and every command's --help, run as a user runs them. Exports are read
// back two ways: by our loader (logits bitwise equal to the source's, or to its bf16-rounded weights) and by a
// small safetensors reader written here from the format's description, independent of model/safetensors.*.
#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "app/config/config.hpp"
#include "app/train/policy.hpp"
#include "io/checkpoint_file.hpp"
#include "model/byte_tokenizer.hpp"
#include "model/config.hpp"
#include "model/decoder.hpp"
#include "model/safetensors.hpp"
#include "tests/app/cli_run.hpp"

namespace {

using namespace toolgrpo;
using namespace toolgrpo::testing;
using nlohmann::json;

std::string file_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- An independent safetensors reader: 8-byte little-endian header size, JSON header, data section. ----

struct StTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};
struct StFile {
  std::map<std::string, StTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads `path`, reporting every departure from the format as a test failure.
StFile st_read(const fs::path& path) {
  static const std::map<std::string, uint64_t> sizes = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2},
                                                        {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
                                                        {"U8", 1},  {"BOOL", 1}};
  StFile f;
  const std::string all = file_text(path);
  const std::string where = path.string() + ": ";
  if (all.size() < 8) {
    ADD_FAILURE() << where << "shorter than the 8-byte header size";
    return f;
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(all[static_cast<std::size_t>(i)]);
  if (n > all.size() - 8) {
    ADD_FAILURE() << where << "header size " << n << " exceeds the file";
    return f;
  }
  const std::string header = all.substr(8, n);
  EXPECT_EQ((8 + n) % 8, 0u) << where << "the data section should start 8-byte aligned (header padded with spaces)";
  EXPECT_EQ(header.front(), '{') << where;
  const std::size_t last = header.find_last_not_of(' ');
  EXPECT_TRUE(last != std::string::npos && header[last] == '}') << where << "only spaces may follow the JSON";
  EXPECT_LT(header.size() - 1 - last, 8u) << where << "more padding than alignment needs";
  json h;
  try {
    h = json::parse(header);
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << "header is not JSON: " << e.what();
    return f;
  }
  if (!h.is_object()) {
    ADD_FAILURE() << where << "header is not an object";
    return f;
  }
  const std::string data = all.substr(8 + n);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") {
      EXPECT_TRUE(e.is_object()) << where;
      for (const auto& [k, v] : e.items()) {
        EXPECT_TRUE(v.is_string()) << where << "__metadata__." << k << " must be a string";
        if (v.is_string()) f.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    StTensor t;
    if (!e.is_object() || e.size() != 3 || !e.contains("dtype") || !e.contains("shape") ||
        !e.contains("data_offsets")) {
      ADD_FAILURE() << where << name << ": needs exactly dtype, shape, data_offsets";
      continue;
    }
    t.dtype = e["dtype"].get<std::string>();
    if (!sizes.count(t.dtype)) {
      ADD_FAILURE() << where << name << ": unknown dtype " << t.dtype;
      continue;
    }
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      EXPECT_TRUE(d.is_number_unsigned()) << where << name;
      t.shape.push_back(d.get<int64_t>());
      numel *= d.get<uint64_t>();
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      ADD_FAILURE() << where << name << ": data_offsets must be [begin, end]";
      continue;
    }
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    EXPECT_LE(b, en) << where << name;
    EXPECT_LE(en, data.size()) << where << name;
    EXPECT_EQ(en - b, numel * sizes.at(t.dtype)) << where << name << ": bytes vs dtype size x numel";
    if (b <= en && en <= data.size()) t.bytes = data.substr(b, en - b);
    ranges.emplace_back(b, en);
    f.tensors[name] = t;
  }
  // The ranges tile the data section: contiguous, no overlap, no gap, nothing after the last one.
  std::sort(ranges.begin(), ranges.end());
  uint64_t at = 0;
  for (const auto& [b, e] : ranges) {
    EXPECT_EQ(b, at) << where << "data_offsets leave a gap or overlap at byte " << at;
    at = e;
  }
  EXPECT_EQ(at, data.size()) << where << "the data section has bytes no tensor covers";
  return f;
}

// The tensor's bytes as a CPU tensor of the file's dtype (F32 or BF16 here).
at::Tensor st_tensor(const StTensor& t) {
  const at::ScalarType type = t.dtype == "BF16" ? at::kBFloat16 : at::kFloat;
  at::Tensor x = at::empty(t.shape, at::TensorOptions().dtype(type));
  std::memcpy(x.data_ptr(), t.bytes.data(), t.bytes.size());
  return x;
}

// ---- Models and logits ----

at::Tensor logits_of(const model::ModelConfig& cfg, const model::DecoderWeights& w) {
  const at::Tensor ids = at::arange(22, at::kLong).reshape({2, 11}).mul(37).add(5).remainder(cfg.vocab_size);
  return model::decoder_forward(cfg, w, ids, at::ones({2, 11}, at::kLong)).logits;
}

model::DecoderWeights weights_of(const fs::path& dir) {
  return model::decoder_weights_load(model::model_config_load(dir.string()), dir.string(), at::kFloat, at::kCPU);
}

// Round-to-nearest-even of fp32 bits to bf16 bits, written out by hand (no NaNs in our weights).
uint16_t bf16_rne(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

class Export : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch() / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    src_ = dir_ / "src";
    const RunResult r = run("init-model --preset tiny --seed 7 --out " + src_.string());
    ASSERT_EQ(r.code, 0) << r.out;
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  // Names of dir_'s entries containing ".tmp" or ".old" (left-overs of an export).
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string n = e.path().filename().string();
      if (n.find(".tmp") != std::string::npos || n.find(".old") != std::string::npos) out.push_back(n);
    }
    return out;
  }
  fs::path dir_, src_;
};

TEST_F(Export, Fp32ExportLoadsToBitwiseIdenticalLogits) {
  const fs::path out = dir_ / "out";
  const RunResult r = run("export --checkpoint " + src_.string() + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "model.safetensors")) << r.out;
  // Single file, read independently: F32 tensors, exactly the parameters (tied: no lm_head), source bytes.
  const model::ModelConfig cfg = model::model_config_load(src_.string());
  ASSERT_TRUE(cfg.tie_word_embeddings);
  const model::DecoderWeights src_w = weights_of(src_);
  const StFile f = st_read(out / "model.safetensors");
  EXPECT_EQ(f.metadata.at("format"), "pt");
  const auto params = model::decoder_named_parameters(cfg, src_w);
  EXPECT_EQ(f.tensors.size(), params.size());
  EXPECT_FALSE(f.tensors.count("lm_head.weight"));
  for (const auto& [name, t] : params) {
    ASSERT_TRUE(f.tensors.count(name)) << name;
    EXPECT_EQ(f.tensors.at(name).dtype, "F32") << name;
    EXPECT_EQ(f.tensors.at(name).shape, t.sizes().vec()) << name;
    EXPECT_TRUE(at::equal(st_tensor(f.tensors.at(name)), t)) << name;
  }
  EXPECT_FALSE(fs::exists(out / "model.safetensors.index.json"));
  // Our loaders: logits bitwise equal.
  const at::Tensor want = logits_of(cfg, src_w);
  EXPECT_TRUE(at::equal(logits_of(model::model_config_load(out.string()), weights_of(out)), want));
  app::ModelSection m;
  m.path = out.string();
  const app::Policy p = app::policy_load(m, 0);
  EXPECT_TRUE(at::equal(logits_of(p.cfg, p.w), want));
  // The other files: config (same text for fp32), the source's generation config and tokenizer, and a
  // tokenizer_config.json because the source has none.
  EXPECT_EQ(file_text(out / "config.json"), file_text(src_ / "config.json"));
  EXPECT_EQ(file_text(out / "generation_config.json"), file_text(src_ / "generation_config.json"));
  EXPECT_EQ(file_text(out / "tokenizer.json"), file_text(src_ / "tokenizer.json"));
  const json tc = json::parse(file_text(out / "tokenizer_config.json"));
  EXPECT_EQ(tc["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(tc["eos_token"], "<|endoftext|>");
  EXPECT_EQ(tc["pad_token"], "<|endoftext|>");
  EXPECT_EQ(tc["model_max_length"], cfg.max_position_embeddings);
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(Export, Bf16ExportRoundsToNearestEven) {
  const fs::path out = dir_ / "out";
  const RunResult r = run("export --checkpoint " + src_.string() + " --out " + out.string() + " --dtype bf16");
  ASSERT_EQ(r.code, 0) << r.out;
  const model::ModelConfig cfg = model::model_config_load(src_.string());
  const model::DecoderWeights src_w = weights_of(src_);
  const StFile f = st_read(out / "model.safetensors");
  for (const auto& [name, t] : model::decoder_named_parameters(cfg, src_w)) {
    ASSERT_TRUE(f.tensors.count(name)) << name;
    const StTensor& e = f.tensors.at(name);
    ASSERT_EQ(e.dtype, "BF16") << name;
    ASSERT_EQ(e.bytes.size(), static_cast<std::size_t>(t.numel()) * 2) << name;
    const at::Tensor c = t.contiguous();
    const float* x = c.data_ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      uint16_t got;
      std::memcpy(&got, e.bytes.data() + 2 * i, 2);
      ASSERT_EQ(got, bf16_rne(x[i])) << name << "[" << i << "] of " << x[i];
    }
  }
  EXPECT_EQ(json::parse(file_text(out / "config.json"))["torch_dtype"], "bfloat16");
  // Loaded back (bf16 -> fp32 is exact): the logits of the source weights rounded to bf16 by torch.
  const model::SafetensorsStore store(src_.string());
  const model::DecoderWeights rounded = model::decoder_weights_from(
      cfg,
      [&](const std::string& n) {
        return std::make_pair(store.load(n, at::kFloat).to(at::kBFloat16).to(at::kFloat), store.file_of(n));
      },
      at::kCPU);
  EXPECT_TRUE(at::equal(logits_of(cfg, weights_of(out)), logits_of(cfg, rounded)));
  EXPECT_FALSE(at::equal(logits_of(cfg, rounded), logits_of(cfg, src_w))) << "rounding should change something";
}

TEST_F(Export, ShardsFollowTheTransformersIndexFormat) {
  const fs::path out = dir_ / "out";
  const uint64_t max_shard = 100000;  // "100KB": the tiny model's ~380 KB of fp32 weights in 4+ shards
  const RunResult r =
      run("export --checkpoint " + src_.string() + " --out " + out.string() + " --max-shard-size 100KB");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  const json index = json::parse(file_text(out / "model.safetensors.index.json"));
  ASSERT_TRUE(index["weight_map"].is_object());
  const model::ModelConfig cfg = model::model_config_load(src_.string());
  const model::DecoderWeights src_w = weights_of(src_);
  const auto params = model::decoder_named_parameters(cfg, src_w);
  // Every file the index names exists, has the transformers name, and holds the tensors mapped to it.
  std::set<std::string> files;
  for (const auto& [name, file] : index["weight_map"].items()) files.insert(file.get<std::string>());
  const std::size_t n = files.size();
  ASSERT_GE(n, 3u);
  std::map<std::string, StFile> shards;
  std::size_t k = 1;
  for (const auto& file : files) {
    char want[64];
    std::snprintf(want, sizeof want, "model-%05zu-of-%05zu.safetensors", k++, n);
    EXPECT_EQ(file, want);
    ASSERT_TRUE(fs::exists(out / file)) << file;
    shards[file] = st_read(out / file);
  }
  // Each tensor is in exactly one shard, the one the index names; total_size is the sum of their bytes.
  uint64_t total = 0;
  std::size_t tensors_in_shards = 0;
  std::map<std::string, std::string> shard_of;
  for (const auto& [file, f] : shards) {
    tensors_in_shards += f.tensors.size();
    uint64_t bytes = 0;
    for (const auto& [name, t] : f.tensors) {
      EXPECT_TRUE(shard_of.emplace(name, file).second) << name << " is in two shards";
      bytes += t.bytes.size();
    }
    EXPECT_TRUE(bytes <= max_shard || f.tensors.size() == 1) << file << " holds " << bytes << " bytes";
    total += bytes;
  }
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  EXPECT_EQ(index["weight_map"].size(), tensors_in_shards);
  EXPECT_EQ(tensors_in_shards, params.size());
  // Greedy packing in decoder_named_parameters order: shards hold consecutive runs, and each shard was closed
  // only because the next tensor did not fit.
  uint64_t shard_bytes = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string& name = params[i].first;
    ASSERT_TRUE(shard_of.count(name)) << name;
    EXPECT_EQ(index["weight_map"][name], shard_of[name]) << name;
    EXPECT_TRUE(at::equal(st_tensor(shards[shard_of[name]].tensors.at(name)), params[i].second)) << name;
    const uint64_t bytes = static_cast<uint64_t>(params[i].second.numel()) * 4;
    if (i > 0 && shard_of[name] != shard_of[params[i - 1].first]) {
      EXPECT_GT(shard_of[name], shard_of[params[i - 1].first]) << name;
      EXPECT_GT(shard_bytes + bytes, max_shard) << name << " would have fit in the previous shard";
      shard_bytes = 0;
    }
    shard_bytes += bytes;
  }
  // And the loader reads the sharded directory to the same logits.
  EXPECT_TRUE(at::equal(logits_of(cfg, weights_of(out)), logits_of(cfg, src_w)));
}

TEST_F(Export, UntiedModelKeepsItsHeadAndTheSourceFiles) {
  const fs::path fixture = fs::path(shared()) / "fixtures/models/qwen2-untied";
  if (!fs::exists(fixture / "model.safetensors")) GTEST_SKIP() << "no reference data at " << fixture;
  const fs::path src = dir_ / "untied";
  fs::create_directories(src);
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json"})
    fs::copy_file(fixture / f, src / f);
  std::ofstream(src / "tokenizer.json") << model::ByteTokenizer().to_tokenizer_json();
  std::ofstream(src / "tokenizer_config.json") << "{\"tokenizer_class\": \"Qwen2TokenizerFast\"}\n";
  std::ofstream(src / "chat_template.jinja") << "{{ messages }}";
  const fs::path out = dir_ / "out";
  const RunResult r = run("export --checkpoint " + src.string() + " --out " + out.string() + " --dtype bf16");
  ASSERT_EQ(r.code, 0) << r.out;
  const StFile f = st_read(out / "model.safetensors");
  ASSERT_TRUE(f.tensors.count("lm_head.weight"));
  EXPECT_EQ(f.tensors.at("lm_head.weight").dtype, "BF16");
  for (const char* name : {"generation_config.json", "tokenizer_config.json", "chat_template.jinja"})
    EXPECT_EQ(file_text(out / name), file_text(src / name)) << name;
  const model::ModelConfig cfg = model::model_config_load(out.string());
  EXPECT_FALSE(cfg.tie_word_embeddings);
  const model::DecoderWeights w = weights_of(out);
  EXPECT_FALSE(w.lm_head.is_same(w.embed));
}

TEST_F(Export, ExportsTheCheckpointOfARun) {
  const fs::path runs = dir_ / "runs";
  const RunResult train = run("sft model.path=" + src_.string() + " data.train=" + shared() +
                              "/toolrl/test.jsonl run.out_dir=" + runs.string() +
                              " run.name=r sft.steps=1 sft.batch_size=2 sft.lr=1e-2 sft.max_seq_tokens=256"
                              " checkpoint.every=1");
  ASSERT_EQ(train.code, 0) << train.out;
  const std::vector<std::string> ckpts = io::checkpoint_list((runs / "r" / "checkpoints").string());
  ASSERT_FALSE(ckpts.empty()) << train.out;
  const fs::path out = dir_ / "out";
  const RunResult r = run("export --checkpoint " + ckpts.front() + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  // The checkpoint holds the weights after the step, the run directory's final model the same ones.
  const model::ModelConfig cfg = model::model_config_load(out.string());
  EXPECT_TRUE(at::equal(logits_of(cfg, weights_of(out)), logits_of(cfg, weights_of(runs / "r"))));
  EXPECT_FALSE(at::equal(logits_of(cfg, weights_of(out)), logits_of(cfg, weights_of(src_))));
  // The tokenizer and generation files come from the directory the run started from.
  EXPECT_EQ(file_text(out / "generation_config.json"), file_text(src_ / "generation_config.json"));
  EXPECT_EQ(file_text(out / "tokenizer.json"), file_text(src_ / "tokenizer.json"));
  // The run directory itself is a valid --checkpoint too, with the same weights.
  const fs::path out2 = dir_ / "out2";
  const RunResult r2 = run("export --checkpoint " + (runs / "r").string() + " --out " + out2.string());
  ASSERT_EQ(r2.code, 0) << r2.out;
  EXPECT_TRUE(at::equal(logits_of(cfg, weights_of(out2)), logits_of(cfg, weights_of(out))));
}

TEST_F(Export, BadInputExitsTwoAndLeavesNothing) {
  const fs::path out = dir_ / "out";
  const std::string ok = "export --checkpoint " + src_.string() + " --out " + out.string();
  const auto expect_refused = [&](const std::string& args, const std::string& named) {
    const RunResult r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, named)) << args << "\n" << r.out;
    EXPECT_FALSE(fs::exists(out)) << args;
    EXPECT_TRUE(leftovers().empty()) << args;
  };
  expect_refused(ok + " --dtype fp16", "--dtype");
  expect_refused(ok + " --max-shard-size 12XB", "--max-shard-size");
  expect_refused(ok + " --max-shard-size 0", "--max-shard-size");
  expect_refused(ok + " --max-shard-size GB", "--max-shard-size");
  expect_refused("export --checkpoint " + (dir_ / "missing.h5").string() + " --out " + out.string(), "missing.h5");
  expect_refused("export --out " + out.string(), "--checkpoint");
  std::ofstream(dir_ / "junk.h5") << "not a checkpoint";
  expect_refused("export --checkpoint " + (dir_ / "junk.h5").string() + " --out " + out.string(), "junk.h5");
  expect_refused(ok + " --frobnicate", "unknown option --frobnicate");
  fs::create_directories(dir_ / "nothing");
  expect_refused("export --checkpoint " + (dir_ / "nothing").string() + " --out " + out.string(), "nothing");
  // An existing non-empty directory is refused and left as it was.
  fs::create_directories(out);
  std::ofstream(out / "keep.txt") << "mine";
  const RunResult refused = run(ok);
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_TRUE(contains(refused.out, "--out") && contains(refused.out, "--force")) << refused.out;
  EXPECT_EQ(file_text(out / "keep.txt"), "mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 1);
  // A failing export with --force keeps the old content too.
  const RunResult bad =
      run("export --checkpoint " + (dir_ / "junk.h5").string() + " --out " + out.string() + " --force");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_EQ(file_text(out / "keep.txt"), "mine");
  // With --force the directory is replaced whole; an empty directory needs no --force.
  const RunResult forced = run(ok + " --force");
  ASSERT_EQ(forced.code, 0) << forced.out;
  EXPECT_FALSE(fs::exists(out / "keep.txt"));
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  EXPECT_EQ(run("export --checkpoint " + src_.string() + " --out " + empty.string() + "/").code, 0);
  EXPECT_TRUE(fs::exists(empty / "config.json"));
  EXPECT_TRUE(leftovers().empty());
}

// ---- --help of every command ----

TEST(CliHelp, EveryCommandPrintsItsOptionsAndExitsZero) {
  const std::map<std::string, std::vector<std::string>> commands = {
      {"score", {"--data IN.jsonl", "--variant"}},
      {"init-model", {"--out DIR", "--force"}},
      {"generate", {"--model DIR", "--max-new-tokens N"}},
      {"train", {"--config FILE.yaml", "key=value", "grpo.lr=2e-6", "README.md"}},
      {"sft", {"--config FILE.yaml", "key=value", "grpo.lr=2e-6", "README.md"}},
      {"export", {"--checkpoint PATH", "--out DIR", "--dtype fp32|bf16", "--max-shard-size SIZE"}},
      {"ckpt", {"info", "FILE", "--verify"}},
      {"report", {"RUN_DIR", "--out DIR", "index.html"}},
      {"eval-table", {"--column NAME=FILE", "--diff A-B", "--resamples B"}},
      {"tokenize", {"--tokenizer", "--decode"}},
      {"version", {}},
  };
  const RunResult top = run("--help");
  for (const auto& [name, options] : commands) {
    EXPECT_TRUE(contains(top.out, "\n  " + name + " ")) << name << " missing from toolgrpo --help:\n" << top.out;
    // Every command's --help; the other spellings (-h, help COMMAND) on one command, to keep the test short.
    std::vector<std::string> forms = {name + " --help"};
    if (name == "export") forms.insert(forms.end(), {name + " -h", "help " + name});
    for (const std::string& form : forms) {
      const RunResult r = run(form);
      EXPECT_EQ(r.code, 0) << form << "\n" << r.out;
      EXPECT_EQ(r.out.rfind("usage: toolgrpo " + name, 0), 0u) << form << "\n" << r.out;
      EXPECT_TRUE(contains(r.out, "options:\n")) << form << "\n" << r.out;
      EXPECT_TRUE(contains(r.out, "-h, --help")) << form;
      for (const auto& o : options) EXPECT_TRUE(contains(r.out, o)) << form << " lacks " << o << "\n" << r.out;
    }
    const RunResult bad = run(name + " --no-such-option");
    EXPECT_EQ(bad.code, 2) << name << "\n" << bad.out;
    EXPECT_TRUE(contains(bad.out, "unknown option --no-such-option")) << name << "\n" << bad.out;
    EXPECT_TRUE(contains(bad.out, name + " --help")) << "the message should point to the help\n" << bad.out;
  }
}

TEST(CliHelp, UnderMpirunOnlyRankZeroPrints) {
  const RunResult r = mpirun(2, "", "export --help");
  EXPECT_EQ(r.code, 0) << r.out;
  std::size_t n = 0;
  for (std::size_t at = r.out.find("usage: toolgrpo export"); at != std::string::npos;
       at = r.out.find("usage: toolgrpo export", at + 1))
    ++n;
  EXPECT_EQ(n, 1u) << r.out;
}

// ---- ckpt info ----

TEST(CkptInfo, PrintsMetaAndTensorsAndVerifies) {
  const fs::path dir = scratch() / "ckpt_info";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "ckpt-00000003.h5";
  std::vector<float> a(6);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 1234.5f + static_cast<float>(i);
  std::vector<int64_t> b = {7, 8, 9};
  const std::string yaml = "run:\n  name: demo\n  seed: 3\n";
  const std::string huge(100000, 'x');
  const std::vector<io::MetaItem> meta = {
      {"step", int64_t{3}}, {"lr", 2e-6}, {"config_yaml", yaml}, {"kind", "grpo"}, {"tokenizer_json", huge}};
  io::checkpoint_write(file.string(), meta,
                       {{"model/w", io::ElemType::F32, {2, 3}, a.data()},
                        {"data/cursor", io::ElemType::I64, {3}, b.data()}});
  const RunResult info = run("ckpt info " + file.string());
  ASSERT_EQ(info.code, 0) << info.out;
  const std::vector<std::string> expected = {
      file.string(), "step: 3", "lr: 2e-06", "kind: grpo", "config_yaml:", "    run:", "      name: demo",
      "model/w", "F32", "[2, 3]", "data/cursor", "I64", "[3]", "2 tensors, 48 bytes",
      "tokenizer_json: (100000 bytes of text, not shown)"};
  for (const std::string& s : expected)
    EXPECT_TRUE(contains(info.out, s)) << "missing '" << s << "'\n" << info.out;
  EXPECT_FALSE(contains(info.out, "verified"));
  EXPECT_FALSE(contains(info.out, "xxxx"));
  EXPECT_TRUE(contains(info.out, "format_version: 1\n")) << info.out;
  // One-line items come before the texts; --brief gives the texts by their size.
  EXPECT_LT(info.out.find("step: 3"), info.out.find("config_yaml:"));
  const RunResult brief = run("ckpt info --brief " + file.string());
  ASSERT_EQ(brief.code, 0) << brief.out;
  EXPECT_TRUE(contains(brief.out, "config_yaml: (" + std::to_string(yaml.size()) + " bytes, 3 lines")) << brief.out;
  EXPECT_FALSE(contains(brief.out, "name: demo")) << brief.out;
  EXPECT_TRUE(contains(brief.out, "2 tensors, 48 bytes")) << brief.out;
  const RunResult verify = run("ckpt info " + file.string() + " --verify");
  EXPECT_EQ(verify.code, 0) << verify.out;
  EXPECT_TRUE(contains(verify.out, "all 2 tensors verified")) << verify.out;
  // One flipped bit in a tensor's data: info still reads the metadata, --verify names the tensor.
  std::string bytes = file_text(file);
  const std::string needle(reinterpret_cast<const char*>(a.data()), a.size() * 4);
  const std::size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] = static_cast<char>(bytes[at + 5] ^ 0x04);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  const RunResult damaged = run("ckpt info " + file.string() + " --verify");
  EXPECT_EQ(damaged.code, 2) << damaged.out;
  EXPECT_TRUE(contains(damaged.out, "model/w")) << damaged.out;
  // Not a checkpoint, no file, no sub-command.
  std::ofstream(dir / "junk.h5") << "junk";
  const RunResult junk = run("ckpt info " + (dir / "junk.h5").string());
  EXPECT_EQ(junk.code, 2) << junk.out;
  EXPECT_TRUE(contains(junk.out, "junk.h5")) << junk.out;
  const RunResult missing = run("ckpt info " + (dir / "none.h5").string());
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_TRUE(contains(missing.out, "none.h5")) << missing.out;
  EXPECT_EQ(run("ckpt " + file.string()).code, 2);
  EXPECT_EQ(run("ckpt info").code, 2);
  fs::remove_all(dir);
}

}  // namespace
