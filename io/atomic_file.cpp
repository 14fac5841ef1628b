// AtomicFile: temp file + fsync + rename; see atomic_file.hpp.
#include "io/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace toolgrpo::io {
namespace {
[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_ = path_ + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(temp_.c_str(), "wb");
  if (file_ == nullptr) fail("cannot create", temp_ + " (for " + path_ + ")");
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicFile::write(std::string_view bytes) {
  if (file_ == nullptr) throw std::logic_error("AtomicFile::write after commit: " + path_);
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) fail("cannot write", temp_);
}

void AtomicFile::commit() {
  if (file_ == nullptr) throw std::logic_error("AtomicFile::commit twice: " + path_);
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail("cannot flush", temp_);
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) fail("cannot close", temp_);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) fail("cannot rename " + temp_ + " to", path_);
  committed_ = true;
}

}  // namespace toolgrpo::io
