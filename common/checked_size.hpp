// Size arithmetic on numbers read from files (tensor shapes, element sizes, offsets): products that report an
// overflow instead of wrapping around, so a shape such as [4, 2^62 + 5120] cannot pass a size check by
// multiplying out to a small number. Standard C++ (with the GCC/Clang overflow builtins): every folder may
// include it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/input_error.hpp"

namespace toolgrpo::common {

// a * b, or nothing when the product does not fit in 64 bits.
inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a + b, or nothing when the sum does not fit in 64 bits.
inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// The element count of a shape, or nothing when a dimension exceeds INT64_MAX (libtorch's sizes are signed
// 64-bit) or the product overflows INT64_MAX.
inline std::optional<uint64_t> shape_elements(const std::vector<uint64_t>& dims) {
  constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (d > kMax) return std::nullopt;
    const std::optional<uint64_t> p = checked_mul(n, d);
    if (!p || *p > kMax) return std::nullopt;
    n = *p;
  }
  return n;
}

// The element count of a signed shape (libtorch sizes, checkpoint shapes), or nothing when an extent is negative
// or the count overflows INT64_MAX.
inline std::optional<uint64_t> signed_shape_elements(const std::vector<int64_t>& dims) {
  std::vector<uint64_t> u;
  u.reserve(dims.size());
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    u.push_back(static_cast<uint64_t>(d));
  }
  return shape_elements(u);
}

// The bytes `elements` elements of `elem_size` bytes take, or nothing past INT64_MAX.
inline std::optional<uint64_t> checked_bytes(uint64_t elements, uint64_t elem_size) {
  const std::optional<uint64_t> b = checked_mul(elements, elem_size);
  if (!b || *b > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return b;
}

// The bytes of a tensor of `dims` with `elem_size`-byte elements read from a file; throws InputError
// "WHERE: shape [d0, d1, ...] with E-byte elements: a negative extent or a size past 2^63 bytes" otherwise.
// `where` names the file and the tensor.
inline uint64_t shape_bytes_or_throw(const std::vector<int64_t>& dims, uint64_t elem_size, const std::string& where) {
  const std::optional<uint64_t> n = signed_shape_elements(dims);
  const std::optional<uint64_t> b = n ? checked_bytes(*n, elem_size) : std::nullopt;
  if (b) return *b;
  std::string shape = "[";
  for (std::size_t k = 0; k < dims.size(); ++k) shape += (k ? ", " : "") + std::to_string(dims[k]);
  throw InputError(where + ": shape " + shape + "] with " + std::to_string(elem_size) +
                   "-byte elements has a negative extent or needs more than 2^63 bytes (expected a shape whose "
                   "size fits in the file)");
}

}  // namespace toolgrpo::common
