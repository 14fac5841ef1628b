// Reads a text file line by line in large blocks with read(2): no allocation and no copy per line (a line
// that straddles two blocks is moved once), lines of any length (the buffer grows to hold the longest), and
// every line returned is followed by at least kPadding readable bytes, as SIMD JSON parsers require. Lines
// split like std::getline: on '\n' only (a '\r' before it stays), no empty line after a final '\n'.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace toolgrpo::io {

class LineReader {
 public:
  static constexpr std::size_t kPadding = 64;

  // Throws std::runtime_error "cannot read PATH: REASON" when the file cannot be opened.
  explicit LineReader(const std::string& path, std::size_t block_bytes = std::size_t{16} << 20);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line (valid until the next call); false at the end of the file. Throws std::runtime_error on a
  // read error.
  bool next(std::string_view& line);
  // The next run of whole lines: everything up to the last '\n' in the buffer (or the rest of the file at its
  // end), the final '\n' included when present; valid until the next call. False at the end of the file.
  // Lines taken this way are not counted by line_number(); the caller splits and counts them.
  bool next_block(std::string_view& block);
  // 1-based number of the line last returned by next().
  std::size_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  void refill();
  bool span(bool last, std::size_t& n, bool& newline);

  std::string path_;
  int fd_ = -1;
  std::vector<char> buf_;  // data in [begin_, end_), then at least kPadding bytes
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::size_t line_number_ = 0;
};

}  // namespace toolgrpo::io
