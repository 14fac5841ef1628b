// Durable files: fsync of a file and of a directory, rename and quiet removal, each POSIX call checked; see
// durable_file.hpp.
#include "io/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace toolgrpo::io::detail {
namespace {

namespace fs = std::filesystem;

}  // namespace

std::string parent_dir(const std::string& path) {
  const fs::path p = fs::path(path).parent_path();
  return p.empty() ? std::string(".") : p.string();
}

void fsync_file(const std::string& path) {
  Fd fd(TOOLGRPO_SYS_CHECK(::open(path.c_str(), O_RDONLY | O_CLOEXEC), "open " + path + " to fsync it"));
  TOOLGRPO_SYS_CHECK(::fsync(fd.get()), "fsync " + path);
  TOOLGRPO_SYS_CHECK(fd.close(), "close " + path);
}

void fsync_dir(const std::string& dir) {
  Fd fd(TOOLGRPO_SYS_CHECK(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC), "open directory " + dir));
  // Some network and FUSE file systems cannot fsync a directory (EINVAL); the rename is then as durable as
  // they allow.
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != ENOTSUP)
    TOOLGRPO_SYS_CHECK(-1, "fsync directory " + dir);
  TOOLGRPO_SYS_CHECK(fd.close(), "close directory " + dir);
}

void rename_file(const std::string& from, const std::string& to) {
  TOOLGRPO_SYS_CHECK(::rename(from.c_str(), to.c_str()), "rename " + from + " to " + to);
}

// Removes `path` if it exists (error paths: never throws).
void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace toolgrpo::io::detail
