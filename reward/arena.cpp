// Bump allocator blocks; see arena.hpp.
#include "reward/arena.hpp"

#include <algorithm>

namespace toolgrpo::reward {

void Arena::grow(std::size_t at_least) {
  const std::size_t size = std::max(block_bytes_, at_least);
  blocks_.emplace_back(new char[size]);
  sizes_.push_back(size);
  cur_ = blocks_.back().get();
  left_ = size;
}

void Arena::reset() {
  if (blocks_.empty()) return;
  if (blocks_.size() > 1) {
    const auto it = std::max_element(sizes_.begin(), sizes_.end());
    const std::size_t k = static_cast<std::size_t>(it - sizes_.begin());
    std::unique_ptr<char[]> keep = std::move(blocks_[k]);
    const std::size_t keep_size = sizes_[k];
    blocks_.clear();
    sizes_.clear();
    blocks_.push_back(std::move(keep));
    sizes_.push_back(keep_size);
  }
  cur_ = blocks_.front().get();
  left_ = sizes_.front();
}

}  // namespace toolgrpo::reward
