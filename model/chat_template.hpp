// Chat templates of Qwen2.5, Qwen3 and Llama-3 (the chat_template strings of their tokenizer_config.json),
// rendered in C++ to the same text as the reference Jinja renderer, tools and tool calls included.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/choices.hpp"

namespace toolgrpo::model {

// ChatFormat and its names (qwen2.5 | qwen3 | llama3; "qwen2" read as qwen2.5): model/choices.hpp.

struct ChatRender {
  ChatFormat format = ChatFormat::Qwen25;
  bool add_generation_prompt = true;
  std::optional<bool> enable_thinking;  // Qwen3 only; unset = the template's default
  std::string bos_token = "<|begin_of_text|>";  // Llama-3
};

// messages: [{"role", "content", optional "tool_calls": [{"type", "function": {"name", "arguments"}}],
// optional "reasoning_content"}]; tools: a list of JSON-schema function descriptions, or null.
std::string render_chat(const ChatRender& opt, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools);

// A ToolRL row (system + user) with the assistant generation prompt.
std::string render_toolrl_prompt(ChatFormat format, const std::string& system, const std::string& user);

// Python json.dumps(x, ensure_ascii=False) with default separators, keys in their stored order.
std::string python_json_dumps(const nlohmann::ordered_json& x);

}  // namespace toolgrpo::model
