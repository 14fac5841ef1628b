// AtomicFile: output that appears complete or not at all. Writes go to "<path>.tmp.<pid>"; commit() flushes,
// fsyncs and renames over the target; destruction without commit() removes the temporary file, so a failed
// command leaves no partial output and never clobbers an earlier result.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace toolgrpo::io {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws std::runtime_error naming the path on failure
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  void commit();
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace toolgrpo::io
