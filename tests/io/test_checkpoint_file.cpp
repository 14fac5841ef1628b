// Checkpoint files: round trips, damage and crash detection, the HDF5 layout read back with the raw C API,
// the checkpoint directory (list/latest/prune) and CRC-32C (check value, hardware == table).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <thread>
#include <type_traits>

#include "common/checked_size.hpp"
#include "common/input_error.hpp"
#include "io/checkpoint_file.hpp"

namespace fs = std::filesystem;

namespace toolgrpo::io {
namespace {

// A fresh directory for one test, removed (with its parent when empty) when the test ends.
class Scratch {
 public:
  explicit Scratch(const std::string& name)
      : root_(fs::temp_directory_path() / ("toolgrpo_ckpt_test_" + std::to_string(::getpid()))),
        dir_(root_ / name) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::remove(root_, ec);  // only when empty
  }
  operator const fs::path&() const { return dir_; }
  fs::path operator/(const std::string& name) const { return dir_ / name; }
  std::string string() const { return dir_.string(); }

 private:
  fs::path root_, dir_;
};

// Expects `f` to throw `Error` (CheckpointError: a bad file read, CheckpointWriteError: a failed write) whose
// message contains every one of `parts`.
template <class Error = CheckpointError, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "nothing thrown";
  } catch (const Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "another kind of error: " << e.what();
  }
}
template <class F>
void expect_write_error(F&& f, std::initializer_list<std::string> parts) {
  expect_error<CheckpointWriteError>(std::forward<F>(f), parts);
}

// A damaged checkpoint is bad input (exit code 2 from the executable); a failed write is not.
static_assert(std::is_base_of_v<common::InputError, CheckpointError>);
static_assert(!std::is_base_of_v<common::InputError, CheckpointWriteError>);

// A small, hand-checkable set of tensors of every element type and shape kind.
struct Fixture {
  std::vector<float> q = {1.5f, -2.0f, 0.25f, 3.0f, 4.0f, -5.5f};  // (2, 3) F32
  std::vector<double> d = {1e300, -0.0, 3.141592653589793};        // (3) F64
  std::vector<uint16_t> bf = {0x3f80, 0xbf80, 0x7fc0, 0x0001};     // (2, 2) BF16
  std::vector<uint16_t> h = {0x3c00, 0xc000};                      // (2, 1, 1) F16
  std::vector<int64_t> i = {std::numeric_limits<int64_t>::min(), -1, 0, std::numeric_limits<int64_t>::max()};
  float scalar = 42.5f;     // () F32
  int64_t step_scalar = 7;  // () I64

  std::vector<TensorView> views() const {
    return {
        {"model/model.layers.0.self_attn.q_proj.weight", ElemType::F32, {2, 3}, q.data()},
        {"optim/model.norm.weight/exp_avg", ElemType::F64, {3}, d.data()},
        {"model/model.embed_tokens.weight", ElemType::BF16, {2, 2}, bf.data()},
        {"model/half", ElemType::F16, {2, 1, 1}, h.data()},
        {"data/ids", ElemType::I64, {4}, i.data()},
        {"sched/lr_scale", ElemType::F32, {}, &scalar},
        {"optim/step", ElemType::I64, {}, &step_scalar},
        {"empty/a", ElemType::F32, {0}, nullptr},
        {"empty/b", ElemType::BF16, {2, 0, 3}, nullptr},
    };
  }
  std::vector<MetaItem> meta() const {
    return {
        {"step", int64_t{12}},
        {"min", std::numeric_limits<int64_t>::min()},
        {"lr", 2e-6},
        {"nan", std::numeric_limits<double>::quiet_NaN()},
        {"config_yaml", std::string("run:\n  name: t\n")},
        {"empty", std::string()},
        {"utf8", std::string("h\xc3\xa9llo \xe2\x9c\x93")},
        {"big", std::string(1 << 20, 'x')},
    };
  }
};

TEST(CheckpointFile, FileName) {
  EXPECT_EQ(checkpoint_file_name(12), "ckpt-00000012.h5");
  EXPECT_EQ(checkpoint_file_name(0), "ckpt-00000000.h5");
  EXPECT_EQ(checkpoint_file_name(123456789), "ckpt-123456789.h5");
}

TEST(CheckpointFile, RoundTripEveryTypeAndShape) {
  const Scratch dir("roundtrip");
  const std::string path = (dir / "ckpt-00000012.h5").string();
  const Fixture fx;
  checkpoint_write(path, fx.meta(), fx.views());
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  const CheckpointReader r(path);
  EXPECT_EQ(r.path(), path);
  // Tensors: sorted by path, with type, shape and bytes.
  std::vector<TensorView> want = fx.views();
  std::sort(want.begin(), want.end(),
            [](const TensorView& a, const TensorView& b) { return a.path < b.path; });
  ASSERT_EQ(r.tensors().size(), want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    const auto& got = r.tensors()[k];
    SCOPED_TRACE(want[k].path);
    EXPECT_EQ(got.path, want[k].path);
    EXPECT_EQ(got.type, want[k].type);
    EXPECT_EQ(got.shape, want[k].shape);
    uint64_t n = 1;
    for (int64_t e : want[k].shape) n *= static_cast<uint64_t>(e);
    EXPECT_EQ(got.bytes, n * elem_size(want[k].type));
    std::vector<unsigned char> buf(got.bytes + 1, 0xAB);
    r.read(got.path, buf.data());
    if (got.bytes > 0) {
      EXPECT_EQ(std::memcmp(buf.data(), want[k].data, got.bytes), 0);
    }
    EXPECT_EQ(buf[got.bytes], 0xAB);  // nothing written past the end
    EXPECT_TRUE(r.has(got.path));
  }
  EXPECT_FALSE(r.has("model/nope"));
  EXPECT_FALSE(r.has("meta/step"));

  // Metadata: every type, in key order, without format_version/checksum.
  EXPECT_EQ(r.meta_int("step"), 12);
  EXPECT_EQ(r.meta_int("min"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(r.meta_double("lr"), 2e-6);
  EXPECT_TRUE(std::isnan(r.meta_double("nan")));
  EXPECT_EQ(r.meta_string("config_yaml"), "run:\n  name: t\n");
  EXPECT_EQ(r.meta_string("empty"), "");
  EXPECT_EQ(r.meta_string("utf8"), "h\xc3\xa9llo \xe2\x9c\x93");
  EXPECT_EQ(r.meta_string("big"), std::string(1 << 20, 'x'));
  ASSERT_EQ(r.meta().size(), fx.meta().size());
  for (std::size_t k = 1; k < r.meta().size(); ++k) EXPECT_LT(r.meta()[k - 1].key, r.meta()[k].key);
  EXPECT_TRUE(r.has_meta("step"));
  EXPECT_FALSE(r.has_meta("format_version"));

  // Errors name the file and the key or tensor.
  expect_error([&] { r.meta_int("absent"); }, {path, "absent"});
  expect_error([&] { r.meta_int("lr"); }, {path, "lr", "float"});
  expect_error([&] { r.meta_string("step"); }, {path, "step", "integer"});
  expect_error([&] { r.info("model/nope"); }, {path, "model/nope"});
}

TEST(CheckpointFile, EmptyCheckpoint) {
  const Scratch dir("empty");
  const std::string path = (dir / "ckpt-00000000.h5").string();
  checkpoint_write(path, {}, {});
  const CheckpointReader r(path);
  EXPECT_TRUE(r.meta().empty());
  EXPECT_TRUE(r.tensors().empty());
}

TEST(CheckpointFile, BadInputWritesNothing) {
  const Scratch dir("badinput");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  float x = 1;
  const std::vector<std::vector<TensorView>> bad_tensors = {
      {{"a", ElemType::F32, {}, &x}, {"a", ElemType::F32, {}, &x}},    // twice
      {{"a", ElemType::F32, {}, &x}, {"a/b", ElemType::F32, {}, &x}},  // dataset and group
      {{"/a", ElemType::F32, {}, &x}},
      {{"a//b", ElemType::F32, {}, &x}},
      {{"meta/x", ElemType::F32, {}, &x}},
      {{"a", ElemType::F32, {-1}, &x}},
      {{"a", ElemType::F32, {2}, nullptr}},
  };
  for (const auto& t : bad_tensors) expect_write_error([&] { checkpoint_write(path, {}, t); }, {path, "tensor"});
  expect_write_error(
      [&] {
        checkpoint_write(path, {{"checksum", int64_t{1}}}, {});
      },
      {path, "checksum", "reserved"});
  expect_write_error([&] { checkpoint_write(path, {{"k", int64_t{1}}, {"k", 2.0}}, {}); }, {path, "'k'"});
  expect_write_error([&] { checkpoint_write(path, {{"a/b", int64_t{1}}}, {}); }, {path, "a/b"});
  // A shape whose byte count wraps around in 64 bits: refused before anything is written.
  expect_write_error([&] { checkpoint_write(path, {}, {{"a", ElemType::F32, {4, int64_t{1} << 62}, &x}}); },
                     {path, "tensor 'a'", "2^63"});
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(CheckpointFile, FailingHookRemovesTmp) {
  const Scratch dir("hookfail");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  const Fixture fx;
  CheckpointWriteOptions opt;
  opt.before_commit = [&] {
    EXPECT_TRUE(fs::exists(path + ".tmp"));
    throw std::runtime_error("disk on fire");
  };
  expect_write_error([&] { checkpoint_write(path, fx.meta(), fx.views(), opt); }, {path, "disk on fire"});
  EXPECT_TRUE(fs::is_empty(dir));
  // A missing directory: the error names the file and HDF5's reason.
  const std::string nowhere = (dir / "no" / "such" / "ckpt.h5").string();
  expect_write_error([&] { checkpoint_write(nowhere, fx.meta(), fx.views()); }, {nowhere, "H5Fcreate"});
}

TEST(CheckpointFile, MissingCommitMarkerIsRejected) {
  const Scratch dir("nomarker");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  const std::string copy = (dir / "copy.h5").string();
  const Fixture fx;
  CheckpointWriteOptions opt;
  // Everything but the marker is flushed before the hook, so a copy taken here is a valid HDF5 file.
  opt.before_commit = [&] { fs::copy_file(path + ".tmp", copy); };
  checkpoint_write(path, fx.meta(), fx.views(), opt);
  CheckpointReader{path};
  expect_error([&] { CheckpointReader{copy}; }, {copy, "no commit marker: the save did not complete"});
}

TEST(CheckpointFile, TruncatedAndForeignFilesAreRejected) {
  const Scratch dir("truncated");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  const Fixture fx;
  checkpoint_write(path, fx.meta(), fx.views());
  const auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
  expect_error([&] { CheckpointReader{path}; }, {path, "not a complete HDF5 file (truncated?)"});

  const std::string text = (dir / "text.h5").string();
  std::ofstream(text) << "not hdf5 at all\n";
  expect_error([&] { CheckpointReader{text}; }, {text, "not a complete HDF5 file"});
  const std::string missing = (dir / "missing.h5").string();
  expect_error([&] { CheckpointReader{missing}; }, {missing, "No such file"});
}

// The byte offset of a dataset's data in `path`, by the raw C API.
haddr_t data_offset(const std::string& path, const std::string& dataset) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0);
  const hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  EXPECT_GE(d, 0);
  const haddr_t off = H5Dget_offset(d);
  EXPECT_NE(off, HADDR_UNDEF);
  EXPECT_GE(H5Dclose(d), 0);
  EXPECT_GE(H5Fclose(f), 0);
  return off;
}

TEST(CheckpointFile, FlippedBitNamesTheTensor) {
  const Scratch dir("bitflip");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  const Fixture fx;
  checkpoint_write(path, fx.meta(), fx.views());
  const std::string victim = "model/model.layers.0.self_attn.q_proj.weight";
  const haddr_t off = data_offset(path, "/" + victim);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(off + 5));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(off + 5));
    f.write(&c, 1);
  }
  const CheckpointReader r(path);  // the metadata is intact
  std::vector<float> buf(6);
  expect_error([&] { r.read(victim, buf.data()); },
               {path, "tensor '" + victim + "'", "checksum mismatch (stored 0x", "the file is damaged"});
  double d[3];
  r.read("optim/model.norm.weight/exp_avg", d);  // other tensors still read
  EXPECT_EQ(d[2], 3.141592653589793);
}

TEST(CheckpointFile, ChangedMetadataIsRejected) {
  const Scratch dir("metaflip");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  const Fixture fx;
  checkpoint_write(path, fx.meta(), fx.views());
  {  // rewrite /meta/step behind the checkpoint code's back
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t d = H5Dopen2(f, "/meta/step", H5P_DEFAULT);
    ASSERT_GE(d, 0);
    const int64_t v = 13;
    EXPECT_GE(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), 0);
    EXPECT_GE(H5Dclose(d), 0);
    EXPECT_GE(H5Fclose(f), 0);
  }
  expect_error([&] { CheckpointReader{path}; }, {path, "content checksum mismatch", "damaged"});
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Sizes from a file's shapes: a product that wraps around in 64 bits, or a negative extent, is an InputError
// naming the file and tensor, not a small number (the issue's [4, 2^62 + 5120] of F32 wraps to 81,920 bytes).
TEST(CheckedSize, ShapeBytesRefuseWhatWraps) {
  const std::string where = "f.h5: tensor 'model/model.embed_tokens.weight'";
  EXPECT_EQ(common::shape_bytes_or_throw({4, 5120}, 4, where), 81920u);
  EXPECT_EQ(common::shape_bytes_or_throw({}, 8, where), 8u);
  EXPECT_EQ(common::shape_bytes_or_throw({3, 0, int64_t{1} << 62}, 4, where), 0u);
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{4, (int64_t{1} << 62) + 5120},
                                            std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40},
                                            std::vector<int64_t>{int64_t{1} << 61, 4}, std::vector<int64_t>{2, -1}}) {
    try {
      common::shape_bytes_or_throw(shape, 4, where);
      ADD_FAILURE() << "accepted " << shape_text(shape);
    } catch (const common::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(where + ": shape " + shape_text(shape)), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(common::checked_add(UINT64_MAX, 1), std::nullopt);
  EXPECT_EQ(common::checked_add(2, 3), 5u);
}

// A checkpoint held in memory (an HDF5 file image) reads as the file does; a damaged image is refused the same way.
TEST(CheckpointFile, InMemoryImageReadsAsTheFile) {
  const Scratch dir("image");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  const Fixture fx;
  checkpoint_write(path, fx.meta(), fx.views());
  const std::string bytes = file_bytes(path);
  const CheckpointReader f(path), m("in-memory.h5", bytes.data(), bytes.size());
  EXPECT_EQ(m.path(), "in-memory.h5");
  EXPECT_EQ(m.meta_checksum(), f.meta_checksum());
  ASSERT_EQ(m.meta().size(), f.meta().size());
  for (std::size_t k = 0; k < f.meta().size(); ++k) EXPECT_EQ(m.meta()[k].key, f.meta()[k].key);
  EXPECT_EQ(m.meta_string("config_yaml"), "run:\n  name: t\n");
  ASSERT_EQ(m.tensors().size(), f.tensors().size());
  for (std::size_t k = 0; k < f.tensors().size(); ++k) {
    EXPECT_EQ(m.tensors()[k].path, f.tensors()[k].path);
    EXPECT_EQ(m.tensors()[k].shape, f.tensors()[k].shape);
    EXPECT_EQ(m.tensors()[k].bytes, f.tensors()[k].bytes);
  }
  std::vector<float> q(6);
  m.read("model/model.layers.0.self_attn.q_proj.weight", q.data());
  EXPECT_EQ(q, fx.q);
  expect_error([&] { CheckpointReader("half.h5", bytes.data(), bytes.size() / 2); },
               {"half.h5", "not a complete HDF5 file"});
  const std::string junk = "not an HDF5 file";
  expect_error([&] { CheckpointReader("junk.h5", junk.data(), junk.size()); }, {"junk.h5", "not a complete HDF5 file"});
  expect_error([&] { CheckpointReader("none.h5", nullptr, 0); }, {"none.h5", "empty"});
}

// A tensor stored otherwise than toolgrpo stores it (here in chunks, its path, dtype, shape and checksum intact,
// so that every checksum still matches) is refused when the file is opened, naming the tensor.
TEST(CheckpointFile, TensorStoredInChunksIsRejected) {
  const Scratch dir("chunked");
  const std::string path = (dir / "ckpt-00000001.h5").string();
  const Fixture fx;
  checkpoint_write(path, fx.meta(), fx.views());
  const std::string victim = "/model/model.layers.0.self_attn.q_proj.weight";
  {
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t old = H5Dopen2(f, victim.c_str(), H5P_DEFAULT);
    ASSERT_GE(old, 0);
    uint32_t crc = 0;
    const hid_t a = H5Aopen(old, "crc32c", H5P_DEFAULT);
    EXPECT_GE(H5Aread(a, H5T_NATIVE_UINT32, &crc), 0);
    EXPECT_GE(H5Aclose(a), 0);
    EXPECT_GE(H5Dclose(old), 0);
    EXPECT_GE(H5Ldelete(f, victim.c_str(), H5P_DEFAULT), 0);
    const hsize_t dims[2] = {2, 3}, chunk[2] = {1, 3};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    EXPECT_GE(H5Pset_chunk(dcpl, 2, chunk), 0);
    const hid_t d = H5Dcreate2(f, victim.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    EXPECT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, fx.q.data()), 0);
    const hid_t str = H5Tcopy(H5T_C_S1);
    EXPECT_GE(H5Tset_size(str, H5T_VARIABLE), 0);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const char* f32 = "F32";
    const hid_t da = H5Acreate2(d, "dtype", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Awrite(da, str, &f32), 0);
    const hid_t ca = H5Acreate2(d, "crc32c", H5T_STD_U32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Awrite(ca, H5T_NATIVE_UINT32, &crc), 0);
    for (hid_t id : {da, ca}) EXPECT_GE(H5Aclose(id), 0);
    EXPECT_GE(H5Tclose(str), 0);
    for (hid_t id : {space, scalar}) EXPECT_GE(H5Sclose(id), 0);
    EXPECT_GE(H5Pclose(dcpl), 0);
    EXPECT_GE(H5Dclose(d), 0);
    EXPECT_GE(H5Fclose(f), 0);
  }
  expect_error([&] { CheckpointReader{path}; },
               {path, "tensor 'model/model.layers.0.self_attn.q_proj.weight'", "in chunks", "contiguous"});
}

// The layout, read by name with the plain HDF5 C API (what h5py and h5dump see).
TEST(CheckpointFile, LayoutReadableWithRawHdf5) {
  const Scratch dir("layout");
  const std::string path = (dir / "ckpt-00000012.h5").string();
  const Fixture fx;
  checkpoint_write(path, fx.meta(), fx.views());

  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  // A tensor: native float, contiguous, dims, data, crc32c and dtype attributes.
  const hid_t d = H5Dopen2(f, "/model/model.layers.0.self_attn.q_proj.weight", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  const hid_t dcpl = H5Dget_create_plist(d);
  EXPECT_EQ(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
  EXPECT_GE(H5Pclose(dcpl), 0);
  const hid_t t = H5Dget_type(d);
  EXPECT_GT(H5Tequal(t, H5T_NATIVE_FLOAT), 0);
  EXPECT_GE(H5Tclose(t), 0);
  const hid_t s = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  EXPECT_EQ(H5Sget_simple_extent_ndims(s), 2);
  H5Sget_simple_extent_dims(s, dims, nullptr);
  EXPECT_EQ(dims[0], 2u);
  EXPECT_EQ(dims[1], 3u);
  EXPECT_GE(H5Sclose(s), 0);
  float q[6] = {};
  EXPECT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, q), 0);
  EXPECT_EQ(std::memcmp(q, fx.q.data(), sizeof q), 0);
  const hid_t a = H5Aopen(d, "crc32c", H5P_DEFAULT);
  ASSERT_GE(a, 0);
  uint32_t crc = 0;
  EXPECT_GE(H5Aread(a, H5T_NATIVE_UINT32, &crc), 0);
  EXPECT_EQ(crc, crc32c(fx.q.data(), sizeof q));
  EXPECT_GE(H5Aclose(a), 0);
  EXPECT_GT(H5Aexists(d, "dtype"), 0);
  EXPECT_GE(H5Dclose(d), 0);

  // BF16: uint16 with dtype "BF16" (a variable-length UTF-8 string).
  const hid_t b = H5Dopen2(f, "/model/model.embed_tokens.weight", H5P_DEFAULT);
  ASSERT_GE(b, 0);
  const hid_t bt = H5Dget_type(b);
  EXPECT_GT(H5Tequal(bt, H5T_NATIVE_UINT16), 0);
  EXPECT_GE(H5Tclose(bt), 0);
  const hid_t ba = H5Aopen(b, "dtype", H5P_DEFAULT);
  const hid_t ft = H5Aget_type(ba);
  EXPECT_GT(H5Tis_variable_str(ft), 0);
  EXPECT_EQ(H5Tget_cset(ft), H5T_CSET_UTF8);
  EXPECT_GE(H5Tclose(ft), 0);
  const hid_t st = H5Tcopy(H5T_C_S1);  // HDF5 does not convert ASCII <-> UTF-8: read as UTF-8 (as h5py does)
  EXPECT_GE(H5Tset_size(st, H5T_VARIABLE), 0);
  EXPECT_GE(H5Tset_cset(st, H5T_CSET_UTF8), 0);
  char* dtype = nullptr;
  EXPECT_GE(H5Aread(ba, st, &dtype), 0);
  EXPECT_STREQ(dtype, "BF16");
  H5free_memory(dtype);
  EXPECT_GE(H5Tclose(st), 0);
  EXPECT_GE(H5Aclose(ba), 0);
  EXPECT_GE(H5Dclose(b), 0);

  // A scalar tensor has a scalar dataspace.
  const hid_t sc = H5Dopen2(f, "/sched/lr_scale", H5P_DEFAULT);
  const hid_t scs = H5Dget_space(sc);
  EXPECT_EQ(H5Sget_simple_extent_type(scs), H5S_SCALAR);
  EXPECT_GE(H5Sclose(scs), 0);
  EXPECT_GE(H5Dclose(sc), 0);

  // /meta: format_version 1, step, checksum == the commit marker on the root group.
  const auto read_i64 = [&](const char* name) {
    int64_t v = -1;
    const hid_t m = H5Dopen2(f, name, H5P_DEFAULT);
    EXPECT_GE(m, 0) << name;
    EXPECT_GE(H5Dread(m, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), 0);
    EXPECT_GE(H5Dclose(m), 0);
    return v;
  };
  EXPECT_EQ(read_i64("/meta/format_version"), 1);
  EXPECT_EQ(read_i64("/meta/step"), 12);
  uint32_t checksum = 0, marker = 1;
  const hid_t cs = H5Dopen2(f, "/meta/checksum", H5P_DEFAULT);
  EXPECT_GE(H5Dread(cs, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &checksum), 0);
  EXPECT_GE(H5Dclose(cs), 0);
  const hid_t ma = H5Aopen_by_name(f, "/", "toolgrpo_commit", H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ma, 0);
  EXPECT_GE(H5Aread(ma, H5T_NATIVE_UINT32, &marker), 0);
  EXPECT_GE(H5Aclose(ma), 0);
  EXPECT_EQ(checksum, marker);
  EXPECT_GE(H5Fclose(f), 0);

  // The checksum is the documented one, recomputed from the reader's view.
  const CheckpointReader r(path);
  std::vector<uint32_t> crcs;
  std::vector<MetaItem> meta = r.meta();
  meta.push_back({"format_version", int64_t{1}});
  for (const auto& info : r.tensors()) {
    std::vector<unsigned char> buf(info.bytes);
    r.read(info.path, buf.data());
    crcs.push_back(crc32c(buf.data(), buf.size()));
  }
  EXPECT_EQ(checkpoint_content_checksum(meta, r.tensors(), crcs), checksum);
}

// A real crash: a child process is killed (SIGKILL) right before the commit marker of its save.
TEST(CheckpointFile, KilledSaveLeavesPreviousCheckpoint) {
  const Scratch dir("crash");
  const Fixture fx;
  const std::string first = (dir / checkpoint_file_name(1)).string();
  const std::string second = (dir / checkpoint_file_name(2)).string();
  checkpoint_write(first, fx.meta(), fx.views());
  checkpoint_latest_set(dir.string(), checkpoint_file_name(1));

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    CheckpointWriteOptions opt;
    opt.before_commit = [] { ::raise(SIGKILL); };
    try {
      checkpoint_write(second, fx.meta(), fx.views(), opt);
    } catch (...) {
    }
    ::_exit(3);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  EXPECT_FALSE(fs::exists(second));
  EXPECT_TRUE(fs::exists(second + ".tmp"));
  expect_error([&] { CheckpointReader{second + ".tmp"}; }, {"no commit marker"});
  EXPECT_EQ(checkpoint_latest(dir.string()), first);
  EXPECT_EQ(checkpoint_list(dir.string()), std::vector<std::string>{first});
  const CheckpointReader r(first);
  EXPECT_EQ(r.meta_int("step"), 12);
  std::vector<float> q(6);
  r.read("model/model.layers.0.self_attn.q_proj.weight", q.data());
  EXPECT_EQ(q, fx.q);

  checkpoint_prune(dir.string(), 3);
  EXPECT_FALSE(fs::exists(second + ".tmp"));
  EXPECT_TRUE(fs::exists(first));
}

TEST(CheckpointDir, ListLatestPrune) {
  const Scratch dir("dir");
  const std::string d = dir.string();
  EXPECT_TRUE(checkpoint_list((dir / "absent").string()).empty());
  EXPECT_EQ(checkpoint_latest(d), "");
  float x = 1;
  for (int64_t step : {3, 10, 1, 7, 20})
    checkpoint_write((dir / checkpoint_file_name(step)).string(), {{"step", step}},
                     {{"model/x", ElemType::F32, {}, &x}});
  for (const char* junk :
       {"ckpt-00000030.h5.tmp", "latest.tmp", "ckpt-5.h5", "notes.txt", "ckpt-0000000x.h5"})
    std::ofstream(dir / junk) << "junk";
  const auto full = [&](int64_t s) { return (dir / checkpoint_file_name(s)).string(); };
  EXPECT_EQ(checkpoint_list(d), (std::vector<std::string>{full(20), full(10), full(7), full(3), full(1)}));

  checkpoint_latest_set(d, checkpoint_file_name(3));
  EXPECT_EQ(checkpoint_latest(d), full(3));
  std::ifstream in(dir / "latest");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "ckpt-00000003.h5\n");

  checkpoint_prune(d, 2);  // keeps 20, 10 and the one latest names (3)
  EXPECT_EQ(checkpoint_list(d), (std::vector<std::string>{full(20), full(10), full(3)}));
  EXPECT_FALSE(fs::exists(dir / "ckpt-00000030.h5.tmp"));
  EXPECT_FALSE(fs::exists(dir / "latest.tmp"));
  EXPECT_TRUE(fs::exists(dir / "notes.txt"));
  EXPECT_TRUE(fs::exists(dir / "ckpt-5.h5"));
  EXPECT_EQ(checkpoint_latest(d), full(3));

  checkpoint_latest_set(d, checkpoint_file_name(20));
  checkpoint_prune(d, 1);
  EXPECT_EQ(checkpoint_list(d), std::vector<std::string>{full(20)});
  EXPECT_THROW(checkpoint_prune(d, 0), std::invalid_argument);
  EXPECT_THROW(checkpoint_latest_set(d, "a/b"), CheckpointWriteError);
  std::ofstream(dir / "latest", std::ios::trunc) << "../elsewhere/ckpt-00000001.h5\n";
  expect_error([&] { checkpoint_latest(d); }, {(dir / "latest").string(), "not a checkpoint file name"});
}

// Saves from a background thread while the main thread reads: HDF5 use is serialised.
TEST(CheckpointFile, ConcurrentWriteAndRead) {
  const Scratch dir("threads");
  const Fixture fx;
  const std::string base = (dir / "base.h5").string();
  checkpoint_write(base, fx.meta(), fx.views());
  std::vector<float> big(1 << 18);
  for (std::size_t k = 0; k < big.size(); ++k) big[k] = static_cast<float>(k);
  std::thread writer([&] {
    for (int k = 0; k < 8; ++k)
      checkpoint_write((dir / checkpoint_file_name(k)).string(), fx.meta(),
                       {{"model/big", ElemType::F32, {static_cast<int64_t>(big.size())}, big.data()}});
  });
  for (int k = 0; k < 20; ++k) {
    const CheckpointReader r(base);
    std::vector<float> q(6);
    r.read("model/model.layers.0.self_attn.q_proj.weight", q.data());
    EXPECT_EQ(q, fx.q);
  }
  writer.join();
  for (const std::string& p : checkpoint_list(dir.string())) {
    const CheckpointReader r(p);
    std::vector<float> got(big.size());
    r.read("model/big", got.data());
    EXPECT_EQ(got, big);
  }
}

TEST(Crc32c, CheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(detail::crc32c_portable("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  // Continuation: crc(A || B) == crc(B, crc(A)).
  EXPECT_EQ(crc32c("456789", 6, crc32c("123", 3)), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  const std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);  // RFC 3720 B.4: 32 bytes of 0xff
}

TEST(Crc32c, CombineEqualsTheWholeMessage) {
  // RFC 3720's check value from two halves, and a message cut at random points into up to 6 pieces.
  EXPECT_EQ(crc32c_combine(crc32c("1234", 4), crc32c("56789", 5), 5), 0xE3069283u);
  EXPECT_EQ(crc32c_combine(crc32c("123456789", 9), crc32c(nullptr, 0), 0), 0xE3069283u);
  EXPECT_EQ(crc32c_combine(crc32c(nullptr, 0), crc32c("123456789", 9), 9), 0xE3069283u);
  std::mt19937_64 rng(7);
  std::vector<unsigned char> buf(300007);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (int round = 0; round < 100; ++round) {
    const std::size_t len = std::uniform_int_distribution<std::size_t>(0, buf.size())(rng);
    std::vector<std::size_t> cuts = {0, len};
    for (int k = std::uniform_int_distribution<int>(0, 5)(rng); k > 0; --k)
      cuts.push_back(std::uniform_int_distribution<std::size_t>(0, len)(rng));
    std::sort(cuts.begin(), cuts.end());
    uint32_t crc = 0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i)
      crc = crc32c_combine(crc, crc32c(buf.data() + cuts[i], cuts[i + 1] - cuts[i]), cuts[i + 1] - cuts[i]);
    ASSERT_EQ(crc, crc32c(buf.data(), len)) << "round " << round << ", " << cuts.size() - 1 << " pieces";
  }
  // Byte counts past 32 bits: the shift by 2^33 bytes equals two shifts by 2^32 (combine is linear).
  const uint64_t half = uint64_t{1} << 32;
  const uint32_t a = crc32c("abc", 3);
  EXPECT_EQ(crc32c_combine(crc32c_combine(a, 0, half), 0, half), crc32c_combine(a, 0, 2 * half));
}

TEST(Crc32c, HardwareMatchesTable) {
  if (!detail::crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  EXPECT_EQ(detail::crc32c_hardware("123456789", 9), 0xE3069283u);
  std::mt19937_64 rng(12345);
  std::vector<unsigned char> buf(200003);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  std::uniform_int_distribution<std::size_t> offset(0, 15);
  for (std::size_t len : {1ul, 3ul, 7ul, 9ul, 15ul, 17ul, 255ul, 4097ul, 12287ul, 12289ul, 24577ul, 36867ul,
                          99999ul, 199981ul}) {
    const std::size_t off = offset(rng);
    const uint32_t seed = static_cast<uint32_t>(rng());
    EXPECT_EQ(detail::crc32c_hardware(buf.data() + off, len, seed),
              detail::crc32c_portable(buf.data() + off, len, seed))
        << "len " << len << " offset " << off;
    EXPECT_EQ(detail::crc32c_hardware(buf.data() + off, len), detail::crc32c_portable(buf.data() + off, len));
  }
  for (int k = 0; k < 200; ++k) {
    const std::size_t len = std::uniform_int_distribution<std::size_t>(0, 60000)(rng) | 1;
    const std::size_t off = offset(rng);
    ASSERT_EQ(detail::crc32c_hardware(buf.data() + off, len), detail::crc32c_portable(buf.data() + off, len))
        << "len " << len;
  }
}

}  // namespace
}  // namespace toolgrpo::io
