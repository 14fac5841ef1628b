// Block-wise line reader; see line_reader.hpp.
#include "io/line_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace toolgrpo::io {

LineReader::LineReader(const std::string& path, std::size_t block_bytes) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  buf_.resize(std::max<std::size_t>(block_bytes, 4096) + kPadding);
}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

// Keeps the unread tail, moved to the front, and fills the rest of the buffer (doubled when the tail alone
// fills more than half of it: a long line).
void LineReader::refill() {
  const std::size_t tail = end_ - begin_;
  if (begin_ > 0 && tail > 0) std::memmove(buf_.data(), buf_.data() + begin_, tail);
  begin_ = 0;
  end_ = tail;
  const std::size_t capacity = buf_.size() - kPadding;
  if (tail > capacity / 2) buf_.resize(2 * capacity + kPadding);
  while (end_ < buf_.size() - kPadding) {
    const ssize_t got = ::read(fd_, buf_.data() + end_, buf_.size() - kPadding - end_);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("error reading " + path_ + ": " + std::strerror(errno));
    }
    if (got == 0) {
      eof_ = true;
      break;
    }
    end_ += static_cast<std::size_t>(got);
  }
}

// The unread bytes up to the first (or, with `last`, the last) '\n' in the buffer, refilling until there is
// one; at the end of the file the rest without a '\n'. n: their length without it; newline: whether one
// follows. False when nothing is left.
bool LineReader::span(bool last, std::size_t& n, bool& newline) {
  for (;;) {
    const char* start = buf_.data() + begin_;
    const void* nl = last ? memrchr(start, '\n', end_ - begin_) : std::memchr(start, '\n', end_ - begin_);
    if (nl != nullptr || eof_) {
      newline = nl != nullptr;
      n = newline ? static_cast<std::size_t>(static_cast<const char*>(nl) - start) : end_ - begin_;
      return newline || n > 0;
    }
    refill();
  }
}

bool LineReader::next(std::string_view& line) {
  std::size_t n = 0;
  bool newline = false;
  if (!span(false, n, newline)) return false;
  line = std::string_view(buf_.data() + begin_, n);
  begin_ += n + newline;
  ++line_number_;
  return true;
}

bool LineReader::next_block(std::string_view& block) {
  std::size_t n = 0;
  bool newline = false;
  if (!span(true, n, newline)) return false;
  block = std::string_view(buf_.data() + begin_, n + newline);
  begin_ += n + newline;
  return true;
}

}  // namespace toolgrpo::io
