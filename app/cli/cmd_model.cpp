// toolgrpo init-model and toolgrpo generate: create a Hugging Face-style model directory with random weights,
// and sample from a model directory with the KV-cache engine.
#include <ATen/Parallel.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "app/train/checkpoint.hpp"
#include "app/train/policy.hpp"
#include "io/checkpoint_file.hpp"
#include "io/dataset.hpp"
#include "model/bpe_tokenizer.hpp"
#include "model/bpe_train.hpp"
#include "model/byte_tokenizer.hpp"
#include "model/chat_template.hpp"
#include "model/config.hpp"
#include "model/decoder.hpp"
#include "model/generate.hpp"
#include "model/init.hpp"
#include "model/safetensors.hpp"
#include "model/torch_info.hpp"
#include "reward/json.hpp"

namespace fs = std::filesystem;

namespace toolgrpo::app {
namespace {

// Calls fn(row, "FILE:LINE") for every line of a JSON Lines stream; invalid JSON is a UsageError there.
template <class Fn>
void for_each_json_line(std::istream& in, const std::string& source, Fn fn) {
  std::string line;
  std::size_t n = 0;
  reward::JsonParser parser;
  while (std::getline(in, line)) {
    ++n;
    reward::Arena arena;
    reward::JsonError err;
    const reward::Value* v = parser.parse(line, arena, &err);
    const std::string where = source + ":" + std::to_string(n);
    if (v == nullptr) throw UsageError(where + ": invalid JSON (" + err.message + ")");
    fn(*v, where);
  }
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}


}  // namespace

int cmd_init_model(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "init-model",
      "init-model [--arch qwen2|qwen3|llama] [--preset tiny|demo|small|bench|qwen2.5-0.5b] [--tokenizer byte|bpe|PATH "
      "[--tokenizer-data FILE] [--merges N]] [--seed S] --out DIR [--force]",
      "Creates a Hugging Face-style model directory (config.json, model.safetensors, tokenizer.json, "
      "generation_config.json) with seeded random weights and the built-in byte tokenizer (256 byte tokens plus "
      "the ChatML and ToolRL special tokens), or with --tokenizer bpe a byte-level BPE vocabulary learned from "
      "the ToolRL rows of --tokenizer-data (their ChatML prompts and ground truths): letters merge only with "
      "letters and punctuation only with punctuation, so every frequent word is one token wherever it stands "
      "and a model copies words from a request into a call token by token. With --tokenizer PATH (a tokenizer.json "
      "or a Hugging Face directory holding one, e.g. Qwen2.5's) the model gets that tokenizer, its vocabulary "
      "and its end-of-text tokens: a random model in a real model's shape for sizing and benchmarks. The directory is built under a "
      "temporary name and moved into place, so it is never left half-written.",
      {{"--arch", "ARCH", "architecture: qwen2 (default), qwen3 or llama"},
       {"--preset", "NAME", "size: tiny (hidden 64, 2 layers; default), demo (128, 3), small (256, 4), bench (512, 8) or qwen2.5-0.5b (896, 24: Qwen2.5-0.5B's layers, the vocabulary the tokenizer's)"},
       {"--tokenizer", "byte|bpe|PATH", "the built-in byte tokenizer (default), a BPE vocabulary learned from --tokenizer-data, or an existing tokenizer.json (or a directory with one)"},
       {"--tokenizer-data", "FILE", "bpe: ToolRL rows (JSON Lines or JSON) to learn the merges from"},
       {"--merges", "N", "bpe: at most N merges (default 2000); pairs seen once are never merged"},
       {"--seed", "S", "seed of the random weights (default 0)"},
       {"--out", "DIR", "the model directory to create (required)"},
       {"--force", "", "replace DIR when it exists and is not empty"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  const std::string out = cli.get("--out");
  const std::string tokenizer = cli.has("--tokenizer") ? cli.get("--tokenizer") : "byte";
  const bool copied = tokenizer != "byte" && tokenizer != "bpe";  // an existing tokenizer.json
  if (copied && !fs::exists(tokenizer))
    throw UsageError("init-model: --tokenizer must be byte, bpe or an existing tokenizer.json (or a directory "
                     "holding one), got '" + tokenizer + "'");
  if (copied && (cli.has("--tokenizer-data") || cli.has("--merges")))
    throw UsageError("init-model: --tokenizer-data and --merges go with --tokenizer bpe");
  if (tokenizer == "bpe" && !cli.has("--tokenizer-data"))
    throw UsageError("init-model: --tokenizer bpe needs --tokenizer-data FILE (ToolRL rows to learn the merges from)");
  if (tokenizer == "byte" && (cli.has("--tokenizer-data") || cli.has("--merges")))
    throw UsageError("init-model: --tokenizer-data and --merges go with --tokenizer bpe");
  std::string tokenizer_json = model::ByteTokenizer().to_tokenizer_json();
  int64_t tokens = model::ByteTokenizer().vocab_size(), merges = 0;
  if (tokenizer == "bpe") {
    model::BpeTrainOptions bo;
    if (cli.has("--merges")) bo.max_merges = cli.get_int("--merges", 0);
    io::Dataset data;
    try {
      data = io::dataset_load(cli.get("--tokenizer-data"));
    } catch (const std::exception& e) {
      throw UsageError(std::string("init-model: --tokenizer-data: ") + e.what());
    }
    std::vector<std::string> texts;
    for (const io::ToolRLRow& r : data.rows)
      texts.push_back(model::render_chatml(r.system, r.user) + r.ground_truth + "<|im_end|>");
    const model::BpeTrained t = model::bpe_train(texts, bo);
    tokenizer_json = t.tokenizer_json;
    tokens = t.vocab_size;
    merges = t.merges;
  }
  int64_t bos = model::ByteTokenizer::kEndOfText;  // the byte and learned tokenizers' special tokens
  std::vector<int64_t> eos = {model::ByteTokenizer::kEndOfText, model::ByteTokenizer::kImEnd};
  if (copied) {
    const std::string file = fs::is_directory(tokenizer) ? tokenizer + "/tokenizer.json" : tokenizer;
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) throw UsageError("init-model: cannot read " + file);
    tokenizer_json = text.str();
    const std::unique_ptr<model::BpeTokenizer> t = model::BpeTokenizer::parse(tokenizer_json, file);
    tokens = t->vocab_size();
    eos.clear();
    bos = -1;
    for (const char* name : {"<|endoftext|>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>"})
      if (const int64_t id = t->token_id(name); id >= 0) eos.push_back(id);
    for (const char* name : {"<|begin_of_text|>", "<|endoftext|>"})
      if (const int64_t id = t->token_id(name); id >= 0 && bos < 0) bos = id;
    if (eos.empty())
      throw UsageError("init-model: " + file + " has none of the end-of-text tokens <|endoftext|>, <|im_end|>, "
                       "<|end_of_text|>, <|eot_id|>: a model could not end a sample");
  }
  const int64_t vocab = (tokens + 63) / 64 * 64;  // padded to a multiple of 64
  model::ModelConfig cfg;
  try {
    cfg = model::model_preset(cli.has("--arch") ? cli.get("--arch") : "qwen2", cli.has("--preset") ? cli.get("--preset") : "tiny",
                              vocab);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("init-model: ") + e.what());
  }
  cfg.bos_token_id = bos;
  cfg.eos_token_ids = eos;
  const uint64_t seed = cli.has("--seed") ? static_cast<uint64_t>(cli.get_int("--seed", 0)) : 0;
  if (rt.rank() != 0) return 0;
  if (fs::exists(out) && !fs::is_empty(out) && !cli.has("--force"))
    throw UsageError("init-model: " + out + " exists and is not empty (pass --force to overwrite)");
  // Build in a sibling temporary directory, then move it into place: no half-written model directory.
  const fs::path tmp = out + ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const int64_t n = model::parameter_count(cfg);
  try {
    const model::DecoderWeights w = model::decoder_weights_random(cfg, seed);
    const auto params = model::decoder_named_parameters(cfg, w);
    model::safetensors_save((tmp / "model.safetensors").string(), params);
    write_text(tmp / "config.json", model::model_config_to_json(cfg));
    write_text(tmp / "tokenizer.json", tokenizer_json);
    std::string eos_list;
    for (const int64_t id : eos) eos_list += (eos_list.empty() ? "" : ", ") + std::to_string(id);
    write_text(tmp / "generation_config.json", "{\n  \"bos_token_id\": " + std::to_string(bos) +
                                                   ",\n  \"eos_token_id\": [" + eos_list +
                                                   "],\n  \"pad_token_id\": " + std::to_string(eos[0]) + "\n}\n");
    if (fs::exists(out)) fs::remove_all(out);
    fs::rename(tmp, out);
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  const std::string tok_text = tokenizer == "byte" ? "byte tokenizer"
                               : copied            ? "tokenizer of " + tokenizer
                                                   : "BPE tokenizer, " + std::to_string(merges) + " merges";
  std::printf("init-model: %s %s, %lld parameters, %s (vocab %lld), seed %llu -> %s\n", cfg.architecture.c_str(),
              cli.has("--preset") ? cli.get("--preset").c_str() : "tiny", static_cast<long long>(n), tok_text.c_str(),
              static_cast<long long>(vocab), static_cast<unsigned long long>(seed), out.c_str());
  return 0;
}

int cmd_generate(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "generate",
      "generate --model DIR|FILE (--prompt TEXT [--chatml] | --prompts FILE.jsonl [--chat-template NAME] | "
      "--input-ids FILE.jsonl) [--greedy] [--max-new-tokens N] [--group-size G] [--seed S] [--temperature T] "
      "[--top-p P] [--top-k K] [--stop STRING] [--threads N] [--device cpu|cuda] [--dtype fp32|bf16]",
      "Samples from a Qwen2/Qwen3/Llama model directory with the KV-cache engine: each prompt is prefilled once "
      "and its cache serves its --group-size samples. Sample s of prompt p draws its random numbers from (seed, "
      "p, s, position) only, so it is the same in any batch and with any --threads. Writes one JSON line per "
      "sample to stdout ({prompt, sample, ids, finish, text}); throughput goes to stderr.",
      {{"--model", "DIR|FILE", "a Hugging Face model directory, a checkpoint file or a run directory (required)"},
       {"--prompt", "TEXT", "one prompt, encoded with the directory's tokenizer.json"},
       {"--chatml", "", "wrap --prompt in a ChatML user turn with the assistant generation prompt"},
       {"--prompts", "FILE.jsonl", "rows {\"text\"}, or ToolRL rows {\"system\", \"user\"} via the chat template"},
       {"--chat-template", "NAME", "qwen2.5, qwen3 or llama3 for --prompts (default: from the architecture)"},
       {"--input-ids", "FILE.jsonl", "rows {\"ids\": [...]} of token ids"},
       {"--greedy", "", "take the most likely token instead of sampling"},
       {"--max-new-tokens", "N", "tokens to generate at most per sample (default 64)"},
       {"--group-size", "G", "samples per prompt (default 1)"},
       {"--seed", "S", "sampling seed (default 0)"},
       {"--temperature", "T", "softmax temperature, > 0 (default 1)"},
       {"--top-p", "P", "nucleus sampling mass in (0, 1] (default 1)"},
       {"--top-k", "K", "sample among the K most likely tokens (default 0: all)"},
       {"--stop", "STRING", "end a sample when its decoded text contains STRING"},
       {"--threads", "N", "CPU threads (default: libtorch's)"},
       {"--device", "cpu|cuda", "where to run (default cpu)"},
       {"--dtype", "fp32|bf16", "weight and activation type (default fp32 on cpu, bf16 on cuda)"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  const std::string dir = cli.get("--model");
  // A checkpoint file, or a run directory without a final model yet: its newest checkpoint.
  std::string file;
  std::optional<LoadedCheckpoint> ck;
  if (model_path_kind(dir, file, "generate: --model") == OriginKind::Checkpoint) {
    ck = checkpoint_load(file, false);  // a damaged file: io::CheckpointError, exit 2 naming it
  }
  const model::ModelConfig cfg = ck ? ck->cfg : model::model_config_load(dir);
  std::unique_ptr<model::BpeTokenizer> tok;
  if (ck) tok = model::BpeTokenizer::parse(ck->tokenizer_json, ck->path + ":/meta/tokenizer_json");
  else if (fs::exists(dir + "/tokenizer.json")) tok = model::BpeTokenizer::load(dir);
  model::GenerationRequest req;
  if (cli.has("--input-ids")) {
    std::ifstream in(cli.get("--input-ids"));
    if (!in) throw UsageError("generate: cannot read " + cli.get("--input-ids"));
    for_each_json_line(in, cli.get("--input-ids"), [&](const reward::Value& v, const std::string& where) {
      const reward::Value* ids = v.find("ids");
      if (ids == nullptr || !ids->is_array() || ids->size == 0)
        throw UsageError(where + ": expected {\"ids\": [token ids]}");
      std::vector<int64_t> p;
      for (uint32_t k = 0; k < ids->size; ++k) {
        const reward::Value& x = ids->u.items[k];
        if (x.kind != reward::JsonKind::Int || x.u.i < 0 || x.u.i >= cfg.vocab_size)
          throw UsageError(where + ": ids must be integers in [0, " + std::to_string(cfg.vocab_size) + ")");
        p.push_back(x.u.i);
      }
      req.prompts.push_back(std::move(p));
    });
  } else if (cli.has("--prompt")) {
    if (!tok) throw UsageError("generate: " + dir + " has no tokenizer.json; pass --input-ids");
    const std::string text = cli.get("--prompt");
    req.prompts.push_back(tok->encode(cli.has("--chatml") ? model::render_chatml("", text) : text));
  } else if (cli.has("--prompts")) {
    // {"text": ...} rows as they are, or ToolRL rows {"system", "user"} through the chat template.
    if (!tok) throw UsageError("generate: " + dir + " has no tokenizer.json; pass --input-ids");
    const std::string file = cli.get("--prompts");
    const model::ChatFormat fmt = cli.has("--chat-template") ? model::chat_format_from_name(cli.get("--chat-template"))
                                  : ck ? model::chat_format_from_name(ck->chat_format)
                                  : cfg.arch == model::Arch::Qwen3 ? model::ChatFormat::Qwen3
                                  : cfg.arch == model::Arch::Llama && tok->token_id("<|eot_id|>") >= 0
                                      ? model::ChatFormat::Llama3
                                      : model::ChatFormat::Qwen25;
    std::ifstream in(file);
    if (!in) throw UsageError("generate: cannot read " + file);
    for_each_json_line(in, file, [&](const reward::Value& v, const std::string& where) {
      const reward::Value* text = v.find("text");
      const reward::Value* sys = v.find("system");
      const reward::Value* user = v.find("user");
      if (text && text->is_string()) {
        req.prompts.push_back(tok->encode(text->string()));
      } else if (sys && user && sys->is_string() && user->is_string()) {
        req.prompts.push_back(
            tok->encode(model::render_toolrl_prompt(fmt, std::string(sys->string()), std::string(user->string()))));
      } else {
        throw UsageError(where + ": expected {\"text\"} or {\"system\", \"user\"}");
      }
    });
  } else {
    throw UsageError("generate: pass --prompt TEXT, --prompts FILE.jsonl or --input-ids FILE.jsonl");
  }
  if (req.prompts.empty()) throw UsageError("generate: no prompts");
  req.group_size = cli.has("--group-size") ? cli.get_int("--group-size", 1) : 1;
  req.seed = cli.has("--seed") ? static_cast<uint64_t>(cli.get_int("--seed", 0)) : 0;
  req.sampling.greedy = cli.has("--greedy");
  req.sampling.max_new_tokens = cli.has("--max-new-tokens") ? cli.get_int("--max-new-tokens", 1) : 64;
  if (cli.has("--temperature")) req.sampling.temperature = cli.get_double("--temperature");
  if (cli.has("--top-p")) req.sampling.top_p = cli.get_double("--top-p");
  if (cli.has("--top-k")) req.sampling.top_k = cli.get_int("--top-k", 0);
  if (!(req.sampling.temperature > 0)) throw UsageError("generate: --temperature must be > 0");
  if (!(req.sampling.top_p > 0 && req.sampling.top_p <= 1)) throw UsageError("generate: --top-p must be in (0, 1]");
  req.sampling.eos_token_ids = cfg.eos_token_ids;
  if (cli.has("--stop")) {
    if (!tok) throw UsageError("generate: --stop needs the model's tokenizer.json");
    req.sampling.stop_strings = {cli.get("--stop")};
    const model::BpeTokenizer* t = tok.get();
    req.sampling.decode = [t](const std::vector<int64_t>& ids) { return t->decode(ids); };
  }
  const std::string device_name = cli.has("--device") ? cli.get("--device") : "cpu";
  const std::string dtype_name = cli.has("--dtype") ? cli.get("--dtype") : (device_name == "cuda" ? "bf16" : "fp32");
  if (device_name != "cpu" && device_name != "cuda") throw UsageError("generate: --device must be cpu or cuda");
  if (dtype_name != "fp32" && dtype_name != "bf16") throw UsageError("generate: --dtype must be fp32 or bf16");
  if (device_name == "cuda" && !model::cuda_available())
    throw UsageError("generate: --device cuda, but this build of libtorch sees no CUDA device");
  const at::Device device = device_name == "cuda" ? at::Device(at::kCUDA, rt.local_rank() % std::max(1, model::cuda_device_count()))
                                                  : at::Device(at::kCPU);
  const at::ScalarType dtype = dtype_name == "bf16" ? at::kBFloat16 : at::kFloat;
  const int threads = cli.has("--threads") ? static_cast<int>(cli.get_int("--threads", 1)) : at::get_num_threads();
  model::cpu_threads_set(threads);
  req.workers = threads;
  if (rt.rank() != 0) return 0;

  const model::DecoderWeights w =
      ck ? model::decoder_weights_from(
               cfg,
               [&, named = model::decoder_named_parameters(cfg, ck->weights)](const std::string& name) {
                 for (const auto& [n, t] : named)
                   if (n == name) return std::make_pair(t.to(dtype), ck->path);
                 throw UsageError("generate: " + ck->path + " has no tensor model/" + name);
               },
               device)
         : model::decoder_weights_load(cfg, dir, dtype, device);
  const auto t0 = std::chrono::steady_clock::now();
  const model::GenerationResult r = model::generate(cfg, w, req);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t N = r.tokens.size(0);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t len = r.lengths[static_cast<std::size_t>(i)];
    const at::Tensor row = r.tokens[i].narrow(0, 0, len).contiguous();
    const std::vector<int64_t> ids(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + len);
    std::string line = "{\"prompt\": " + std::to_string(i / req.group_size) +
                       ", \"sample\": " + std::to_string(i % req.group_size) + ", \"ids\": [";
    for (std::size_t k = 0; k < ids.size(); ++k) line += (k ? ", " : "") + std::to_string(ids[k]);
    line += "], \"finish\": \"";
    const model::FinishReason why = r.finish[static_cast<std::size_t>(i)];
    line += why == model::FinishReason::Eos ? "eos" : why == model::FinishReason::Stop ? "stop" : "length";
    line += "\"";
    if (tok) {
      line += ", \"text\": ";
      reward::json_append_string(line, tok->decode(ids));
    }
    line += "}\n";
    std::fputs(line.c_str(), stdout);
  }
  std::fprintf(stderr,
               "generate: %lld samples, %lld new tokens in %.3f s: prefill %.0f tok/s, decode %.0f tok/s\n",
               static_cast<long long>(N), static_cast<long long>(r.decode_tokens), wall,
               r.prefill_tokens / std::max(r.prefill_seconds, 1e-9), r.decode_tokens / std::max(r.decode_seconds, 1e-9));
  return 0;
}

int cmd_tokenize(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "tokenize",
      "tokenize --tokenizer DIR|FILE|byte [--in FILE.jsonl] [--decode]",
      "Encodes JSON Lines rows {\"text\": ...} (from stdin or --in) into rows {\"ids\": [...]} on stdout with a "
      "byte-level BPE tokenizer.json (Qwen2/2.5/3, Llama-3, or the built-in byte tokenizer); with --decode, rows "
      "{\"ids\"} become {\"text\"}. Output appears only when every row is valid.",
      {{"--tokenizer", "DIR|FILE|byte", "a tokenizer.json, a directory with one, or byte (built-in; required)"},
       {"--in", "FILE.jsonl", "input rows (default: stdin)"},
       {"--decode", "", "decode ids to text instead of encoding"}},
      {},
      ""};
  const CliArgs cli(args, spec);
  const std::string where = cli.get("--tokenizer");
  std::unique_ptr<model::BpeTokenizer> tok;
  if (where == "byte") {
    tok = model::BpeTokenizer::parse(model::ByteTokenizer().to_tokenizer_json(), "built-in byte tokenizer");
  } else {
    tok = model::BpeTokenizer::load(where);
  }
  if (rt.rank() != 0) return 0;
  std::ifstream file;
  const std::string source = cli.has("--in") ? cli.get("--in") : "<stdin>";
  if (cli.has("--in")) {
    file.open(source);
    if (!file) throw UsageError("tokenize: cannot read " + source);
  }
  std::istream& in = cli.has("--in") ? static_cast<std::istream&>(file) : std::cin;
  // Buffered in memory so that a bad line leaves no partial output behind.
  std::string out;
  for_each_json_line(in, source, [&](const reward::Value& v, const std::string& where) {
    if (cli.has("--decode")) {
      const reward::Value* ids = v.find("ids");
      if (ids == nullptr || !ids->is_array()) throw UsageError(where + ": expected {\"ids\": [...]}");
      std::vector<int64_t> x;
      for (uint32_t k = 0; k < ids->size; ++k) {
        if (ids->u.items[k].kind != reward::JsonKind::Int) throw UsageError(where + ": ids must be integers");
        x.push_back(ids->u.items[k].u.i);
      }
      out += "{\"text\": ";
      reward::json_append_string(out, tok->decode(x));
      out += "}\n";
      return;
    }
    const reward::Value* text = v.find("text");
    if (text == nullptr || !text->is_string()) throw UsageError(where + ": expected {\"text\": \"...\"}");
    const auto ids = tok->encode(text->string());
    out += "{\"ids\": [";
    for (std::size_t k = 0; k < ids.size(); ++k) out += (k ? ", " : "") + std::to_string(ids[k]);
    out += "]}\n";
  });
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace toolgrpo::app
