// Tokenizer throughput: MB/s encoding the ToolRL prompts (system + user + ground truth of every row of
// shared/data/toolrl/*.jsonl) on one core, for each tokenizer.json in shared/data/tokenizers. A fresh tokenizer
// per figure (cold word cache) and a second pass (warm cache) are both printed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_cli.hpp"
#include "model/bpe_tokenizer.hpp"

int main(int argc, char** argv) {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  std::string shared = env ? env : TOOLGRPO_DEFAULT_SHARED_DATA;
  const int done = toolgrpo::bench::bench_options(
      argc, argv, "bench_tokenizer",
      "Encodes the system, user and ground-truth texts of the ToolRL rows on one core with the Qwen3 and "
      "Llama-3 tokenizer.json files; prints MB/s with a fresh word cache (cold) and a second pass (warm). BLAS "
      "is not used.",
      {{"--data", "DIR", "the shared data directory (default $TOOLGRPO_SHARED_DATA or the build's)",
        toolgrpo::bench::to_text(shared)}});
  if (done >= 0) return done;
  std::vector<std::string> texts;
  std::size_t bytes = 0;
  for (const char* f : {"sft.jsonl", "test.jsonl"}) {
    std::ifstream in(shared + "/toolrl/" + f);
    std::string line;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      for (const char* k : {"system", "user", "ground_truth"}) {
        texts.push_back(j[k].get<std::string>());
        bytes += texts.back().size();
      }
    }
  }
  for (const char* name : {"qwen3", "llama3"}) {
    const auto tok = toolgrpo::model::BpeTokenizer::load(shared + "/tokenizers/" + name);
    for (const char* pass : {"cold", "warm"}) {
      std::size_t ids = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto& t : texts) ids += tok->encode(t).size();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("tokenizer.%s.%s: %.2f MB/s (%.1f MB, %zu texts, %zu ids, %.3f s)\n", name, pass,
                  bytes / s / 1e6, bytes / 1e6, texts.size(), ids, s);
    }
  }
  return 0;
}
