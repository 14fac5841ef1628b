// Tool-call parsing and exact matching for evaluation; see call_match.hpp.
#include "reward/call_match.hpp"

#include <stdexcept>

#include "reward/pystr.hpp"
#include "reward/tags.hpp"

namespace toolgrpo::reward {
namespace {

constexpr std::size_t npos = std::string_view::npos;

const Value* name_of(const Value& call) {
  const Value* n = call.find("name");
  return n && n->is_string() ? n : nullptr;
}

// Each element of `want` paired with a distinct equal element of `have` (greedy is exact: equality of calls and
// of names is an equivalence).
template <class Eq>
bool same_multiset(const std::vector<const Value*>& have, const std::vector<const Value*>& want, Eq eq) {
  if (have.size() != want.size()) return false;
  std::vector<bool> used(have.size(), false);
  for (const Value* w : want) {
    bool found = false;
    for (std::size_t i = 0; i < have.size() && !found; ++i)
      if (!used[i] && eq(*have[i], *w)) used[i] = found = true;
    if (!found) return false;
  }
  return true;
}

// A call's arguments: its "parameters" object (ToolRL, API-Bank), else its "arguments" object; nullptr when
// neither is an object.
const Value* arguments_of(const Value& call) {
  for (const char* key : {"parameters", "arguments"}) {
    const Value* a = call.find(key);
    if (a != nullptr && a->is_object()) return a;
  }
  return nullptr;
}

ArgType arg_type(const Value& v) {
  switch (v.kind) {
    case JsonKind::String:
      return ArgType::String;
    case JsonKind::Int:
    case JsonKind::BigInt:
    case JsonKind::Float:
      return ArgType::Number;
    case JsonKind::Bool:
      return ArgType::Bool;
    default:
      return ArgType::Other;
  }
}

// The arguments of `have` against those of `want` (a call of the same name).
ArgTally arguments_compare(const Value& have, const Value& want) {
  ArgTally t;
  const Value* h = arguments_of(have);
  const Value* w = arguments_of(want);
  if (w != nullptr) {
    for (uint32_t k = 0; k < w->size; ++k) {
      const Member& m = w->u.members[k];
      const auto type = static_cast<std::size_t>(arg_type(m.value));
      ++t.expected[type];
      const Value* got = h != nullptr ? h->find(m.key) : nullptr;
      if (got == nullptr)
        ++t.missing;
      else if (py_item_equal(*got, m.value))
        ++t.correct[type];
    }
  }
  if (h != nullptr)
    for (uint32_t k = 0; k < h->size; ++k) t.extra += w == nullptr || w->find(h->u.members[k].key) == nullptr;
  return t;
}

// Each expected call paired with an unused predicted call of its name, the one with the most equal values
// first (the caller has checked that the names are the same multiset).
ArgTally arguments_tally(const std::vector<const Value*>& have, const std::vector<const Value*>& want) {
  ArgTally total;
  std::vector<bool> used(have.size(), false);
  for (const Value* w : want) {
    std::size_t best = have.size();
    ArgTally best_tally;
    for (std::size_t i = 0; i < have.size(); ++i) {
      if (used[i] || !py_equal(*name_of(*have[i]), *name_of(*w))) continue;
      const ArgTally t = arguments_compare(*have[i], *w);
      if (best == have.size() || t.correct_total() > best_tally.correct_total()) best = i, best_tally = t;
    }
    if (best == have.size()) continue;
    used[best] = true;
    total += best_tally;
  }
  return total;
}

}  // namespace

const char* arg_type_name(ArgType t) {
  switch (t) {
    case ArgType::String:
      return "string";
    case ArgType::Number:
      return "number";
    case ArgType::Bool:
      return "bool";
    case ArgType::Other:
      return "other";
  }
  return "?";
}

int64_t ArgTally::expected_total() const {
  int64_t n = 0;
  for (int64_t e : expected) n += e;
  return n;
}

int64_t ArgTally::correct_total() const {
  int64_t n = 0;
  for (int64_t c : correct) n += c;
  return n;
}

namespace {
double share(int64_t count, int64_t of) {
  return of > 0 ? static_cast<double>(count) / static_cast<double>(of) : 0.0;
}
}  // namespace

double ArgTally::accuracy() const {
  return share(correct_total(), expected_total());
}

double ArgTally::accuracy(ArgType t) const {
  const auto k = static_cast<std::size_t>(t);
  return share(correct[k], expected[k]);
}

ArgTally& ArgTally::operator+=(const ArgTally& o) {
  for (std::size_t k = 0; k < kArgTypes; ++k) expected[k] += o.expected[k], correct[k] += o.correct[k];
  missing += o.missing;
  extra += o.extra;
  return *this;
}

ToolCalls tool_calls_parse(std::string_view text, JsonParser& parser, Arena& arena) {
  ToolCalls out;
  const TagScan t = tag_scan(text);
  if (t.first_tool_open == npos) return out;
  if (t.tool_close_after == npos) {
    out.status = CallsStatus::Unclosed;
    return out;
  }
  std::string_view block;
  tool_block(text, t, block);
  const std::string_view stripped = py_strip(block);
  for (std::size_t start = 0;;) {
    const std::size_t nl = stripped.find('\n', start);
    const std::string_view line = stripped.substr(start, nl == npos ? npos : nl - start);
    const Value* v = parser.parse_borrowed(line, arena);
    if (v == nullptr || !v->is_object() || name_of(*v) == nullptr) {
      out.status = v == nullptr ? CallsStatus::BadJson : CallsStatus::NotACall;
      out.bad_line = out.calls.size();
      out.calls.clear();
      return out;
    }
    out.calls.push_back(v);
    if (nl == npos) break;
    start = nl + 1;
  }
  out.status = CallsStatus::Ok;
  return out;
}

const char* call_error_name(CallError e) {
  switch (e) {
    case CallError::None: return "none";
    case CallError::MissingCall: return "missing_call";
    case CallError::UnexpectedCall: return "unexpected_call";
    case CallError::BrokenCall: return "broken_call";
    case CallError::WrongCount: return "wrong_count";
    case CallError::WrongName: return "wrong_name";
    case CallError::WrongArguments: return "wrong_arguments";
  }
  return "?";
}

CallMatch calls_match(const ToolCalls& predicted, const ToolCalls& expected) {
  if (expected.status != CallsStatus::None && expected.status != CallsStatus::Ok)
    throw std::invalid_argument("calls_match: the expected calls do not parse");
  CallMatch m;
  if (expected.status == CallsStatus::None) {
    m.exact = m.names = predicted.status == CallsStatus::None;
    m.error = m.exact ? CallError::None : CallError::UnexpectedCall;
    return m;
  }
  switch (predicted.status) {
    case CallsStatus::None: m.error = CallError::MissingCall; return m;
    case CallsStatus::Ok: break;
    default: m.error = CallError::BrokenCall; return m;
  }
  m.names = same_multiset(predicted.calls, expected.calls,
                          [](const Value& a, const Value& b) { return py_equal(*name_of(a), *name_of(b)); });
  m.exact = m.names && same_multiset(predicted.calls, expected.calls, py_item_equal);
  if (m.names) m.args = arguments_tally(predicted.calls, expected.calls);
  m.error = m.exact                                             ? CallError::None
            : predicted.calls.size() != expected.calls.size() ? CallError::WrongCount
            : !m.names                                          ? CallError::WrongName
                                                                : CallError::WrongArguments;
  return m;
}

}  // namespace toolgrpo::reward
