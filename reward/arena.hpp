// A bump allocator for parse trees: one reset per scored output, so scoring allocates nothing in steady state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace toolgrpo::reward {

class Arena {
 public:
  explicit Arena(std::size_t block_bytes = 16 * 1024) : block_bytes_(block_bytes) {}
  Arena(Arena&&) = default;
  Arena& operator=(Arena&&) = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns n bytes aligned to `align` (a power of two), valid until reset() or destruction.
  void* allocate(std::size_t n, std::size_t align) {
    std::size_t pad = (align - (reinterpret_cast<std::uintptr_t>(cur_) & (align - 1))) & (align - 1);
    if (cur_ == nullptr || pad + n > left_) {
      grow(n + align);
      pad = (align - (reinterpret_cast<std::uintptr_t>(cur_) & (align - 1))) & (align - 1);
    }
    char* p = cur_ + pad;
    cur_ = p + n;
    left_ -= pad + n;
    return p;
  }

  template <class T>
  T* allocate_array(std::size_t count) {
    return static_cast<T*>(allocate(sizeof(T) * (count ? count : 1), alignof(T)));
  }

  // Forgets every allocation; keeps the largest block for reuse.
  void reset();

 private:
  void grow(std::size_t at_least);

  std::size_t block_bytes_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<std::size_t> sizes_;
  char* cur_ = nullptr;
  std::size_t left_ = 0;
};

}  // namespace toolgrpo::reward
