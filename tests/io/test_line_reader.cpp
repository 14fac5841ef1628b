// LineReader against std::getline on the same bytes: lines across block boundaries, lines many times the
// block,
// '\r' kept, no final newline, empty lines, an empty file; next_block() yields the same lines, and a missing
// file names its path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/line_reader.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> getline_lines(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

fs::path write_file(const std::string& name, const std::string& text) {
  const fs::path p =
      fs::temp_directory_path() / ("toolgrpo_line_reader_" + std::to_string(::getpid()) + name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

void expect_same_lines(const std::string& text, std::size_t block) {
  const fs::path p = write_file("case", text);
  const std::vector<std::string> want = getline_lines(text);
  {
    toolgrpo::io::LineReader r(p.string(), block);
    std::vector<std::string> got;
    std::string_view line;
    while (r.next(line)) {
      got.emplace_back(line);
      EXPECT_EQ(r.line_number(), got.size());
    }
    EXPECT_EQ(got, want) << "next(), block " << block;
  }
  {
    toolgrpo::io::LineReader r(p.string(), block);
    std::vector<std::string> got;
    std::string_view b;
    while (r.next_block(b)) {
      ASSERT_FALSE(b.empty());
      std::string part(b);
      if (part.back() == '\n') part.pop_back();
      // The block holds whole lines: split it as the reader's user does.
      std::size_t pos = 0;
      while (true) {
        const std::size_t nl = part.find('\n', pos);
        got.push_back(part.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
    }
    EXPECT_EQ(got, want) << "next_block(), block " << block;
  }
  fs::remove(p);
}

TEST(LineReader, SameLinesAsGetline) {
  std::mt19937 rng(3);
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    const std::size_t len = i % 97 == 0 ? 50000 + rng() % 20000 : rng() % 300;  // some lines far past a block
    for (std::size_t k = 0; k < len; ++k) text.push_back(static_cast<char>('a' + rng() % 26));
    if (i % 13 == 0) text.push_back('\r');
    text.push_back('\n');
    if (i % 101 == 0) text.push_back('\n');  // an empty line
  }
  for (std::size_t block : {std::size_t{4096}, std::size_t{65536}, std::size_t{16} << 20}) {
    expect_same_lines(text, block);
    expect_same_lines(text + "last line without newline", block);
  }
  expect_same_lines("", 4096);
  expect_same_lines("\n", 4096);
  expect_same_lines("only", 4096);
  expect_same_lines(std::string(20u << 20, 'x') + "\nshort\n", 4096);  // a 20 MB line
}

TEST(LineReader, MissingFileNamesThePath) {
  try {
    toolgrpo::io::LineReader r("/no/such/dir/rows.jsonl");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/dir/rows.jsonl"), std::string::npos) << e.what();
  }
}

}  // namespace
