// Names of enum values, one table per enum: parsing a name (with an error that lists every name), printing a
// value, and the list of names. Standard C++ only; model/ and app/ keep each enum's table next to the enum.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace toolgrpo::model {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

// The value named `name`; std::invalid_argument "unknown WHAT 'name'; expected one of: a b c" otherwise.
template <class E, std::size_t N>
E enum_from_name(const EnumName<E> (&table)[N], const std::string& name, const char* what) {
  for (const auto& e : table)
    if (name == e.name) return e.value;
  std::string msg = std::string("unknown ") + what + " '" + name + "'; expected one of:";
  for (const auto& e : table) msg += std::string(" ") + e.name;
  throw std::invalid_argument(msg);
}

template <class E, std::size_t N>
const char* enum_name(const EnumName<E> (&table)[N], E value) {
  for (const auto& e : table)
    if (value == e.value) return e.name;
  throw std::invalid_argument("enum value without a name");
}

template <class E, std::size_t N>
std::vector<std::string> enum_names(const EnumName<E> (&table)[N]) {
  std::vector<std::string> out;
  for (const auto& e : table) out.emplace_back(e.name);
  return out;
}

}  // namespace toolgrpo::model
