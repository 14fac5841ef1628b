// Chat templates against the reference renders of ../shared/data/fixtures/tokenizer/*/chat.jsonl: every case
// text-identical, and its ids identical through the BPE tokenizer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/bpe_tokenizer.hpp"
#include "model/chat_template.hpp"

namespace toolgrpo::model {
namespace {

std::string shared() {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  return env ? env : TOOLGRPO_DEFAULT_SHARED_DATA;
}

class ChatFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(ChatFixture, RendersExactly) {
  const auto tok = BpeTokenizer::load(shared() + "/tokenizers/" + GetParam());
  std::ifstream in(shared() + "/fixtures/tokenizer/" + GetParam() + "/chat.jsonl");
  std::string line;
  int n = 0, bad = 0;
  while (std::getline(in, line)) {
    const auto r = nlohmann::ordered_json::parse(line);
    ChatRender opt;
    opt.format = chat_format_from_name(r["template"].get<std::string>());
    opt.add_generation_prompt = r["add_generation_prompt"].get<bool>();
    if (r["template_kwargs"].contains("enable_thinking")) opt.enable_thinking = r["template_kwargs"]["enable_thinking"].get<bool>();
    const std::string got = render_chat(opt, r["messages"], r["tools"]);
    const std::string want = r["rendered"].get<std::string>();
    if (got != want && ++bad <= 3) {
      std::size_t k = 0;
      while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
      ADD_FAILURE() << GetParam() << " case " << n << " differs at " << k << ":\n got: "
                    << got.substr(k > 40 ? k - 40 : 0, 120) << "\nwant: " << want.substr(k > 40 ? k - 40 : 0, 120);
    }
    EXPECT_EQ(tok->encode(got), r["ids"].get<std::vector<int64_t>>()) << n;
    ++n;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_GE(n, 30);
  std::printf("[chat] %s: %d renders, %d mismatches\n", GetParam(), n, bad);
}

INSTANTIATE_TEST_SUITE_P(Templates, ChatFixture, ::testing::Values("qwen2.5", "qwen3", "llama3"));

TEST(ChatTemplate, ToolRLPromptAndPythonJson) {
  EXPECT_EQ(render_toolrl_prompt(ChatFormat::Qwen25, "S", "U"),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(python_json_dumps(nlohmann::ordered_json::parse(R"({"b": [1, 2.5, "é"], "a": null})")),
            "{\"b\": [1, 2.5, \"é\"], \"a\": null}");
  EXPECT_THROW(chat_format_from_name("mistral"), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::model
