// Durable files: POSIX calls checked with errno's text, a file descriptor closed once, and the fsync, rename
// and remove helpers that make a write survive a crash (io/ only; used by the checkpoint writer and directory).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "io/hdf5.hpp"

namespace toolgrpo::io::detail {

// ----------------------------------------------------------------------------------------------------------
// POSIX calls: checked at the call site like the HDF5 ones, with errno's text.

template <class T, class What>
T sys_check(T value, const char* call, const char* file, int line, What&& what) {
  if (value < 0) {
    const int err = errno;
    std::string name = call;
    name = name.substr(0, name.find('('));
    throw std::runtime_error(h5::short_file(file) + ":" + std::to_string(line) + ": " + what() + ": " + name +
                             " failed: " + std::strerror(err));
  }
  return value;
}
#define TOOLGRPO_SYS_CHECK(expr, what)                                 \
  ::toolgrpo::io::detail::sys_check((expr), #expr, __FILE__, __LINE__, \
                                    [&]() -> std::string { return (what); })

// A POSIX file descriptor, closed once.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

// Files: each throws std::runtime_error naming the call, the path and errno's text.
std::string parent_dir(const std::string& path);  // "." for a bare name
void fsync_file(const std::string& path);
void fsync_dir(const std::string& dir);  // tolerates file systems that cannot sync a directory
void rename_file(const std::string& from, const std::string& to);
void remove_quietly(const std::string& path);  // never throws

}  // namespace toolgrpo::io::detail
