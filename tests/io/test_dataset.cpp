// ToolRL datasets: the shared JSON Lines files and the raw JSON array format, malformed rows named by file and
// line (or skipped and counted), epoch orders that are permutations fixed by (seed, epoch), the cursor crossing
// epochs, and shards that cover every item once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "io/dataset.hpp"

namespace fs = std::filesystem;

namespace toolgrpo::io {
namespace {

std::string toolrl(const char* f) {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  return std::string(env ? env : TOOLGRPO_DEFAULT_SHARED_DATA) + "/toolrl/" + f;
}

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("toolgrpo_ds_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

TEST(Dataset, SharedJsonLines) {
  const Dataset test = dataset_load(toolrl("test.jsonl"));
  ASSERT_EQ(test.rows.size(), 80u);
  EXPECT_EQ(test.rows[0].id, "rlla_test_00");
  EXPECT_EQ(test.rows[0].user.rfind("**Dialogue Records History**", 0), 0u);
  EXPECT_EQ(dataset_load(toolrl("sft.jsonl")).rows.size(), 400u);
}

TEST(Dataset, RawToolRLJsonAndBadRows) {
  const fs::path raw = scratch("raw.json");
  std::ofstream(raw) << R"([{"instruction": "S", "input": "U", "output": "G"}, {"instruction": "S2", "input": "U2"}])";
  try {
    dataset_load(raw.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("raw.json:row 1: missing field \"output\""), std::string::npos) << e.what();
  }
  DatasetOptions skip;
  skip.skip_bad_rows = true;
  const Dataset d = dataset_load(raw.string(), skip);
  ASSERT_EQ(d.rows.size(), 1u);
  EXPECT_EQ(d.skipped, 1u);
  EXPECT_EQ(d.rows[0].ground_truth, "G");
  EXPECT_EQ(d.rows[0].id, "") << "a row without an id has none (eval names it by its position)";
  const fs::path jl = scratch("bad.jsonl");
  std::ofstream(jl) << R"({"system": "s", "user": "u", "ground_truth": "g"})" << "\n{broken\n";
  try {
    dataset_load(jl.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dataset_load(scratch("missing.jsonl").string()), std::runtime_error);
}

TEST(Dataset, EpochOrderAndCursor) {
  const auto a = epoch_order(10, 7, 0), b = epoch_order(10, 7, 0), c = epoch_order(10, 7, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  DataCursor cur;
  const auto first = take_rows(10, 7, cur, 8);
  EXPECT_EQ(std::vector<int64_t>(a.begin(), a.begin() + 8), first);
  const auto next = take_rows(10, 7, cur, 4);  // 2 from epoch 0, then 2 from epoch 1
  EXPECT_EQ(next, (std::vector<int64_t>{a[8], a[9], c[0], c[1]}));
  EXPECT_EQ(cur.epoch, 1);
  EXPECT_EQ(cur.position, 2);
}

TEST(Dataset, ShardsCoverEverythingOnce) {
  for (int size : {1, 2, 3, 4, 7})
    for (int64_t count : {0, 1, 5, 8, 32}) {
      int64_t covered = 0, prev_end = 0;
      for (int r = 0; r < size; ++r) {
        const auto [b, e] = shard_range(count, r, size);
        EXPECT_EQ(b, prev_end);
        EXPECT_LE(e - b, count / size + 1);
        covered += e - b;
        prev_end = e;
      }
      EXPECT_EQ(covered, count);
    }
}

}  // namespace
}  // namespace toolgrpo::io
