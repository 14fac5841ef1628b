// libFuzzer target over the chat templates with adversarial messages and tools, and the Python json.dumps
// emulation they use. Input: [flags byte] JSON {"messages": [...], "tools": [...]} (anything else too). Every
// chat format renders it or refuses it with an exception (a clear error), never a crash; every string in the
// input, written by python_json_dumps, reads back as the same string.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "model/chat_template.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::model;
using toolgrpo::fuzz::require;

namespace {

void strings_round_trip(const nlohmann::ordered_json& j, int depth) {
  if (depth > 64) return;
  if (j.is_string()) {
    const nlohmann::ordered_json back = nlohmann::ordered_json::parse(python_json_dumps(j), nullptr, false);
    require(!back.is_discarded() && back == j);
  } else if (j.is_structured()) {
    for (const auto& v : j) strings_round_trip(v, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const auto j = nlohmann::ordered_json::parse(data + 1, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  strings_round_trip(j, 0);
  const nlohmann::ordered_json messages = j.is_object() && j.contains("messages") ? j["messages"] : j;
  const nlohmann::ordered_json tools = j.is_object() && j.contains("tools") ? j["tools"] : nlohmann::ordered_json();
  for (ChatFormat f : {ChatFormat::Qwen25, ChatFormat::Qwen3, ChatFormat::Llama3}) {
    ChatRender opt;
    opt.format = f;
    opt.add_generation_prompt = flags & 1;
    if (flags & 2) opt.enable_thinking = (flags & 4) != 0;
    try {
      (void)render_chat(opt, messages, tools);
    } catch (const std::exception&) {
    }
  }
  if (j.is_object() && j.contains("system") && j["system"].is_string() && j.contains("user") && j["user"].is_string())
    for (ChatFormat f : {ChatFormat::Qwen25, ChatFormat::Qwen3, ChatFormat::Llama3})
      (void)render_toolrl_prompt(f, j["system"].get<std::string>(), j["user"].get<std::string>());
  return 0;
}
