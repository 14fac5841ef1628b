// JSON values with Python semantics: json.loads parsing (NaN/Infinity, integers of any size, duplicate keys
// keep the first position and the last value, lone surrogates, strict control-character rejection) and
// Python == (1 == 1.0 == True, exact int/float comparison, dicts without order, lists with order).
// Trees live in an Arena; parse() copies strings so the source may go away, parse_borrowed() points into it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reward/arena.hpp"

namespace toolgrpo::reward {

enum class JsonKind : uint8_t { Null, Bool, Int, BigInt, Float, String, Array, Object };

struct Member;

struct Value {
  JsonKind kind = JsonKind::Null;
  bool flag = false;  // Bool: the value; BigInt: negative sign
  uint32_t size = 0;  // String/BigInt: bytes (BigInt: decimal digits); Array/Object: elements
  union {
    int64_t i;              // Int
    double f;               // Float
    const char* str;        // String (UTF-8, surrogates WTF-8), BigInt digits (no sign, no leading zero)
    const Value* items;     // Array
    const Member* members;  // Object, in first-occurrence order, keys unique
  } u{};

  bool is_object() const { return kind == JsonKind::Object; }
  bool is_array() const { return kind == JsonKind::Array; }
  bool is_string() const { return kind == JsonKind::String; }
  bool is_nan() const;
  std::string_view string() const { return {u.str, size}; }
  // Object member lookup (Python dict.get); nullptr when absent or not an object.
  const Value* find(std::string_view key) const;
};

struct Member {
  std::string_view key;
  Value value;
};

// Python `a == b` (float NaN is unequal to itself).
bool py_equal(const Value& a, const Value& b);

// Equality as Python's containers apply it (PyObject_RichCompareBool: identity first). json.loads returns
// one shared NaN object, so two parsed NaNs compare equal inside lists, dicts and Counter keys.
bool py_item_equal(const Value& a, const Value& b);

// True for values usable as dict/Counter keys in Python (everything but lists and dicts).
bool py_hashable(const Value& v);

// Python len(v) for str/list/dict; false when Python would raise TypeError.
bool py_len_of(const Value& v, std::size_t& out);

struct JsonError {
  std::string message;  // Python's wording, e.g. "Expecting value"
  std::size_t offset = 0;  // byte offset in the parsed text
};

// Parses text as Python's json.loads(str) does. Reusable: keeps scratch stacks between calls.
class JsonParser {
 public:
  // Depth beyond which parsing fails (Python raises RecursionError near its recursion limit).
  static constexpr int kMaxDepth = 900;
  // Python 3.11 refuses integer strings longer than this (ValueError).
  static constexpr std::size_t kMaxIntDigits = 4300;

  // On success returns a tree allocated in `arena`; on failure returns nullptr and fills `err` if given.
  const Value* parse(std::string_view text, Arena& arena, JsonError* err = nullptr);
  // As parse(), but unescaped strings point into `text`, which must outlive the tree (no copies: faster).
  const Value* parse_borrowed(std::string_view text, Arena& arena, JsonError* err = nullptr);

 private:
  const Value* parse_impl(std::string_view text, Arena& arena, JsonError* err);
  bool parse_value(Value& out, int depth);
  bool parse_string(std::string_view& out);
  bool parse_number(Value& out);
  bool parse_array(Value& out, int depth);
  bool parse_object(Value& out, int depth);
  void skip_ws();
  bool fail(const char* message, std::size_t offset);

  std::string_view text_;
  std::size_t pos_ = 0;
  Arena* arena_ = nullptr;
  JsonError* err_ = nullptr;
  bool borrow_ = false;
  std::vector<Value> items_;
  std::vector<Member> members_;
  std::string scratch_;
};

// Python json.dumps(v) with default settings (ASCII escapes, ", " and ": " separators).
std::string json_dumps(const Value& v);
// A JSON string literal for s as json.dumps writes it (ensure_ascii). Invalid UTF-8 bytes become U+FFFD.
void json_append_string(std::string& out, std::string_view s);

}  // namespace toolgrpo::reward
