// API-Bank and BFCL evaluation data as ToolRL-style prompts; see eval_data.hpp.
#include "reward/eval_data.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "common/input_error.hpp"
#include "reward/pystr.hpp"

namespace toolgrpo::reward {
namespace {

// ToolRL's system prompt around the numbered tool list (the wording of the ToolRL data).
constexpr const char* kSystemHead =
    "You are a helpful multi-turn dialogue assistant capable of leveraging tool calls to solve user tasks "
    "and "
    "provide structured chat responses.\n\n**Available Tools**\nIn your response, you can use the following "
    "tools:\n";
constexpr const char* kSystemTail =
    "\n\n**Steps for Each Turn**\n1. **Think:** Recall relevant context and analyze the current user "
    "goal.\n2. "
    "**Decide on Tool Usage:** If a tool is needed, specify the tool and its parameters.\n3. **Respond "
    "Appropriately:** If a response is needed, generate one while maintaining consistency across user "
    "queries.\n\n**Output Format**\n```plaintext\n<think> Your thoughts and reasoning </think>\n<tool_call>\n"
    "{\"name\": \"Tool name\", \"parameters\": {\"Parameter name\": \"Parameter content\", \"... ...\": "
    "\"... "
    "...\"}}\n{\"name\": \"... ...\", \"parameters\": {\"... ...\": \"... ...\", \"... ...\": \"... ...\"}}\n"
    "...\n</tool_call>\n<response> AI's final response </response>\n```\n\n**Important Notes**\n1. You must "
    "always include the `<think>` field to outline your reasoning. Provide at least one of `<tool_call>` or "
    "`<response>`. Decide whether to use `<tool_call>` (possibly multiple times), `<response>`, or both.\n2. "
    "You can invoke multiple tool calls simultaneously in the `<tool_call>` fields. Each tool call should be "
    "a "
    "JSON object with a \"name\" field and an \"parameters\" field containing a dictionary of parameters. If "
    "no "
    "parameters are needed, leave the \"parameters\" field an empty dictionary.\n3. Refer to the previous "
    "dialogue records in the history, including the user's queries, previous `<tool_call>`, `<response>`, "
    "and "
    "any tool feedback noted as `<obs>` (if exists).";

std::string file_read(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw common::InputError(path + ": cannot read the " + what + " (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Calls f(line_number, line) for each non-blank line.
template <class F>
void lines_each(const std::string& text, F f) {
  std::istringstream in(text);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n)
    if (line.find_first_not_of(" \t\r") != std::string::npos) f(n, line);
}

const Value* string_field(const Value& obj, const char* key) {
  const Value* v = obj.find(key);
  return v != nullptr && v->is_string() ? v : nullptr;
}

// The dialogue as ToolRL's user turn: "**Dialogue Records History**\n<user> ... </user>" with earlier turns;
// system messages go to `system_extra`.
std::string dialogue_render(const Value& question, std::string& system_extra, const std::string& where) {
  if (!question.is_array() || question.size == 0)
    throw common::InputError(where +
                             "\"question\" must be a non-empty list of turns, each a list of "
                             "{role, content}");
  std::string user = "**Dialogue Records History**";
  bool first = true;
  const auto message = [&](const Value& m) {
    const Value* role = string_field(m, "role");
    const Value* content = string_field(m, "content");
    if (role == nullptr || content == nullptr)
      throw common::InputError(where +
                               "each message of \"question\" must be {\"role\": string, \"content\": "
                               "string}");
    const std::string_view r = role->string(), c = content->string();
    std::string text;
    if (r == "system") {
      system_extra += "\n\n" + std::string(c);
      return;
    }
    if (r == "user")
      text = "<user> " + std::string(c) + " </user>";
    else if (r == "assistant")
      text = "<response> " + std::string(c) + " </response>";
    else if (r == "tool")
      text = "<obs> " + std::string(c) + " </obs>";
    else
      throw common::InputError(where + "unknown role \"" + std::string(r) +
                               "\" (expected user, assistant, "
                               "tool or system)");
    user += (first ? "\n" : "\n\n") + text;
    first = false;
  };
  for (uint32_t t = 0; t < question.size; ++t) {
    const Value& turn = question.u.items[t];
    if (turn.is_object()) {
      message(turn);
    } else if (turn.is_array()) {
      for (uint32_t k = 0; k < turn.size; ++k) message(turn.u.items[k]);
    } else {
      throw common::InputError(where + "each turn of \"question\" must be a list of {role, content}");
    }
  }
  return user;
}

}  // namespace

std::string bfcl_system_prompt(const Value& functions) {
  std::string s = kSystemHead;
  for (uint32_t i = 0; i < functions.size; ++i) {
    const Value& f = functions.u.items[i];
    const Value* name = f.find("name");
    const Value* desc = f.find("description");
    const Value* params = f.find("parameters");
    s += (i ? "\n" : "") + std::to_string(i + 1) + ". Name: " + std::string(name ? name->string() : "") +
         "\nDescription: " + (desc && desc->is_string() ? std::string(desc->string()) : "") +
         "\nParameters: " + (params ? json_dumps(*params) : "{}");
  }
  return s + kSystemTail;
}

std::vector<EvalPrompt> apibank_load(const std::string& path) {
  const std::string text = file_read(path, "API-Bank data");
  JsonParser parser;
  Arena arena(1 << 16);
  JsonError err;
  const Value* all = parser.parse(text, arena, &err);
  if (all == nullptr)
    throw common::InputError(path + ": not JSON (" + err.message + " at byte " + std::to_string(err.offset) +
                             ")");
  if (!all->is_array() || all->size == 0)
    throw common::InputError(path + ": expected a non-empty JSON list of {system, user, answer, other}");
  std::vector<EvalPrompt> rows;
  for (uint32_t k = 0; k < all->size; ++k) {
    const Value& e = all->u.items[k];
    const std::string at = path + ": element " + std::to_string(k) + ": ";
    if (!e.is_object()) throw common::InputError(at + "expected an object {system, user, answer, other}");
    const Value* system = string_field(e, "system");
    const Value* user = string_field(e, "user");
    if (system == nullptr) throw common::InputError(at + "field \"system\" must be a string");
    if (user == nullptr) throw common::InputError(at + "field \"user\" must be a string");
    const Value* answer = e.find("answer");
    if (answer != nullptr && answer->is_array() && answer->size == 1) answer = &answer->u.items[0];
    const Value* name = answer ? string_field(*answer, "name") : nullptr;
    const Value* params = answer ? answer->find("parameters") : nullptr;
    if (name == nullptr || (params != nullptr && !params->is_object()))
      throw common::InputError(at +
                               "field \"answer\" must be a call {\"name\": string, \"parameters\": "
                               "object} or a one-element list of one");
    std::string gt = "<think> </think>\n<tool_call>\n{\"name\": ";
    json_append_string(gt, name->string());
    gt += ", \"parameters\": " + (params ? json_dumps(*params) : std::string("{}")) + "}\n</tool_call>";
    rows.push_back({std::to_string(k), std::string(system->string()), std::string(user->string()), gt});
  }
  return rows;
}

std::vector<BfclQuestion> bfcl_load(const std::string& questions, const std::string& answers) {
  JsonParser parser;
  Arena arena(1 << 16);
  std::map<std::string, std::pair<std::string, std::size_t>> truths;  // id -> (ground_truth JSON, line)
  if (!answers.empty()) {
    lines_each(file_read(answers, "BFCL possible answers"), [&](std::size_t n, const std::string& line) {
      const std::string at = answers + ":" + std::to_string(n) + ": ";
      arena.reset();
      JsonError err;
      const Value* v = parser.parse(line, arena, &err);
      if (v == nullptr) throw common::InputError(at + "not JSON (" + err.message + ")");
      const Value* id = v->is_object() ? string_field(*v, "id") : nullptr;
      const Value* gt = v->is_object() ? v->find("ground_truth") : nullptr;
      if (id == nullptr || gt == nullptr)
        throw common::InputError(at + "expected an object {\"id\": string, \"ground_truth\": [...]}");
      const std::string key(id->string());
      if (const auto seen = truths.find(key); seen != truths.end())
        throw common::InputError(at + "id \"" + key + "\" appears again (first on line " +
                                 std::to_string(seen->second.second) + ")");
      truths[key] = {json_dumps(*gt), n};
    });
  }
  std::vector<BfclQuestion> out;
  std::map<std::string, std::size_t> seen;  // id -> line
  lines_each(file_read(questions, "BFCL questions"), [&](std::size_t n, const std::string& line) {
    const std::string at = questions + ":" + std::to_string(n) + ": ";
    arena.reset();
    JsonError err;
    const Value* v = parser.parse(line, arena, &err);
    if (v == nullptr) throw common::InputError(at + "not JSON (" + err.message + ")");
    if (!v->is_object()) throw common::InputError(at + "expected an object {id, question, function}");
    const Value* id = string_field(*v, "id");
    const Value* question = v->find("question");
    const Value* functions = v->find("function");
    if (id == nullptr) throw common::InputError(at + "field \"id\" must be a string");
    if (question == nullptr || functions == nullptr)
      throw common::InputError(at + "expected fields \"question\" and \"function\"");
    const std::string key(id->string());
    if (const auto s = seen.find(key); s != seen.end())
      throw common::InputError(at + "id \"" + key + "\" appears again (first on line " +
                               std::to_string(s->second) + ")");
    seen[key] = n;
    std::string truth;
    std::size_t truth_line = 0;
    if (!answers.empty()) {
      const auto t = truths.find(key);
      if (t == truths.end())
        throw common::InputError(at + "question \"" + key + "\" has no possible-answer row in " + answers);
      truth = t->second.first;
      truth_line = t->second.second;
    }
    const std::string answer_at = answers + ":" + std::to_string(truth_line) + ": id \"" + key + "\": ";
    try {
      BfclCase check(json_dumps(*functions), truth, key);
      std::string system_extra;
      std::string user = dialogue_render(*question, system_extra, at);
      std::string system = bfcl_system_prompt(check.functions()) + system_extra;
      std::string gt = check.toolrl_text();
      std::vector<std::string> warnings;
      for (const std::string& w : check.warnings()) warnings.push_back(answer_at + w);
      out.push_back({{key, std::move(system), std::move(user), std::move(gt)},
                     std::move(check),
                     n,
                     std::move(warnings)});
    } catch (const BfclDataError& e) {
      if (e.in_answers) throw common::InputError(answer_at + e.what());
      throw common::InputError(at + e.what());
    }
  });
  if (out.empty()) throw common::InputError(questions + ": no questions");
  return out;
}

}  // namespace toolgrpo::reward
