// AtomicFile: complete output or none, and an earlier result survives a failed run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/atomic_file.hpp"

namespace fs = std::filesystem;

namespace toolgrpo::io {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path scratch_dir() {
  const fs::path d = fs::temp_directory_path() / ("toolgrpo_io_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

TEST(AtomicFile, CommitRenames) {
  const fs::path p = scratch_dir() / "out.jsonl";
  {
    AtomicFile f(p.string());
    f.write("a\n");
    EXPECT_FALSE(fs::exists(p));
    EXPECT_TRUE(fs::exists(f.temp_path()));
    f.write("b\n");
    f.commit();
    EXPECT_FALSE(fs::exists(f.temp_path()));
  }
  EXPECT_EQ(slurp(p), "a\nb\n");
}

TEST(AtomicFile, NoCommitLeavesEarlierResult) {
  const fs::path p = scratch_dir() / "keep.jsonl";
  std::ofstream(p) << "earlier\n";
  std::string temp;
  {
    AtomicFile f(p.string());
    temp = f.temp_path();
    f.write("partial");
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(slurp(p), "earlier\n");
}

TEST(AtomicFile, UnwritableDirectoryNamesThePath) {
  try {
    AtomicFile f("/nonexistent-dir/sub/out.jsonl");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/sub/out.jsonl"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace toolgrpo::io
