// libFuzzer target over the JSON Lines reader (io/line_reader.cpp) as a dataset or outputs file reaches it.
// Input: [block byte] file contents; the block byte picks the reader's block size (4096 bytes and up, so
// inputs longer than a block exercise refills, lines straddling blocks and buffer growth). The file is a
// memory file read through its /proc path. Every line next() returns must equal std::getline's split of the
// same bytes and be followed by LineReader::kPadding readable bytes; next_block() must give back the same
// bytes in runs of whole lines.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "io/line_reader.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using toolgrpo::fuzz::require;
using toolgrpo::io::LineReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t block = std::size_t{4096} << (data[0] % 3);
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int fd = memfd_create("fuzz_line_reader", 0);
  require(fd >= 0);
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    require(n > 0);
    done += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  std::vector<std::string> want;
  {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) want.push_back(l);
  }
  {
    LineReader r(path, block);
    std::string_view line;
    std::size_t n = 0;
    volatile char touch = 0;
    while (r.next(line)) {
      require(n < want.size() && line == want[n]);
      ++n;
      require(r.line_number() == n);
      for (std::size_t k = 0; k < LineReader::kPadding; ++k) touch = touch ^ line.data()[line.size() + k];
    }
    require(n == want.size());
  }
  {
    LineReader r(path, block);
    std::string_view chunk;
    std::string joined;
    while (r.next_block(chunk)) {
      require(!chunk.empty());
      // Whole lines: a block ends with '\n' unless it holds the file's unterminated last line.
      joined.append(chunk);
      require(chunk.back() == '\n' || joined.size() == text.size());
    }
    require(joined == text);
  }
  close(fd);
  return 0;
}
