// BFCL's AST check of ToolRL-format calls; see bfcl_check.hpp. The rules follow BFCL's ast_checker for
// Python: type check (one level of nesting) with "variable" answers of another type, then per schema type a
// string, list, dict or list-of-dicts comparison on normalised strings, else Python `in` on the acceptable
// values. The function of each expected call is chosen per BFCL test category (bfcl_check.hpp).
#include "reward/bfcl_check.hpp"

#include <cstdlib>

#include "reward/evaluate.hpp"
#include "reward/pystr.hpp"

namespace toolgrpo::reward {
namespace {

// Python's type() of a JSON value; Missing where there is none (BFCL's None type).
enum class PyType { Missing, NoneType, Bool, Int, Float, Str, List, Dict };

PyType type_of(const Value& v) {
  switch (v.kind) {
    case JsonKind::Null:
      return PyType::NoneType;
    case JsonKind::Bool:
      return PyType::Bool;
    case JsonKind::Int:
    case JsonKind::BigInt:
      return PyType::Int;
    case JsonKind::Float:
      return PyType::Float;
    case JsonKind::String:
      return PyType::Str;
    case JsonKind::Array:
      return PyType::List;
    case JsonKind::Object:
      return PyType::Dict;
  }
  return PyType::Missing;
}

// BFCL's Python type mapping of schema types; Missing for a type it does not know.
PyType schema_type(std::string_view t) {
  if (t == "string" || t == "any") return PyType::Str;
  if (t == "integer") return PyType::Int;
  if (t == "float") return PyType::Float;
  if (t == "boolean") return PyType::Bool;
  if (t == "array" || t == "tuple") return PyType::List;
  if (t == "dict") return PyType::Dict;
  return PyType::Missing;
}

bool is_empty_string(const Value& v) {
  return v.is_string() && v.size == 0;
}

bool has_empty_string(const Value& list) {
  for (uint32_t i = 0; i < list.size; ++i)
    if (is_empty_string(list.u.items[i])) return true;
  return false;
}

// The first acceptable value other than "" (BFCL's possible-answer type comes from it).
const Value* first_answer(const Value& list) {
  for (uint32_t i = 0; i < list.size; ++i)
    if (!is_empty_string(list.u.items[i])) return &list.u.items[i];
  return nullptr;
}

// Python == after BFCL's normalisation of whichever side is a string.
bool std_equal(const Value& a, const Value& b) {
  if (a.is_string() && b.is_string()) return bfcl_standardize(a.string()) == bfcl_standardize(b.string());
  if (a.is_string() || b.is_string()) return false;
  return py_item_equal(a, b);
}

bool std_member(const Value& v, const Value& list) {
  for (uint32_t i = 0; i < list.size; ++i)
    if (std_equal(v, list.u.items[i])) return true;
  return false;
}

bool py_member(const Value& v, const Value& list) {
  for (uint32_t i = 0; i < list.size; ++i)
    if (py_item_equal(v, list.u.items[i])) return true;
  return false;
}

const Value* function_named(const Value& functions, std::string_view name) {
  for (uint32_t i = 0; i < functions.size; ++i) {
    const Value* n = functions.u.items[i].find("name");
    if (n != nullptr && n->string() == name) return &functions.u.items[i];
  }
  return nullptr;
}

struct TypeCheck {
  bool valid = false, is_variable = false;
};

// BFCL's type_checker: the value has the schema's type (arrays: each element the item type, against one
// acceptable list), or the type of the acceptable values when they name a variable of another type.
TypeCheck type_check(const Value& v, PyType vt, const Value& possible, PyType expected, PyType nested) {
  const Value* first = first_answer(possible);
  const PyType answer_type = first ? type_of(*first) : PyType::Missing;
  const bool is_variable = first != nullptr && answer_type != expected;
  if (vt == expected) {
    if (nested == PyType::Missing) return {true, is_variable};
    for (uint32_t k = 0; k < possible.size; ++k) {
      const Value& item = possible.u.items[k];
      bool ok = true;
      if (item.is_array())
        for (uint32_t i = 0; i < v.size && ok; ++i)
          ok = type_check(v.u.items[i], type_of(v.u.items[i]), item, nested, PyType::Missing).valid;
      if (ok) return {true, is_variable};
    }
    return {};  // a failed nested check stands, whatever the acceptable values' type
  }
  if (first != nullptr && vt == answer_type) return {true, true};
  return {};
}

// BFCL's list_checker: the list (its strings normalised) equals one acceptable list ("" counts as []).
bool list_check(const Value& v, const Value& possible) {
  for (uint32_t k = 0; k < possible.size; ++k) {
    const Value& item = possible.u.items[k];
    if (item.is_array()) {
      bool same = item.size == v.size;
      for (uint32_t i = 0; i < v.size && same; ++i) same = std_equal(v.u.items[i], item.u.items[i]);
      if (same) return true;
    } else if (is_empty_string(item) && v.size == 0) {
      return true;
    }
  }
  return false;
}

// BFCL's dict_checker against one acceptable dict: every key known with a value among its acceptable ones
// (strings normalised), every absent key optional ("" acceptable).
bool dict_check_one(const Value& v, const Value& answer) {
  if (!v.is_object() || !answer.is_object()) return false;
  for (uint32_t i = 0; i < v.size; ++i) {
    const Value* acceptable = answer.find(v.u.members[i].key);
    if (acceptable == nullptr || !acceptable->is_array() || !std_member(v.u.members[i].value, *acceptable))
      return false;
  }
  for (uint32_t i = 0; i < answer.size; ++i) {
    const Member& m = answer.u.members[i];
    if (v.find(m.key) == nullptr && !(m.value.is_array() && has_empty_string(m.value))) return false;
  }
  return true;
}

bool dict_check(const Value& v, const Value& possible) {
  for (uint32_t k = 0; k < possible.size; ++k)
    if (!is_empty_string(possible.u.items[k]) && dict_check_one(v, possible.u.items[k])) return true;
  return false;
}

// BFCL's list_dict_checker: as many dicts as one acceptable list, each passing dict_check_one in order.
bool list_dict_check(const Value& v, const Value& possible) {
  for (uint32_t k = 0; k < possible.size; ++k) {
    const Value& item = possible.u.items[k];
    if (is_empty_string(item) && v.size == 0) return true;
    if (!item.is_array() || item.size != v.size) continue;
    bool ok = true;
    for (uint32_t i = 0; i < v.size && ok; ++i) ok = dict_check_one(v.u.items[i], item.u.items[i]);
    if (ok) return true;
  }
  return false;
}

struct CallCheck {
  BfclError error = BfclError::None;
  std::string detail;
};

std::string quoted(std::string_view s) {
  std::string out;
  json_append_string(out, s);
  return out;
}

std::string_view name_of(const Value& fn) {
  return fn.find("name")->string();
}

// BFCL's simple_function_checker: one output call against one expected call {name: {param: acceptable}}
// and the function document it is checked against, whose name the call must give.
CallCheck call_check(const Value& call, const Member& expected, const Value& fn) {
  const std::string_view name = call.find("name")->string();
  if (name != name_of(fn))
    return {BfclError::WrongName, "expected " + quoted(name_of(fn)) + ", the call names " + quoted(name)};
  static const Value empty_object = [] {
    Value v;
    v.kind = JsonKind::Object;
    return v;
  }();
  const Value* params = call.find("parameters");
  if (params == nullptr) params = &empty_object;
  if (!params->is_object()) return {BfclError::BrokenCall, "\"parameters\" is not an object"};
  const Value& schema = *fn.find("parameters");
  const Value& props = *schema.find("properties");
  if (const Value* required = schema.find("required"))
    for (uint32_t i = 0; i < required->size; ++i)
      if (params->find(required->u.items[i].string()) == nullptr)
        return {BfclError::MissingParam,
                "missing required parameter " + quoted(required->u.items[i].string())};
  for (uint32_t i = 0; i < params->size; ++i) {
    const std::string_view key = params->u.members[i].key;
    const Value* prop = props.find(key);
    const Value* possible = expected.value.find(key);
    if (prop == nullptr || possible == nullptr)
      return {BfclError::UnknownParam, "unexpected parameter " + quoted(key)};
    const std::string_view type_name = prop->find("type")->string();
    const PyType expected_type = schema_type(type_name);
    PyType nested = PyType::Missing;
    if (type_name == "array" || type_name == "tuple")
      if (const Value* items = prop->find("items")) nested = schema_type(items->find("type")->string());
    Value v = params->u.members[i].value;
    PyType vt = type_of(v);
    if (expected_type == PyType::Float && vt == PyType::Int) {  // Python's int -> float promotion
      const double d = v.kind == JsonKind::Int
                           ? static_cast<double>(v.u.i)
                           : std::strtod(std::string(v.string()).c_str(), nullptr) * (v.flag ? -1.0 : 1.0);
      v = Value{};
      v.kind = JsonKind::Float;
      v.u.f = d;
      vt = PyType::Float;
    }
    const TypeCheck tc = type_check(v, vt, *possible, expected_type, nested);
    const std::string what = "parameter " + quoted(key) + " = " + json_dumps(params->u.members[i].value);
    if (!tc.valid) return {BfclError::WrongType, what + " is not of type " + std::string(type_name)};
    bool ok;
    if (!tc.is_variable && expected_type == PyType::Dict)
      ok = dict_check(v, *possible);
    else if (!tc.is_variable && expected_type == PyType::List && nested == PyType::Dict)
      ok = list_dict_check(v, *possible);
    else if (!tc.is_variable && expected_type == PyType::Str)
      ok = std_member(v, *possible);
    else if (!tc.is_variable && expected_type == PyType::List)
      ok = list_check(v, *possible);
    else
      ok = py_member(v, *possible);
    if (!ok) return {BfclError::WrongValue, what + " is not among " + json_dumps(*possible)};
  }
  for (uint32_t i = 0; i < expected.value.size; ++i) {
    const Member& m = expected.value.u.members[i];
    if (params->find(m.key) == nullptr && !has_empty_string(m.value))
      return {BfclError::MissingParam, "missing parameter " + quoted(m.key) + " (\"\" is not acceptable)"};
  }
  return {};
}

// Lower case of one code point as str.lower() gives it for the scripts named in the header.
uint32_t lower_of(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
      (c >= 0x410 && c <= 0x42F))
    return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x138 && c != 0x149 && c != 0x17F) {
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper ? (c % 2 == 1) : (c % 2 == 0)) return c + 1;
  }
  return c;
}

// Decodes the UTF-8 (WTF-8) sequence at s[i]; returns its length, 1 for an invalid byte (cp = the byte).
std::size_t utf8_next(std::string_view s, std::size_t i, uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c < 0xE0 && cont(i + 1)) {
    cp = (c & 0x1Fu) << 6 | (b(i + 1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c < 0xF0 && cont(i + 1) && cont(i + 2)) {
    cp = (c & 0x0Fu) << 12 | (b(i + 1) & 0x3Fu) << 6 | (b(i + 2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c < 0xF5 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    cp = (c & 0x07u) << 18 | (b(i + 1) & 0x3Fu) << 12 | (b(i + 2) & 0x3Fu) << 6 | (b(i + 3) & 0x3Fu);
    return 4;
  }
  cp = c;
  return 1;
}

[[noreturn]] void bad_data(bool answers, const std::string& what) {
  throw BfclDataError(answers, what);
}

void functions_validate(const Value& fns) {
  if (!fns.is_array()) bad_data(false, "\"function\" must be a list of function documents");
  for (uint32_t i = 0; i < fns.size; ++i) {
    const Value& f = fns.u.items[i];
    const std::string at = "function[" + std::to_string(i) + "]";
    if (!f.is_object()) bad_data(false, at + " must be an object {name, description, parameters}");
    const Value* name = f.find("name");
    if (name == nullptr || !name->is_string()) bad_data(false, at + ": \"name\" must be a string");
    const Value* params = f.find("parameters");
    const Value* props = params ? params->find("properties") : nullptr;
    if (params == nullptr || !params->is_object() || props == nullptr || !props->is_object())
      bad_data(false, at + " (" + std::string(name->string()) +
                          "): \"parameters\" must be an object with "
                          "an object \"properties\"");
    for (uint32_t k = 0; k < props->size; ++k) {
      const Member& p = props->u.members[k];
      const std::string where = at + " (" + std::string(name->string()) + "): parameter " + quoted(p.key);
      const Value* type = p.value.find("type");
      if (type == nullptr || !type->is_string() || schema_type(type->string()) == PyType::Missing)
        bad_data(false, where +
                            ": \"type\" must be one of dict, integer, float, string, boolean, array, "
                            "tuple, any");
      if (const Value* items = p.value.find("items");
          items && (type->string() == "array" || type->string() == "tuple")) {
        const Value* it = items->find("type");
        if (it == nullptr || !it->is_string() || schema_type(it->string()) == PyType::Missing)
          bad_data(false, where + ": \"items\" must have a known \"type\"");
      }
    }
    if (const Value* req = params->find("required")) {
      bool ok = req->is_array();
      for (uint32_t k = 0; ok && k < req->size; ++k) ok = req->u.items[k].is_string();
      if (!ok)
        bad_data(false, at + " (" + std::string(name->string()) + "): \"required\" must be a list of names");
    }
  }
}

void truth_validate(const Value& truth) {
  if (!truth.is_array())
    bad_data(true, "\"ground_truth\" must be a list of {function: {parameter: [values]}}");
  for (uint32_t i = 0; i < truth.size; ++i) {
    const Value& c = truth.u.items[i];
    const std::string at = "ground_truth[" + std::to_string(i) + "]";
    if (!c.is_object() || c.size != 1 || !c.u.members[0].value.is_object())
      bad_data(true, at + " must be an object with one function name mapping to {parameter: [values]}");
    const Member& call = c.u.members[0];
    for (uint32_t k = 0; k < call.value.size; ++k)
      if (!call.value.u.members[k].value.is_array())
        bad_data(true, at + ": parameter " + quoted(call.value.u.members[k].key) +
                           " must map to a list of acceptable values");
  }
}

std::string names_of(const Value& fns) {
  std::string s;
  for (uint32_t i = 0; i < fns.size; ++i) s += (i ? ", " : "") + quoted(name_of(fns.u.items[i]));
  return s.empty() ? "none" : s;
}

bool is_required(const Value& fn, std::string_view param) {
  const Value* required = fn.find("parameters")->find("required");
  if (required != nullptr)
    for (uint32_t i = 0; i < required->size; ++i)
      if (required->u.items[i].string() == param) return true;
  return false;
}

// BFCL's single-turn AST categories, as an id writes them before "_<index>".
bool known_category(std::string_view c) {
  if (c.substr(0, 5) == "live_") c.remove_prefix(5);
  for (const char* k : {"simple", "multiple", "parallel", "parallel_multiple", "java", "javascript",
                        "irrelevance", "relevance"})
    if (c == k) return true;
  return false;
}

}  // namespace

const char* bfcl_category_name(BfclCategory c) {
  switch (c) {
    case BfclCategory::Simple:
      return "simple";
    case BfclCategory::Multiple:
      return "multiple";
    case BfclCategory::Parallel:
      return "parallel";
  }
  return "?";
}

std::optional<BfclCategory> bfcl_category_from_id(std::string_view id) {
  const std::size_t cut = id.rfind('_');
  if (cut == std::string_view::npos || cut + 1 == id.size()) return std::nullopt;
  const std::string_view category = id.substr(0, cut), index = id.substr(cut + 1);
  if (index.find_first_not_of("0123456789-") != std::string_view::npos || !known_category(category))
    return std::nullopt;
  if (category.find("parallel") != std::string_view::npos) return BfclCategory::Parallel;
  if (category.find("multiple") != std::string_view::npos) return BfclCategory::Multiple;
  return BfclCategory::Simple;
}

const char* bfcl_error_name(BfclError e) {
  switch (e) {
    case BfclError::None:
      return "none";
    case BfclError::MissingCall:
      return "missing_call";
    case BfclError::UnexpectedCall:
      return "unexpected_call";
    case BfclError::BrokenCall:
      return "broken_call";
    case BfclError::WrongCount:
      return "wrong_count";
    case BfclError::WrongName:
      return "wrong_name";
    case BfclError::MissingParam:
      return "missing_param";
    case BfclError::UnknownParam:
      return "unknown_param";
    case BfclError::WrongType:
      return "wrong_type";
    case BfclError::WrongValue:
      return "wrong_value";
  }
  return "?";
}

std::string bfcl_standardize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    uint32_t cp;
    const std::size_t n = utf8_next(s, i, cp);
    if (n == 1 && cp >= 0x80) {  // an invalid byte: kept as it is
      out += s[i];
    } else if (cp == '\'') {
      out += '"';
    } else if (cp == 0x130) {  // İ lower-cases to i + combining dot above
      out += "i\xCC\x87";
    } else if (!(cp == ' ' || cp == ',' || cp == '.' || cp == '/' || cp == '-' || cp == '_' || cp == '*' ||
                 cp == '^')) {
      utf8_append(out, lower_of(cp));
    }
    i += n;
  }
  return out;
}

BfclCase::BfclCase(std::string_view functions_json, std::string_view truth_json, std::string_view id) {
  JsonParser parser;
  JsonError err;
  functions_ = parser.parse(functions_json, arena_, &err);
  if (functions_ == nullptr) bad_data(false, "\"function\" is not JSON (" + err.message + ")");
  functions_validate(*functions_);
  if (!py_strip(truth_json).empty()) {
    truth_ = parser.parse(truth_json, arena_, &err);
    if (truth_ == nullptr) bad_data(true, "\"ground_truth\" is not JSON (" + err.message + ")");
    truth_validate(*truth_);
  }
  const uint32_t n = truth_ != nullptr ? truth_->size : 0;
  if (const auto from_id = bfcl_category_from_id(id))
    category_ = *from_id;
  else
    category_ = n > 1                   ? BfclCategory::Parallel
                : functions_->size == 1 ? BfclCategory::Simple
                                        : BfclCategory::Multiple;
  if (n == 0) return;
  const std::string checker = std::string("BFCL's ") + bfcl_category_name(category_) + " checker";
  if (category_ != BfclCategory::Parallel && n > 1)
    warnings_.push_back("ground_truth holds " + std::to_string(n) + " calls; " + checker +
                        " checks the first output call against the first one only");
  for (uint32_t i = 0; i < (category_ == BfclCategory::Parallel ? n : 1); ++i) {
    const Member& answer = truth_->u.items[i].u.members[0];
    const std::string at = "ground_truth[" + std::to_string(i) + "]: ";
    const Value* fn = nullptr;
    if (category_ == BfclCategory::Simple) {
      // BFCL's simple checker takes the question's first function; the answer's name is not looked up.
      fn = functions_->size > 0 ? &functions_->u.items[0] : nullptr;
      if (fn == nullptr)
        warnings_.push_back(at + "the question offers no function to check " + quoted(answer.key) +
                            " against: no output passes this row");
      else if (name_of(*fn) != answer.key)
        warnings_.push_back(at + "names " + quoted(answer.key) + ", the question's function is " +
                            quoted(name_of(*fn)) +
                            ": calls are checked against the question's function, as " + checker + " does");
    } else {
      fn = function_named(*functions_, answer.key);
      if (fn == nullptr)
        warnings_.push_back(at + "function " + quoted(answer.key) +
                            " is not among the question's functions (" + names_of(*functions_) + "); " +
                            checker +
                            " has no function document to check it against: no output passes this row");
    }
    if (fn != nullptr) {
      const Value& props = *fn->find("parameters")->find("properties");
      for (uint32_t k = 0; k < answer.value.size; ++k) {
        const Member& p = answer.value.u.members[k];
        if (props.find(p.key) == nullptr && !has_empty_string(p.value))
          warnings_.push_back(at + "parameter " + quoted(p.key) + " is not in the schema of " +
                              quoted(name_of(*fn)) +
                              " and \"\" is not among its values (BFCL: unexpected when given, missing when "
                              "not): no output passes this row");
      }
    }
    expected_.push_back({&answer, fn});
  }
}

std::size_t BfclCase::calls_expected() const {
  if (!expects_call()) return 0;
  return category_ == BfclCategory::Simple ? 1 : truth_->size;
}

std::string BfclCase::toolrl_text() const {
  if (!expects_call()) return "<think> </think>\n<response> </response>";
  std::string s = "<think> </think>\n<tool_call>";
  for (const Expected& e : expected_) {
    const Member& call = *e.answer;
    const Value* props = e.function ? e.function->find("parameters")->find("properties") : nullptr;
    s += "\n{\"name\": ";
    json_append_string(s, e.function ? name_of(*e.function) : call.key);
    s += ", \"parameters\": {";
    bool first = true;
    for (uint32_t k = 0; k < call.value.size; ++k) {
      const Member& p = call.value.u.members[k];
      if (props != nullptr && props->find(p.key) == nullptr) continue;
      const Value* v = first_answer(p.value);
      if (v == nullptr && p.value.size > 0 && e.function && is_required(*e.function, p.key))
        v = &p.value.u.items[0];  // "" only, and required: BFCL passes the empty string
      if (v == nullptr) continue;
      if (!first) s += ", ";
      first = false;
      json_append_string(s, p.key);
      s += ": " + json_dumps(*v);
    }
    s += "}}";
  }
  return s + "\n</tool_call>";
}

BfclResult bfcl_check(std::string_view output, const BfclCase& c) {
  JsonParser parser;
  Arena arena(4096);
  const ToolCalls calls = tool_calls_parse(output, parser, arena);
  BfclResult r;
  r.parse = calls.status;
  r.expects_call = c.expects_call();
  const bool broken = calls.status != CallsStatus::None && calls.status != CallsStatus::Ok;
  if (broken) {
    r.error = BfclError::BrokenCall;
    r.detail = std::string("the call block is ") + calls_status_name(calls.status);
    return r;
  }
  if (!r.expects_call) {
    r.valid = calls.status == CallsStatus::None;
    if (!r.valid) {
      r.error = BfclError::UnexpectedCall;
      r.detail = "no call is expected, the output makes " + std::to_string(calls.calls.size());
    }
    return r;
  }
  if (calls.status == CallsStatus::None) {
    r.error = BfclError::MissingCall;
    r.detail = "the output makes no call";
    return r;
  }
  const std::size_t want = c.calls_expected();
  if (calls.calls.size() != want) {
    r.error = BfclError::WrongCount;
    r.detail = std::to_string(want) + (want == 1 ? " call" : " calls") + " expected, the output makes " +
               std::to_string(calls.calls.size());
    return r;
  }
  // Parallel: each expected call takes the first unused output call that passes (BFCL's order-free matching).
  // Simple and Multiple: the first output call against the first expected call.
  const std::size_t candidates = c.category() == BfclCategory::Parallel ? calls.calls.size() : 1;
  std::vector<bool> used(calls.calls.size(), false);
  for (std::size_t i = 0; i < c.expected().size(); ++i) {
    const BfclCase::Expected& e = c.expected()[i];
    const std::string head = "expected call " + std::to_string(i + 1) + " (" +
                             std::string(e.function ? name_of(*e.function) : e.answer->key) + "): ";
    if (e.function == nullptr) {  // BFCL has no function document to check it against
      r.error = BfclError::WrongName;
      r.detail = head + "the question offers no such function";
      return r;
    }
    CallCheck why{BfclError::WrongName, "no call names it"};
    bool found = false;
    for (std::size_t j = 0; j < candidates && !found; ++j) {
      if (used[j]) continue;
      CallCheck cc = call_check(*calls.calls[j], *e.answer, *e.function);
      found = cc.error == BfclError::None;
      if (found)
        used[j] = true;
      else if (why.error == BfclError::WrongName && cc.error != BfclError::WrongName)
        why = {cc.error, "call " + std::to_string(j + 1) + ": " + cc.detail};
    }
    if (!found) {
      r.error = why.error;
      r.detail = head + why.detail;
      return r;
    }
  }
  r.valid = true;
  return r;
}

BfclSummary bfcl_summarize(const std::vector<BfclResult>& results, const std::vector<bool>& format_ok) {
  BfclSummary s;
  s.n = static_cast<int64_t>(results.size());
  double valid = 0, call_valid = 0, irr_valid = 0, format = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const BfclResult& r = results[i];
    valid += r.valid;
    format += i < format_ok.size() && format_ok[i];
    ++s.errors[bfcl_error_name(r.error)];
    if (r.expects_call) {
      ++s.call_rows;
      call_valid += r.valid;
    } else {
      ++s.irrelevance_rows;
      irr_valid += r.valid;
    }
  }
  const auto share = [](double count, int64_t of) { return of > 0 ? count / static_cast<double>(of) : 0.0; };
  s.accuracy = share(valid, s.n);
  s.format_accuracy = share(format, s.n);
  s.call_rows_accuracy = share(call_valid, s.call_rows);
  s.irrelevance_accuracy = share(irr_valid, s.irrelevance_rows);
  return s;
}

}  // namespace toolgrpo::reward
