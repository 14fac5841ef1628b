// Collective checkpoint writes at np 1, 2, 4: tensors of every type and rank cut at random element offsets
// into parts spread over the ranks, written together through parallel HDF5, read back by the serial reader
// (which verifies each tensor's combined checksum against its bytes) and compared with the inputs and with
// the content checksum of the same checkpoint written whole by one rank; failures on one rank reach every
// rank.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/checkpoint_file.hpp"
#include "parallel/comm.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::io {
namespace {

namespace fs = std::filesystem;

parallel::Comm& world() {
  return testing::mpi_runtime().world();
}

CheckpointGroup group_of(const parallel::Comm& c) {
  return {c.rank(), c.size(), c.mpi_handle(), [&c](const std::string& s) { return c.allgather(s); }};
}

// A directory every rank names the same, removed by rank 0 at the end.
struct SharedDir {
  fs::path path;
  explicit SharedDir(const std::string& tag) {
    std::string p =
        (fs::temp_directory_path() / ("toolgrpo_collective_" + tag + "_" + std::to_string(getpid())))
            .string();
    world().broadcast(p, 0);
    path = p;
    if (world().rank() == 0) fs::create_directories(path);
    world().barrier();
  }
  ~SharedDir() {
    world().barrier();
    if (world().rank() == 0) fs::remove_all(path);
  }
};

// Tensors of each element type and of rank 0 to 3 (one empty), filled from a seed: the same on every rank.
struct Fixture {
  std::vector<float> a, b, s;
  std::vector<double> c;
  std::vector<int64_t> d;
  std::vector<uint16_t> e;
  std::vector<TensorView> views;
  std::vector<MetaItem> meta;
  Fixture() {
    std::mt19937_64 rng(99);
    const auto fill = [&](auto& v, std::size_t n) {
      v.resize(n);
      for (auto& x : v) x = static_cast<std::decay_t<decltype(x)>>(rng() % 100000) / 7;
    };
    fill(a, 7 * 5 * 3);
    fill(b, 1000);
    fill(c, 4 * 9);
    fill(d, 3);
    fill(e, 2 * 6);
    fill(s, 1);
    views = {
        {"model/a", ElemType::F32, {7, 5, 3}, a.data()},      {"model/b", ElemType::F32, {1000}, b.data()},
        {"optim/c/exp_avg", ElemType::F64, {4, 9}, c.data()}, {"optim/d", ElemType::I64, {3}, d.data()},
        {"model/e", ElemType::BF16, {2, 6}, e.data()},        {"model/empty", ElemType::F32, {0, 4}, nullptr},
        {"model/scalar", ElemType::F32, {}, s.data()}};
    meta = {{"step", MetaValue(int64_t{12})},
            {"lr", MetaValue(2e-6)},
            {"config_yaml", MetaValue(std::string(100000, 'y'))}};
  }
};

// Each tensor cut at random element offsets (the same cuts on every rank), the pieces dealt out at random
// (so a rank may hold several pieces of a tensor, or none); this rank's pieces as parts.
std::vector<TensorPart> parts_for(const Fixture& fx, int rank, int size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<TensorPart> mine;
  for (std::size_t i = 0; i < fx.views.size(); ++i) {
    const TensorView& t = fx.views[i];
    uint64_t n = 1;
    for (int64_t x : t.shape) n *= static_cast<uint64_t>(x);
    std::vector<uint64_t> cuts = {0, n};
    for (int k = 0; k < 5; ++k) cuts.push_back(n == 0 ? 0 : rng() % (n + 1));
    std::sort(cuts.begin(), cuts.end());
    for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
      const int owner = static_cast<int>(rng() % static_cast<uint64_t>(size));
      if (owner != rank || cuts[k + 1] == cuts[k]) continue;
      mine.push_back({i, cuts[k], cuts[k + 1] - cuts[k],
                      static_cast<const char*>(t.data) + cuts[k] * elem_size(t.type)});
    }
  }
  return mine;
}

TEST(CheckpointCollective, RandomPartsMatchTheWholeWrite) {
  const SharedDir dir("parts");
  const Fixture fx;
  const CheckpointGroup g = group_of(world());
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::string together = (dir.path / ("together" + std::to_string(seed) + ".h5")).string();
    const std::string whole = (dir.path / ("whole" + std::to_string(seed) + ".h5")).string();
    checkpoint_write_collective(together, fx.meta, fx.views, parts_for(fx, g.rank, g.size, seed), g);
    EXPECT_FALSE(fs::exists(together + ".tmp"));
    if (g.rank != 0) continue;
    checkpoint_write(whole, fx.meta, fx.views);
    const CheckpointReader r(together), w(whole);
    EXPECT_EQ(r.meta_checksum(), w.meta_checksum());  // the same content checksum: the same per-tensor crcs
    EXPECT_EQ(r.meta_int("step"), 12);
    EXPECT_EQ(r.meta_string("config_yaml"), std::string(100000, 'y'));
    ASSERT_EQ(r.tensors().size(), fx.views.size());
    for (const TensorView& t : fx.views) {
      const CheckpointReader::TensorInfo& info = r.info(t.path);
      EXPECT_EQ(info.shape, t.shape) << t.path;
      EXPECT_EQ(info.type, t.type) << t.path;
      std::vector<char> got(info.bytes + 1, 'z');
      r.read(t.path, got.data());  // throws when the bytes do not match the stored (combined) checksum
      if (info.bytes > 0) {
        EXPECT_EQ(std::memcmp(got.data(), t.data, info.bytes), 0) << t.path;
      }
    }
  }
}

// Each rank reads its parts of every tensor (cut at other random offsets than the writer's); the parts'
// checksums together match the stored ones, and a flipped bit in one part is found whichever rank read it.
TEST(CheckpointCollective, PartsReadByTheRanksAreVerifiedTogether) {
  const SharedDir dir("read");
  const Fixture fx;
  const CheckpointGroup g = group_of(world());
  const std::string path = (dir.path / "ckpt.h5").string();
  checkpoint_write_collective(path, fx.meta, fx.views, parts_for(fx, g.rank, g.size, 11), g);
  std::vector<std::string> paths;
  for (const TensorView& t : fx.views) paths.push_back(t.path);
  const auto read_mine = [&](const CheckpointReader& r, uint64_t seed, std::vector<PartChecksum>& sums) {
    for (const TensorPart& p : parts_for(fx, g.rank, g.size, seed)) {
      const std::size_t size = elem_size(fx.views[p.tensor].type);
      std::vector<char> got(p.count * size + 1, 'z');
      sums.push_back(
          {p.tensor, p.offset, p.count, r.read_part(paths[p.tensor], p.offset, p.count, got.data())});
      EXPECT_EQ(std::memcmp(got.data(), p.data, p.count * size), 0) << paths[p.tensor] << " at " << p.offset;
      EXPECT_EQ(got.back(), 'z');  // nothing written past the part
    }
  };
  {
    const CheckpointReader r(path);
    std::vector<PartChecksum> sums;
    read_mine(r, 12, sums);
    checkpoint_verify_parts(&r, paths, sums, g, "");
    // Parts that leave elements out are refused on every rank.
    std::vector<PartChecksum> fewer = sums;
    if (g.rank == 0 && !fewer.empty()) fewer.pop_back();
    EXPECT_THROW(checkpoint_verify_parts(&r, paths, fewer, g, ""), CheckpointError);
    // One rank's error reaches every rank.
    try {
      checkpoint_verify_parts(&r, paths, sums, g, g.rank == g.size - 1 ? "disk on fire" : "");
      ADD_FAILURE() << "accepted";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(g.size - 1) + ": disk on fire"),
                std::string::npos)
          << e.what();
    }
  }
  world().barrier();
  // Flip one bit of model/b's element 500.
  if (g.rank == 0) {
    haddr_t off = 0;
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t d = H5Dopen2(f, "/model/b", H5P_DEFAULT);
    off = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(off + 500 * 4 + 1));
    char c = 0;
    file.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    file.seekp(static_cast<std::streamoff>(off + 500 * 4 + 1));
    file.write(&c, 1);
  }
  world().barrier();
  const CheckpointReader r(path);
  std::vector<PartChecksum> sums;
  for (const TensorPart& p : parts_for(fx, g.rank, g.size, 13)) {
    std::vector<char> got(p.count * elem_size(fx.views[p.tensor].type));
    sums.push_back(
        {p.tensor, p.offset, p.count, r.read_part(paths[p.tensor], p.offset, p.count, got.data())});
  }
  try {
    checkpoint_verify_parts(&r, paths, sums, g, "");
    ADD_FAILURE() << "the flipped bit was not found";
  } catch (const CheckpointError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("tensor 'model/b': checksum mismatch"), std::string::npos) << what;
    EXPECT_NE(what.find("damaged"), std::string::npos) << what;
  }
}

// Every rank gets the same error, and no file is left under the name or its .tmp name.
template <class F>
void expect_refused_everywhere(const std::string& path, F&& write, const std::vector<std::string>& words) {
  bool thrown = false;
  try {
    write();
  } catch (const CheckpointWriteError& e) {  // a failed write, not a bad file
    thrown = true;
    const std::string what = e.what();
    for (const std::string& w : words) EXPECT_NE(what.find(w), std::string::npos) << what;
  }
  EXPECT_TRUE(thrown);
  world().barrier();
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

// The last rank drops its last part: elements no rank writes. The seed is the first from 3 at which the last
// rank holds a part; every rank finds the same one.
TEST(CheckpointCollective, ElementsNoRankWritesAreRefusedEverywhere) {
  const SharedDir dir("unwritten");
  const Fixture fx;
  const CheckpointGroup g = group_of(world());
  const std::string path = (dir.path / "ckpt.h5").string();
  uint64_t seed = 3;
  while (seed < 100 && parts_for(fx, g.size - 1, g.size, seed).empty()) ++seed;
  std::vector<TensorPart> parts = parts_for(fx, g.rank, g.size, seed);
  ASSERT_FALSE(parts_for(fx, g.size - 1, g.size, seed).empty()) << "no seed gives the last rank a part";
  if (g.rank == g.size - 1) parts.pop_back();
  expect_refused_everywhere(path, [&] { checkpoint_write_collective(path, fx.meta, fx.views, parts, g); },
                            {path, "unwritten"});
}

TEST(CheckpointCollective, APartOutsideItsTensorIsRefusedEverywhere) {
  const SharedDir dir("outside");
  const Fixture fx;
  const CheckpointGroup g = group_of(world());
  const std::string path = (dir.path / "ckpt.h5").string();
  // The last rank adds a part of model/b (1000 elements) that reaches past its end.
  std::vector<TensorPart> parts = parts_for(fx, g.rank, g.size, 3);
  if (g.rank == g.size - 1) parts.push_back({1, 990, 20, fx.b.data()});
  expect_refused_everywhere(path, [&] { checkpoint_write_collective(path, fx.meta, fx.views, parts, g); },
                            {path, "rank " + std::to_string(g.size - 1), "model/b", "outside"});
}

TEST(CheckpointCollective, AFileRankZeroCannotCreateIsRefusedEverywhere) {
  const SharedDir dir("absent");
  const Fixture fx;
  const CheckpointGroup g = group_of(world());
  // A directory that does not exist: rank 0 cannot create the file.
  const std::string nowhere = (dir.path / "absent" / "ckpt.h5").string();
  expect_refused_everywhere(
      nowhere,
      [&] { checkpoint_write_collective(nowhere, fx.meta, fx.views, parts_for(fx, g.rank, g.size, 3), g); },
      {nowhere, "rank 0"});
}

TEST(CheckpointCollective, AFailureBeforeTheCommitLeavesNoFile) {
  const SharedDir dir("commit");
  const Fixture fx;
  const CheckpointGroup g = group_of(world());
  const std::string path = (dir.path / "ckpt.h5").string();
  // Rank 0 fails just before the commit marker: the .tmp file is removed on every path.
  CheckpointWriteOptions opt;
  opt.before_commit = [] { throw std::runtime_error("interrupted before the commit"); };
  expect_refused_everywhere(
      path,
      [&] { checkpoint_write_collective(path, fx.meta, fx.views, parts_for(fx, g.rank, g.size, 3), g, opt); },
      {path, "interrupted before the commit"});
}

}  // namespace
}  // namespace toolgrpo::io
