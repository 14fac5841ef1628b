// Chat template rendering; see chat_template.hpp. Each function follows its Jinja template statement by
// statement.
#include "model/chat_template.hpp"

#include "common/text.hpp"
#include "common/name_table.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace toolgrpo::model {
namespace {

using ojson = nlohmann::ordered_json;

void dump(std::string& out, const ojson& x) {
  switch (x.type()) {
    case ojson::value_t::null: out += "null"; break;
    case ojson::value_t::boolean: out += x.get<bool>() ? "true" : "false"; break;
    case ojson::value_t::number_integer: out += std::to_string(x.get<int64_t>()); break;
    case ojson::value_t::number_unsigned: out += std::to_string(x.get<uint64_t>()); break;
    case ojson::value_t::number_float: {
      const double d = x.get<double>();
      if (std::isnan(d)) { out += "NaN"; break; }
      if (std::isinf(d)) { out += d > 0 ? "Infinity" : "-Infinity"; break; }
      char buf[64];
      const double a = std::fabs(d);
      const auto r = (a != 0.0 && (a < 1e-4 || a >= 1e16)) ? std::to_chars(buf, buf + 64, d, std::chars_format::scientific)
                                                           : std::to_chars(buf, buf + 64, d, std::chars_format::fixed);
      std::string s(buf, r.ptr);
      if (s.find_first_of(".e") == std::string::npos) s += ".0";
      out += s;
      break;
    }
    case ojson::value_t::string:  // as json.dumps(..., ensure_ascii=False) writes it
      common::json_dumps_string(out, x.get_ref<const std::string&>(), /*ensure_ascii=*/false);
      break;
    case ojson::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : x) {
        if (!first) out += ", ";
        first = false;
        dump(out, e);
      }
      out.push_back(']');
      break;
    }
    case ojson::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, v] : x.items()) {
        if (!first) out += ", ";
        first = false;
        common::json_dumps_string(out, k, /*ensure_ascii=*/false);
        out += ": ";
        dump(out, v);
      }
      out.push_back('}');
      break;
    }
    default: throw std::invalid_argument("python_json_dumps: unsupported value");
  }
}

std::string str(const ojson& m, const char* key) {
  const auto it = m.find(key);
  if (it == m.end() || it->is_null()) return "";
  if (!it->is_string()) throw std::invalid_argument(std::string("chat message field \"") + key + "\" must be a string");
  return it->get<std::string>();
}

bool truthy_list(const ojson& m, const char* key) {
  const auto it = m.find(key);
  return it != m.end() && it->is_array() && !it->empty();
}

// Python str.strip(chars) / lstrip / rstrip for a set of ASCII characters.
std::string strip_chars(const std::string& s, const std::string& chars, bool left, bool right) {
  std::size_t b = 0, e = s.size();
  if (left) while (b < e && chars.find(s[b]) != std::string::npos) ++b;
  if (right) while (e > b && chars.find(s[e - 1]) != std::string::npos) --e;
  return s.substr(b, e - b);
}

// Jinja's trim filter: Python str.strip() (Unicode whitespace).
std::string py_trim(const std::string& s) {
  const auto space_at = [&](std::size_t i) -> std::size_t {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
    if (c == 0xC2 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) == 0x85 || static_cast<unsigned char>(s[i + 1]) == 0xA0)) return 2;
    if (i + 2 < s.size()) {
      const unsigned char c1 = static_cast<unsigned char>(s[i + 1]), c2 = static_cast<unsigned char>(s[i + 2]);
      if (c == 0xE1 && c1 == 0x9A && c2 == 0x80) return 3;
      if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) return 3;
      if (c == 0xE2 && c1 == 0x80 && ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF)) return 3;
      if (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) return 3;
    }
    return 0;
  };
  std::size_t b = 0, e = s.size();
  while (b < e) {
    const std::size_t k = space_at(b);
    if (!k) break;
    b += k;
  }
  while (e > b) {
    std::size_t k = 0;
    for (std::size_t len = 1; len <= 3 && len <= e - b && !k; ++len)
      if (space_at(e - len) == len) k = len;
    if (!k) break;
    e -= k;
  }
  return s.substr(b, e - b);
}

const char* kToolsIntro =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with "
    "function signatures within <tools></tools> XML tags:\n<tools>";
const char* kToolsOutro =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call><|im_end|>\n";

void tools_block(std::string& out, const ojson& tools) {
  out += kToolsIntro;
  for (const auto& t : tools) {
    out += "\n";
    out += python_json_dumps(t);
  }
  out += kToolsOutro;
}

const ojson& function_of(const ojson& tc) {
  const auto it = tc.find("function");
  return it != tc.end() && !it->is_null() ? *it : tc;
}

void tool_message(std::string& out, const ojson& messages, std::size_t i) {
  if (i == 0 || str(messages[i - 1], "role") != "tool") out += "<|im_start|>user";
  out += "\n<tool_response>\n" + str(messages[i], "content") + "\n</tool_response>";
  if (i + 1 == messages.size() || str(messages[i + 1], "role") != "tool") out += "<|im_end|>\n";
}

std::string render_qwen25(const ChatRender& opt, const ojson& messages, const ojson& tools) {
  std::string out;
  const bool has_tools = tools.is_array() && !tools.empty();
  const bool first_system = !messages.empty() && str(messages[0], "role") == "system";
  if (has_tools) {
    out += "<|im_start|>system\n";
    out += first_system ? str(messages[0], "content") : "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    out += "\n\n";
    tools_block(out, tools);
  } else if (first_system) {
    out += "<|im_start|>system\n" + str(messages[0], "content") + "<|im_end|>\n";
  } else {
    out += "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n";
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ojson& m = messages[i];
    const std::string role = str(m, "role");
    if (role == "user" || (role == "system" && i != 0) || (role == "assistant" && !truthy_list(m, "tool_calls"))) {
      out += "<|im_start|>" + role + "\n" + str(m, "content") + "<|im_end|>\n";
    } else if (role == "assistant") {
      out += "<|im_start|>" + role;
      const std::string content = str(m, "content");
      if (!content.empty()) out += "\n" + content;
      for (const auto& tc : m["tool_calls"]) {
        const ojson& f = function_of(tc);
        out += "\n<tool_call>\n{\"name\": \"" + f.value("name", std::string()) + "\", \"arguments\": ";
        out += python_json_dumps(f.contains("arguments") ? f["arguments"] : ojson());
        out += "}\n</tool_call>";
      }
      out += "<|im_end|>\n";
    } else if (role == "tool") {
      tool_message(out, messages, i);
    }
  }
  if (opt.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_qwen3(const ChatRender& opt, const ojson& messages, const ojson& tools) {
  std::string out;
  const bool has_tools = tools.is_array() && !tools.empty();
  const bool first_system = !messages.empty() && str(messages[0], "role") == "system";
  if (has_tools) {
    out += "<|im_start|>system\n";
    if (first_system) out += str(messages[0], "content") + "\n\n";
    tools_block(out, tools);
  } else if (first_system) {
    out += "<|im_start|>system\n" + str(messages[0], "content") + "<|im_end|>\n";
  }
  // The last user query that is not a wrapped tool response.
  bool multi_step_tool = true;
  std::size_t last_query = messages.empty() ? 0 : messages.size() - 1;
  for (std::size_t k = messages.size(); k-- > 0;) {
    const std::string c = str(messages[k], "content");
    const bool wrapped = c.rfind("<tool_response>", 0) == 0 && c.size() >= 16 &&
                         c.compare(c.size() - 16, 16, "</tool_response>") == 0;
    if (multi_step_tool && str(messages[k], "role") == "user" && !wrapped) {
      multi_step_tool = false;
      last_query = k;
    }
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ojson& m = messages[i];
    const std::string role = str(m, "role");
    if (role == "user" || (role == "system" && i != 0)) {
      out += "<|im_start|>" + role + "\n" + str(m, "content") + "<|im_end|>\n";
    } else if (role == "assistant") {
      std::string content = str(m, "content"), reasoning;
      if (m.contains("reasoning_content") && !m["reasoning_content"].is_null()) {
        reasoning = str(m, "reasoning_content");
      } else if (content.find("</think>") != std::string::npos) {
        const std::size_t last_close = content.rfind("</think>");
        const std::string before = content.substr(0, content.find("</think>"));
        content = strip_chars(content.substr(last_close + 8), "\n", true, false);
        const std::string r = strip_chars(before, "\n", false, true);
        const std::size_t open = r.rfind("<think>");
        reasoning = strip_chars(open == std::string::npos ? r : r.substr(open + 7), "\n", true, false);
      }
      const bool last = i + 1 == messages.size();
      if (i > last_query && (last || !reasoning.empty())) {
        out += "<|im_start|>" + role + "\n<think>\n" + strip_chars(reasoning, "\n", true, true) + "\n</think>\n\n" +
               strip_chars(content, "\n", true, false);
      } else {
        out += "<|im_start|>" + role + "\n" + content;
      }
      if (truthy_list(m, "tool_calls")) {
        bool first = true;
        for (const auto& tc : m["tool_calls"]) {
          if ((first && !content.empty()) || !first) out += "\n";
          first = false;
          const ojson& f = function_of(tc);
          out += "<tool_call>\n{\"name\": \"" + f.value("name", std::string()) + "\", \"arguments\": ";
          const ojson args = f.contains("arguments") ? f["arguments"] : ojson();
          out += args.is_string() ? args.get<std::string>() : python_json_dumps(args);
          out += "}\n</tool_call>";
        }
      }
      out += "<|im_end|>\n";
    } else if (role == "tool") {
      tool_message(out, messages, i);
    }
  }
  if (opt.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (opt.enable_thinking.has_value() && !*opt.enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

std::string render_llama3(const ChatRender& opt, const ojson& messages) {
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::string content = "<|start_header_id|>" + str(messages[i], "role") + "<|end_header_id|>\n\n" +
                          py_trim(str(messages[i], "content")) + "<|eot_id|>";
    if (i == 0) content = opt.bos_token + content;
    out += content;
  }
  out += "<|start_header_id|>assistant<|end_header_id|>\n\n";  // this template always adds it
  return out;
}

}  // namespace

std::string python_json_dumps(const nlohmann::ordered_json& x) {
  std::string out;
  dump(out, x);
  return out;
}

namespace {
const common::EnumName<ChatFormat> kChatFormats[] = {
    {ChatFormat::Qwen25, "qwen2.5"}, {ChatFormat::Qwen3, "qwen3"}, {ChatFormat::Llama3, "llama3"}};
}  // namespace

ChatFormat chat_format_from_name(const std::string& name) {
  if (name == "qwen2") return ChatFormat::Qwen25;
  return common::enum_from_name(kChatFormats, name, "chat template");
}
const char* chat_format_name(ChatFormat f) { return common::enum_name(kChatFormats, f); }
std::vector<std::string> chat_format_names() { return common::enum_names(kChatFormats); }

std::string render_chat(const ChatRender& opt, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools) {
  if (!messages.is_array()) throw std::invalid_argument("chat messages must be a list");
  switch (opt.format) {
    case ChatFormat::Qwen25: return render_qwen25(opt, messages, tools);
    case ChatFormat::Qwen3: return render_qwen3(opt, messages, tools);
    case ChatFormat::Llama3: return render_llama3(opt, messages);
  }
  return {};
}

std::string render_toolrl_prompt(ChatFormat format, const std::string& system, const std::string& user) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", user}});
  ChatRender opt;
  opt.format = format;
  return render_chat(opt, messages, nullptr);
}

}  // namespace toolgrpo::model
