// libFuzzer target over the dataset loader (ToolRL JSON Lines and the official JSON array), as files from outside
// reach it. Input: [flags byte] file contents; bits 0-1 pick data.format (auto, jsonl, toolrl-json), bit 2
// skip_bad_rows. The file is a memory file read through its /proc path, as a path on disk would be. A load
// either returns rows or throws a std::exception (a clear error naming the file and line), never crashes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "io/dataset.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::io;
using toolgrpo::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int fd = memfd_create("fuzz_dataset", 0);
  require(fd >= 0);
  for (std::size_t done = 1; done < size;) {
    const ssize_t n = write(fd, data + done, size - done);
    require(n > 0);
    done += static_cast<std::size_t>(n);
  }
  DatasetOptions opt;
  const DatasetFormat formats[] = {DatasetFormat::Auto, DatasetFormat::Jsonl, DatasetFormat::ToolrlJson,
                                   DatasetFormat::Auto};
  opt.format = formats[data[0] & 3];
  opt.skip_bad_rows = data[0] & 4;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    const Dataset d = dataset_load(path, opt);
    require(d.rows.size() + d.skipped <= size);  // a row or a skipped row per line at most
  } catch (const std::exception&) {
  }
  close(fd);
  return 0;
}
