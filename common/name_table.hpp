// Names of enum values, one table per enum: parsing a name (with an error that lists every name), printing a
// value, and the list of names. A table is an array of any struct with a `value` and a `name` (EnumName, or a
// richer row such as a preset's shape), kept next to the code that uses the enum. Standard C++ only: every
// folder may include it.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace toolgrpo::common {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

// The row named `name`, or nullptr.
template <class Row, std::size_t N>
const Row* enum_find(const Row (&table)[N], std::string_view name) {
  for (const auto& e : table)
    if (name == e.name) return &e;
  return nullptr;
}

// The value named `name`; std::invalid_argument "unknown WHAT 'name'; expected one of: a b c" otherwise.
template <class Row, std::size_t N>
auto enum_from_name(const Row (&table)[N], std::string_view name, const char* what) -> decltype(table[0].value) {
  if (const Row* e = enum_find(table, name)) return e->value;
  std::string msg = std::string("unknown ") + what + " '" + std::string(name) + "'; expected one of:";
  for (const auto& e : table) msg += std::string(" ") + e.name;
  throw std::invalid_argument(msg);
}

// The name of `value`; std::invalid_argument for a value the table lacks.
template <class Row, std::size_t N, class E>
const char* enum_name(const Row (&table)[N], E value) {
  for (const auto& e : table)
    if (value == e.value) return e.name;
  throw std::invalid_argument("enum value without a name");
}

template <class Row, std::size_t N>
std::vector<std::string> enum_names(const Row (&table)[N]) {
  std::vector<std::string> out;
  for (const auto& e : table) out.emplace_back(e.name);
  return out;
}

}  // namespace toolgrpo::common
