// Size arithmetic on numbers read from files (tensor shapes, element sizes, offsets): products that report an
// overflow instead of wrapping around, so a shape such as [4, 2^62 + 5120] cannot pass a size check by
// multiplying out to a small number. Standard C++ (with the GCC/Clang overflow builtins): every folder may
// include it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace toolgrpo::common {

// a * b, or nothing when the product does not fit in 64 bits.
inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
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

}  // namespace toolgrpo::common
