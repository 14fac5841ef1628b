// Checkpoint files (HDF5 layout, checksums, commit marker, atomic rename), the checkpoint directory and
// CRC-32C; see checkpoint_file.hpp.
#include "io/checkpoint_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <utility>

#include "io/checkpoint_detail.hpp"
#include "io/hdf5.hpp"

namespace toolgrpo::io {
using namespace detail;  // the helpers checkpoint_parts.cpp shares
namespace {

namespace fs = std::filesystem;

constexpr int64_t kFormatVersion = 1;
constexpr const char* kCommitAttr = "toolgrpo_commit";
constexpr const char* kCrcAttr = "crc32c";
constexpr const char* kDtypeAttr = "dtype";
constexpr const char* kMetaGroup = "meta";
constexpr const char* kFormatKey = "format_version";
constexpr const char* kChecksumKey = "checksum";

// ----------------------------------------------------------------------------------------------------------
// POSIX calls: checked at the call site like the HDF5 ones, with errno's text.

template <class T, class What>
T sys_check(T value, const char* call, const char* file, int line, What&& what) {
  if (value < 0) {
    const int err = errno;
    std::string name = call;
    name = name.substr(0, name.find('('));
    throw std::runtime_error(h5::short_file(file) + ":" + std::to_string(line) + ": " + what() + ": " + name +
                             " failed: " + std::strerror(err));
  }
  return value;
}
#define TOOLGRPO_SYS_CHECK(expr, what) \
  sys_check((expr), #expr, __FILE__, __LINE__, [&]() -> std::string { return (what); })

// A POSIX file descriptor, closed once.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

}  // namespace

namespace detail {

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

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace detail

namespace {

// ----------------------------------------------------------------------------------------------------------
// Element types.

}  // namespace

namespace detail {

hid_t native_type(ElemType t) {
  switch (t) {
    case ElemType::F32:
      return H5T_NATIVE_FLOAT;
    case ElemType::F64:
      return H5T_NATIVE_DOUBLE;
    case ElemType::I64:
      return H5T_NATIVE_INT64;
    case ElemType::BF16:
    case ElemType::F16:
      return H5T_NATIVE_UINT16;
  }
  throw std::invalid_argument("checkpoint: unknown element type " + std::to_string(static_cast<int>(t)));
}

}  // namespace detail

namespace {

bool elem_from_name(const std::string& name, ElemType& t) {
  for (ElemType c : {ElemType::F32, ElemType::F64, ElemType::BF16, ElemType::F16, ElemType::I64})
    if (name == elem_name(c)) {
      t = c;
      return true;
    }
  return false;
}

// Whether an HDF5 dataset type (class, size, sign) stores `t` as this writer does.
bool hdf5_type_matches(ElemType t, H5T_class_t cls, std::size_t size, H5T_sign_t sign) {
  switch (t) {
    case ElemType::F32:
      return cls == H5T_FLOAT && size == 4;
    case ElemType::F64:
      return cls == H5T_FLOAT && size == 8;
    case ElemType::I64:
      return cls == H5T_INTEGER && size == 8 && sign == H5T_SGN_2;
    case ElemType::BF16:
    case ElemType::F16:
      return cls == H5T_INTEGER && size == 2 && sign == H5T_SGN_NONE;
  }
  return false;
}

}  // namespace

namespace detail {

// Element count of `shape` ({} is one element); throws on negative extents or overflow.
uint64_t element_count(const std::vector<int64_t>& shape, const std::string& what) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument(what + ": negative extent " + std::to_string(d));
    if (d != 0 && n > UINT64_MAX / static_cast<uint64_t>(d))
      throw std::invalid_argument(what + ": shape too large");
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

}  // namespace detail

namespace {

// ----------------------------------------------------------------------------------------------------------
// Content checksum: CRC-32C over a byte stream that is the same for the writer (from its arguments) and the
// reader (from /meta and the datasets' attributes): see checkpoint_content_checksum in the header.

class ChecksumStream {
 public:
  void bytes(const void* p, std::size_t n) { crc_ = crc32c(p, n, crc_); }
  void u8(uint8_t v) { bytes(&v, 1); }
  void u32(uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(b, 4);
  }
  void u64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(b, 8);
  }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  uint32_t value() const { return crc_; }

 private:
  uint32_t crc_ = 0;
};

// ----------------------------------------------------------------------------------------------------------
// Input validation (before any file is created).

void validate_path(const std::string& p) {
  const auto bad = [&](const std::string& why) {
    throw std::invalid_argument("tensor path '" + p + "': " + why);
  };
  if (p.empty()) bad("empty");
  if (p.find('\0') != std::string::npos) bad("contains a NUL byte");
  if (p.front() == '/' || p.back() == '/') bad("must not start or end with '/'");
  std::size_t start = 0;
  while (start <= p.size()) {
    const std::size_t end = std::min(p.find('/', start), p.size());
    const std::string seg = p.substr(start, end - start);
    if (seg.empty()) bad("has an empty segment");
    if (seg == "." || seg == "..") bad("has a '" + seg + "' segment");
    if (start == 0 && seg == kMetaGroup) bad("/meta is reserved for metadata");
    start = end + 1;
  }
}

}  // namespace

namespace detail {

// `need_data`: every non-empty tensor has its bytes (a collective write's views carry shapes only).
void validate(const std::vector<MetaItem>& meta, const std::vector<TensorView>& tensors, bool need_data) {
  std::vector<std::string> keys;
  for (const MetaItem& m : meta) {
    const auto bad = [&](const std::string& why) {
      throw std::invalid_argument("meta key '" + m.key + "': " + why);
    };
    if (m.key.empty() || m.key == "." || m.key == "..") bad("not a valid name");
    if (m.key.find('/') != std::string::npos || m.key.find('\0') != std::string::npos)
      bad("contains '/' or NUL");
    if (m.key == kFormatKey || m.key == kChecksumKey) bad("reserved (written by checkpoint_write)");
    if (const auto* s = std::get_if<std::string>(&m.value); s && s->find('\0') != std::string::npos)
      bad("string value contains a NUL byte (HDF5 strings end there)");
    keys.push_back(m.key);
  }
  std::sort(keys.begin(), keys.end());
  if (auto d = std::adjacent_find(keys.begin(), keys.end()); d != keys.end())
    throw std::invalid_argument("meta key '" + *d + "' given twice");

  std::vector<std::string> paths;
  for (const TensorView& t : tensors) {
    validate_path(t.path);
    if (t.shape.size() > H5S_MAX_RANK)
      throw std::invalid_argument("tensor '" + t.path + "': rank " + std::to_string(t.shape.size()) + " > " +
                                  std::to_string(H5S_MAX_RANK));
    const uint64_t n = element_count(t.shape, "tensor '" + t.path + "'");
    (void)elem_size(t.type);  // throws on an unknown type
    if (need_data && n > 0 && t.data == nullptr)
      throw std::invalid_argument("tensor '" + t.path + "': data is null");
    paths.push_back(t.path);
  }
  std::sort(paths.begin(), paths.end());
  for (std::size_t i = 0; i + 1 < paths.size(); ++i) {
    if (paths[i] == paths[i + 1]) throw std::invalid_argument("tensor '" + paths[i] + "' given twice");
  }
  for (const std::string& p : paths) {  // "a" and "a/b": a dataset cannot also be a group
    const auto it = std::lower_bound(paths.begin(), paths.end(), p + "/");
    if (it != paths.end() && it->compare(0, p.size() + 1, p + "/") == 0)
      throw std::invalid_argument("tensor '" + p + "' is also the group of tensor '" + *it + "'");
  }
}

}  // namespace detail

namespace {

// ----------------------------------------------------------------------------------------------------------
// Writing.

uint64_t tensor_bytes(const TensorView& t) {
  return element_count(t.shape, t.path) * elem_size(t.type);
}

h5::Dataspace make_space(const std::vector<int64_t>& shape, const std::string& where) {
  if (shape.empty())
    return h5::Dataspace(TOOLGRPO_H5_CHECK(H5Screate(H5S_SCALAR), "make the dataspace of " + where));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return h5::Dataspace(
      TOOLGRPO_H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                        "make the dataspace of " + where));
}

// Creates one tensor's contiguous dataset with its dtype and crc32c attributes; returns the crc. With `data`
// the bytes are written and their crc computed; without (a collective write: the ranks write the bytes
// later), the space is allocated now and `crc` (the combined crc of the ranks' parts) is recorded.
uint32_t write_tensor(hid_t file, hid_t lcpl, hid_t dcpl, const TensorView& t, const std::string& tmp,
                      bool data, uint32_t crc) {
  const std::string name = "/" + t.path;
  const std::string where = name + " in " + tmp;
  const uint64_t bytes = tensor_bytes(t);
  if (data) crc = crc32c(t.data, bytes);
  const h5::Dataspace space = make_space(t.shape, where);
  h5::Dataset d(TOOLGRPO_H5_CHECK(
      H5Dcreate2(file, name.c_str(), native_type(t.type), space.get(), lcpl, dcpl, H5P_DEFAULT),
      "create " + where));
  if (data && bytes > 0)
    TOOLGRPO_H5_CHECK(H5Dwrite(d.get(), native_type(t.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data),
                      "write " + where);
  h5::attribute_write_string(d.get(), kDtypeAttr, elem_name(t.type), where);
  h5::attribute_write(d.get(), kCrcAttr, H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc, where);
  TOOLGRPO_H5_CHECK(d.close(), "close " + where);
  return crc;
}

void write_meta_value(hid_t group, const std::string& key, const MetaValue& v, const std::string& tmp) {
  const std::string where = "/meta/" + key + " in " + tmp;
  const h5::Dataspace space(TOOLGRPO_H5_CHECK(H5Screate(H5S_SCALAR), "make the dataspace of " + where));
  const auto write = [&](hid_t file_type, hid_t mem_type, const void* value) {
    h5::Dataset d(TOOLGRPO_H5_CHECK(
        H5Dcreate2(group, key.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        "create " + where));
    TOOLGRPO_H5_CHECK(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value), "write " + where);
    TOOLGRPO_H5_CHECK(d.close(), "close " + where);
  };
  if (const auto* i = std::get_if<int64_t>(&v)) {
    write(H5T_STD_I64LE, H5T_NATIVE_INT64, i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    write(H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, d);
  } else {
    const h5::Datatype t = h5::string_type();
    const char* p = std::get<std::string>(v).c_str();
    write(t.get(), t.get(), &p);
  }
}

}  // namespace

namespace detail {

// Creates `tmp` and writes everything but the commit marker: the tensors (their bytes, or with `crcs` only
// their allocated space and the given checksums), /meta and /meta/checksum; flushes. Returns the content
// checksum. The caller holds a Lock.
h5::File write_structure(const std::string& tmp, const std::vector<MetaItem>& meta,
                         const std::vector<TensorView>& tensors, const std::vector<uint32_t>* crcs,
                         uint32_t& checksum) {
  const h5::PropList fapl = h5::file_access();
  h5::File file(
      TOOLGRPO_H5_CHECK(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "create " + tmp));
  const h5::PropList lcpl(TOOLGRPO_H5_CHECK(H5Pcreate(H5P_LINK_CREATE), "create link properties"));
  TOOLGRPO_H5_CHECK(H5Pset_create_intermediate_group(lcpl.get(), 1), "ask for intermediate groups");
  const h5::PropList dcpl(TOOLGRPO_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), "create dataset properties"));
  TOOLGRPO_H5_CHECK(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "ask for the contiguous layout");
  TOOLGRPO_H5_CHECK(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "turn fill values off");
  if (crcs)  // the ranks write into the datasets' space later: it must exist in the file now
    TOOLGRPO_H5_CHECK(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "ask for early allocation");

  std::vector<CheckpointReader::TensorInfo> infos;
  std::vector<uint32_t> written;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& t = tensors[i];
    written.push_back(
        write_tensor(file.get(), lcpl.get(), dcpl.get(), t, tmp, crcs == nullptr, crcs ? (*crcs)[i] : 0));
    infos.push_back({t.path, t.type, t.shape, tensor_bytes(t)});
  }

  std::vector<MetaItem> all = meta;
  all.push_back({kFormatKey, MetaValue(kFormatVersion)});
  checksum = checkpoint_content_checksum(all, infos, written);
  h5::Group g(TOOLGRPO_H5_CHECK(H5Gcreate2(file.get(), "/meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                "create /meta in " + tmp));
  for (const MetaItem& m : all) write_meta_value(g.get(), m.key, m.value, tmp);
  {
    const std::string where = "/meta/checksum in " + tmp;
    const h5::Dataspace space(TOOLGRPO_H5_CHECK(H5Screate(H5S_SCALAR), "make the dataspace of " + where));
    h5::Dataset d(TOOLGRPO_H5_CHECK(
        H5Dcreate2(g.get(), kChecksumKey, H5T_STD_U32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        "create " + where));
    TOOLGRPO_H5_CHECK(H5Dwrite(d.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &checksum),
                      "write " + where);
    TOOLGRPO_H5_CHECK(d.close(), "close " + where);
  }
  TOOLGRPO_H5_CHECK(g.close(), "close /meta in " + tmp);
  // Everything but the marker reaches the file now: the file is then a valid HDF5 file without a commit
  // marker.
  TOOLGRPO_H5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flush " + tmp);
  return file;
}

// Writes the commit marker (the content checksum as the root attribute) into the open `file`, flushes and
// closes it.
void write_commit(h5::File& file, uint32_t checksum, const std::string& tmp) {
  {
    h5::Lock lock;
    const h5::Group root(TOOLGRPO_H5_CHECK(H5Gopen2(file.get(), "/", H5P_DEFAULT), "open / in " + tmp));
    h5::attribute_write(root.get(), kCommitAttr, H5T_STD_U32LE, H5T_NATIVE_UINT32, &checksum, "/ in " + tmp);
    TOOLGRPO_H5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flush " + tmp);
  }
  TOOLGRPO_H5_CHECK(file.close(), "close " + tmp);
}

}  // namespace detail

namespace {

void write_file(const std::string& tmp, const std::vector<MetaItem>& meta,
                const std::vector<TensorView>& tensors, const CheckpointWriteOptions& opt) {
  h5::File file;
  uint32_t checksum = 0;
  {
    h5::Lock lock;
    file = write_structure(tmp, meta, tensors, nullptr, checksum);
  }
  // Without the lock: a hook that pauses must not stop other threads' HDF5 use.
  if (opt.before_commit) opt.before_commit();
  write_commit(file, checksum, tmp);
}

// ----------------------------------------------------------------------------------------------------------
// Reading.

// Names of the links under a group (H5Literate) or below it (H5Lvisit); hard links only.
herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  try {
    if (info->type == H5L_TYPE_HARD) static_cast<std::vector<std::string>*>(data)->push_back(name);
  } catch (...) {
    return -1;
  }
  return 0;
}

struct TypeFacts {
  H5T_class_t cls = H5T_NO_CLASS;
  std::size_t size = 0;
  H5T_sign_t sign = H5T_SGN_ERROR;
};

TypeFacts dataset_type(hid_t d, const std::string& where) {
  const h5::Datatype t(TOOLGRPO_H5_CHECK(H5Dget_type(d), "get the type of " + where));
  TypeFacts f;
  f.cls = H5Tget_class(t.get());
  TOOLGRPO_H5_CHECK(static_cast<int>(f.cls), "get the type class of " + where);
  f.size = H5Tget_size(t.get());
  if (f.size == 0) h5::fail(__FILE__, __LINE__, "H5Tget_size", "get the type size of " + where);
  if (f.cls == H5T_INTEGER) {
    f.sign = H5Tget_sign(t.get());
    TOOLGRPO_H5_CHECK(static_cast<int>(f.sign), "get the sign of " + where);
  }
  return f;
}

// Shape of a dataset: {} for a scalar dataspace.
std::vector<int64_t> dataset_shape(hid_t d, const std::string& where) {
  const h5::Dataspace s(TOOLGRPO_H5_CHECK(H5Dget_space(d), "get the dataspace of " + where));
  const H5S_class_t cls = H5Sget_simple_extent_type(s.get());
  TOOLGRPO_H5_CHECK(static_cast<int>(cls), "get the dataspace class of " + where);
  if (cls == H5S_SCALAR) return {};
  if (cls != H5S_SIMPLE) throw std::runtime_error(where + ": has a null dataspace (no data)");
  const int rank = TOOLGRPO_H5_CHECK(H5Sget_simple_extent_ndims(s.get()), "get the rank of " + where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  TOOLGRPO_H5_CHECK(H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr), "get the extent of " + where);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Reads a scalar numeric dataset (converted to `mem_type`).
void read_scalar(hid_t d, hid_t mem_type, void* value, const std::string& where) {
  if (!dataset_shape(d, where).empty()) throw std::runtime_error(where + ": expected a scalar dataset");
  TOOLGRPO_H5_CHECK(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value), "read " + where);
}

// ----------------------------------------------------------------------------------------------------------
// Checkpoint directory names.

constexpr const char* kLatest = "latest";

// The step of a "ckpt-<8 or more digits>.h5" name, or -1.
int64_t step_of(const std::string& name) {
  const std::string pre = "ckpt-", post = ".h5";
  if (name.size() < pre.size() + 8 + post.size() || name.compare(0, pre.size(), pre) != 0 ||
      name.compare(name.size() - post.size(), post.size(), post) != 0)
    return -1;
  const std::string digits = name.substr(pre.size(), name.size() - pre.size() - post.size());
  if (digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(digits);
}

bool is_stale_tmp(const std::string& name) {
  const std::string suffix = ".tmp";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string base = name.substr(0, name.size() - suffix.size());
  return base == kLatest || step_of(base) >= 0;
}

}  // namespace

// ----------------------------------------------------------------------------------------------------------

std::size_t elem_size(ElemType t) {
  switch (t) {
    case ElemType::F32:
      return 4;
    case ElemType::F64:
      return 8;
    case ElemType::BF16:
      return 2;
    case ElemType::F16:
      return 2;
    case ElemType::I64:
      return 8;
  }
  throw std::invalid_argument("checkpoint: unknown element type " + std::to_string(static_cast<int>(t)));
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

const char* elem_name(ElemType t) {
  switch (t) {
    case ElemType::F32:
      return "F32";
    case ElemType::F64:
      return "F64";
    case ElemType::BF16:
      return "BF16";
    case ElemType::F16:
      return "F16";
    case ElemType::I64:
      return "I64";
  }
  return "?";
}

uint32_t checkpoint_content_checksum(const std::vector<MetaItem>& meta,
                                     const std::vector<CheckpointReader::TensorInfo>& tensors,
                                     const std::vector<uint32_t>& crcs) {
  if (crcs.size() != tensors.size())
    throw std::invalid_argument("checkpoint_content_checksum: one crc per tensor");
  std::vector<std::size_t> mi(meta.size()), ti(tensors.size());
  std::iota(mi.begin(), mi.end(), 0);
  std::iota(ti.begin(), ti.end(), 0);
  std::sort(mi.begin(), mi.end(), [&](std::size_t a, std::size_t b) { return meta[a].key < meta[b].key; });
  std::sort(ti.begin(), ti.end(),
            [&](std::size_t a, std::size_t b) { return tensors[a].path < tensors[b].path; });
  ChecksumStream c;
  c.str("toolgrpo checkpoint");
  c.u64(meta.size());
  for (std::size_t i : mi) {
    c.str(meta[i].key);
    const MetaValue& v = meta[i].value;
    if (const auto* n = std::get_if<int64_t>(&v)) {
      c.u8('i');
      c.u64(static_cast<uint64_t>(*n));
    } else if (const auto* d = std::get_if<double>(&v)) {
      uint64_t bits;
      std::memcpy(&bits, d, 8);
      c.u8('d');
      c.u64(bits);
    } else {
      c.u8('s');
      c.str(std::get<std::string>(v));
    }
  }
  c.u64(tensors.size());
  for (std::size_t i : ti) {
    const CheckpointReader::TensorInfo& t = tensors[i];
    c.str(t.path);
    c.str(elem_name(t.type));
    c.u64(t.shape.size());
    for (int64_t d : t.shape) c.u64(static_cast<uint64_t>(d));
    c.u32(crcs[i]);
  }
  return c.value();
}

void checkpoint_write(const std::string& path, const std::vector<MetaItem>& meta,
                      const std::vector<TensorView>& tensors, const CheckpointWriteOptions& opt) {
  const std::string tmp = path + ".tmp";
  try {
    validate(meta, tensors);
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot write the checkpoint: " + e.what());
  }
  try {
    write_file(tmp, meta, tensors, opt);
    fsync_file(tmp);
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw CheckpointError(path +
                          ": cannot write the checkpoint (nothing was written under this name): " + e.what());
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
  try {
    rename_file(tmp, path);
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw CheckpointError(path +
                          ": cannot write the checkpoint (nothing was written under this name): " + e.what());
  }
  try {
    fsync_dir(parent_dir(path));
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": written, but its directory could not be synced: " + e.what());
  }
}

// ----------------------------------------------------------------------------------------------------------

struct CheckpointReader::Impl {
  h5::File file;
  std::vector<uint32_t> crcs;  // per tensors_ entry: the stored crc32c attribute
};

CheckpointReader::CheckpointReader(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  const auto error = [&](const std::string& what) { return CheckpointError(path_ + ": " + what); };
  if (::access(path_.c_str(), R_OK) != 0) {
    const int err = errno;
    throw error(std::string("cannot read the checkpoint: ") + std::strerror(err));
  }
  try {
    h5::Lock lock;
    {
      const h5::PropList fapl = h5::file_access();
      try {
        impl_->file =
            h5::File(TOOLGRPO_H5_CHECK(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, fapl.get()), "open " + path_));
      } catch (const h5::Error& e) {
        throw error(std::string("not a complete HDF5 file (truncated?) or not an HDF5 file at all: ") +
                    e.what());
      }
    }
    const hid_t file = impl_->file.get();
    const h5::Group root(TOOLGRPO_H5_CHECK(H5Gopen2(file, "/", H5P_DEFAULT), "open / in " + path_));
    if (!h5::attribute_exists(root.get(), kCommitAttr, "/ in " + path_))
      throw error(
          "no commit marker: the save did not complete (a crash or kill while writing); use an earlier "
          "checkpoint");
    uint32_t marker = 0;
    h5::attribute_read(root.get(), kCommitAttr, H5T_NATIVE_UINT32, &marker, "/ in " + path_);

    const auto exists = [&](hid_t loc, const char* name, const std::string& where) {
      return TOOLGRPO_H5_CHECK(H5Lexists(loc, name, H5P_DEFAULT), "look for " + where) > 0;
    };
    if (!exists(file, kMetaGroup, "/meta in " + path_))
      throw error("no /meta group: not a toolgrpo checkpoint");
    const h5::Group meta(TOOLGRPO_H5_CHECK(H5Gopen2(file, "/meta", H5P_DEFAULT), "open /meta in " + path_));
    for (const char* key : {kFormatKey, kChecksumKey})
      if (!exists(meta.get(), key, std::string("/meta/") + key + " in " + path_))
        throw error(std::string("no /meta/") + key + ": not a toolgrpo checkpoint");

    int64_t version = 0;
    uint32_t stored = 0;
    {
      const std::string where = "/meta/format_version in " + path_;
      const h5::Dataset d(TOOLGRPO_H5_CHECK(H5Dopen2(meta.get(), kFormatKey, H5P_DEFAULT), "open " + where));
      read_scalar(d.get(), H5T_NATIVE_INT64, &version, where);
    }
    if (version != kFormatVersion)
      throw error("format version " + std::to_string(version) + " is not known (this build reads version " +
                  std::to_string(kFormatVersion) + "); use the toolgrpo that wrote it");
    {
      const std::string where = "/meta/checksum in " + path_;
      const h5::Dataset d(
          TOOLGRPO_H5_CHECK(H5Dopen2(meta.get(), kChecksumKey, H5P_DEFAULT), "open " + where));
      read_scalar(d.get(), H5T_NATIVE_UINT32, &stored, where);
    }
    format_version_ = version;
    meta_checksum_ = stored;

    // /meta items.
    std::vector<std::string> keys;
    TOOLGRPO_H5_CHECK(H5Literate(meta.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_link, &keys),
                      "list /meta in " + path_);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      if (key == kFormatKey || key == kChecksumKey) continue;
      const std::string where = "/meta/" + key + " in " + path_;
      const h5::Dataset d(TOOLGRPO_H5_CHECK(H5Dopen2(meta.get(), key.c_str(), H5P_DEFAULT), "open " + where));
      const TypeFacts t = dataset_type(d.get(), where);
      if (t.cls == H5T_INTEGER) {
        int64_t v = 0;
        read_scalar(d.get(), H5T_NATIVE_INT64, &v, where);
        meta_.push_back({key, v});
      } else if (t.cls == H5T_FLOAT) {
        double v = 0;
        read_scalar(d.get(), H5T_NATIVE_DOUBLE, &v, where);
        meta_.push_back({key, v});
      } else if (t.cls == H5T_STRING) {
        meta_.push_back({key, h5::dataset_read_string(d.get(), where)});
      } else {
        throw error("/meta/" + key + ": HDF5 type class " + std::to_string(t.cls) +
                    " is none of integer, float and string");
      }
    }

    // Tensors: every dataset outside /meta.
    std::vector<std::string> names;
    TOOLGRPO_H5_CHECK(H5Lvisit(root.get(), H5_INDEX_NAME, H5_ITER_INC, collect_link, &names),
                      "list " + path_);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (name == kMetaGroup || name.compare(0, 5, "meta/") == 0) continue;
      const std::string where = "/" + name + " in " + path_;
      const h5::Object obj(
          TOOLGRPO_H5_CHECK(H5Oopen(file, ("/" + name).c_str(), H5P_DEFAULT), "open " + where));
      const H5I_type_t kind = H5Iget_type(obj.get());
      TOOLGRPO_H5_CHECK(static_cast<int>(kind), "get the kind of " + where);
      if (kind != H5I_DATASET) continue;
      const auto bad = [&](const std::string& why) { return error("tensor '" + name + "': " + why); };
      if (!h5::attribute_exists(obj.get(), kDtypeAttr, where) ||
          !h5::attribute_exists(obj.get(), kCrcAttr, where))
        throw bad("no dtype or crc32c attribute: not a toolgrpo checkpoint tensor");
      TensorInfo info;
      info.path = name;
      const std::string dtype = h5::attribute_read_string(obj.get(), kDtypeAttr, where);
      if (!elem_from_name(dtype, info.type)) throw bad("unknown dtype '" + dtype + "'");
      const TypeFacts t = dataset_type(obj.get(), where);
      if (!hdf5_type_matches(info.type, t.cls, t.size, t.sign))
        throw bad("dtype " + dtype + " does not match its HDF5 type (class " + std::to_string(t.cls) + ", " +
                  std::to_string(t.size) + " bytes)");
      info.shape = dataset_shape(obj.get(), where);
      info.bytes = element_count(info.shape, where) * elem_size(info.type);
      uint32_t crc = 0;
      h5::attribute_read(obj.get(), kCrcAttr, H5T_NATIVE_UINT32, &crc, where);
      tensors_.push_back(std::move(info));
      impl_->crcs.push_back(crc);
    }

    std::vector<MetaItem> all = meta_;
    all.push_back({kFormatKey, MetaValue(version)});
    const uint32_t computed = checkpoint_content_checksum(all, tensors_, impl_->crcs);
    if (marker != stored)
      throw error("commit marker " + hex32(marker) + " differs from /meta/checksum " + hex32(stored) +
                  ": the file is damaged");
    if (computed != stored)
      throw error("content checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) +
                  " over /meta and the tensors' checksums): the file is damaged");
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw error(std::string("cannot read the checkpoint: ") + e.what());
  }
}

CheckpointReader::~CheckpointReader() = default;

bool CheckpointReader::has_meta(const std::string& key) const {
  return std::any_of(meta_.begin(), meta_.end(), [&](const MetaItem& m) { return m.key == key; });
}

namespace {
template <class T>
const T& meta_get(const std::vector<MetaItem>& meta, const std::string& file, const std::string& key,
                  const char* expected) {
  for (const MetaItem& m : meta) {
    if (m.key != key) continue;
    if (const T* v = std::get_if<T>(&m.value)) return *v;
    const char* found = std::holds_alternative<int64_t>(m.value)  ? "an integer"
                        : std::holds_alternative<double>(m.value) ? "a float"
                                                                  : "a string";
    throw CheckpointError(file + ": /meta/" + key + " is " + found + ", expected " + expected);
  }
  throw CheckpointError(file + ": /meta/" + key + " is absent (expected " + expected +
                        "); the checkpoint was written by another version or kind of run");
}
}  // namespace

int64_t CheckpointReader::meta_int(const std::string& key) const {
  return meta_get<int64_t>(meta_, path_, key, "an integer");
}
double CheckpointReader::meta_double(const std::string& key) const {
  return meta_get<double>(meta_, path_, key, "a float");
}
std::string CheckpointReader::meta_string(const std::string& key) const {
  return meta_get<std::string>(meta_, path_, key, "a string");
}

bool CheckpointReader::has(const std::string& p) const {
  const auto it = std::lower_bound(tensors_.begin(), tensors_.end(), p,
                                   [](const TensorInfo& t, const std::string& k) { return t.path < k; });
  return it != tensors_.end() && it->path == p;
}

const CheckpointReader::TensorInfo& CheckpointReader::info(const std::string& p) const {
  const auto it = std::lower_bound(tensors_.begin(), tensors_.end(), p,
                                   [](const TensorInfo& t, const std::string& k) { return t.path < k; });
  if (it == tensors_.end() || it->path != p)
    throw CheckpointError(path_ + ": no tensor '" + p + "' (the file has " + std::to_string(tensors_.size()) +
                          " tensors)");
  return *it;
}

void CheckpointReader::read(const std::string& p, void* dst) const {
  const TensorInfo& t = info(p);
  const uint32_t stored = impl_->crcs[static_cast<std::size_t>(&t - tensors_.data())];
  if (t.bytes > 0 && dst == nullptr)
    throw CheckpointError(path_ + ": tensor '" + p + "': destination is null");
  try {
    h5::Lock lock;
    const std::string where = "/" + p + " in " + path_;
    const h5::Dataset d(
        TOOLGRPO_H5_CHECK(H5Dopen2(impl_->file.get(), ("/" + p).c_str(), H5P_DEFAULT), "open " + where));
    if (t.bytes > 0)
      TOOLGRPO_H5_CHECK(H5Dread(d.get(), native_type(t.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, dst),
                        "read " + where);
  } catch (const std::exception& e) {
    throw CheckpointError(path_ + ": tensor '" + p + "': cannot read: " + e.what());
  }
  const uint32_t computed = crc32c(dst, t.bytes);
  if (computed != stored)
    throw CheckpointError(path_ + ": tensor '" + p + "': checksum mismatch (stored " + hex32(stored) +
                          ", computed " + hex32(computed) + "): the file is damaged");
}

uint32_t CheckpointReader::stored_crc(const std::string& p) const {
  return impl_->crcs[static_cast<std::size_t>(&info(p) - tensors_.data())];
}

uint32_t CheckpointReader::read_part(const std::string& p, uint64_t offset, uint64_t count, void* dst) const {
  const TensorInfo& t = info(p);
  const uint64_t n = t.bytes / elem_size(t.type);
  if (offset > n || count > n - offset)
    throw CheckpointError(path_ + ": tensor '" + p + "': part [" + std::to_string(offset) + ", +" +
                          std::to_string(count) + ") is outside its " + std::to_string(n) + " elements");
  if (count == 0) return 0;
  if (dst == nullptr) throw CheckpointError(path_ + ": tensor '" + p + "': destination is null");
  try {
    h5::Lock lock;
    const std::string where = "/" + p + " in " + path_;
    const h5::Dataset d(
        TOOLGRPO_H5_CHECK(H5Dopen2(impl_->file.get(), ("/" + p).c_str(), H5P_DEFAULT), "open " + where));
    const h5::Dataspace space = select_flat_range(d.get(), t.shape, offset, count, where);
    const hsize_t c = count;
    const h5::Dataspace memory(TOOLGRPO_H5_CHECK(H5Screate_simple(1, &c, nullptr), "make a dataspace"));
    TOOLGRPO_H5_CHECK(
        H5Dread(d.get(), native_type(t.type), memory.get(), space.get(), H5P_DEFAULT, dst),
        "read elements [" + std::to_string(offset) + ", +" + std::to_string(count) + ") of " + where);
  } catch (const std::exception& e) {
    throw CheckpointError(path_ + ": tensor '" + p + "': cannot read: " + e.what());
  }
  return crc32c(dst, static_cast<std::size_t>(count * elem_size(t.type)));
}

// ----------------------------------------------------------------------------------------------------------

std::string checkpoint_file_name(int64_t step) {
  if (step < 0) throw std::invalid_argument("checkpoint_file_name: negative step " + std::to_string(step));
  char buf[40];
  std::snprintf(buf, sizeof buf, "ckpt-%08lld.h5", static_cast<long long>(step));
  return buf;
}

std::vector<std::string> checkpoint_list(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  std::vector<std::pair<int64_t, std::string>> found;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const int64_t step = step_of(name);
    if (step >= 0 && e.is_regular_file(ec)) found.emplace_back(step, name);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a > b; });
  std::vector<std::string> out;
  for (const auto& [step, name] : found) out.push_back((fs::path(dir) / name).string());
  return out;
}

void checkpoint_latest_set(const std::string& dir, const std::string& file_name) {
  const std::string target = (fs::path(dir) / kLatest).string();
  const std::string tmp = target + ".tmp";
  if (file_name.empty() || file_name.find_first_of("/\n\r") != std::string::npos || file_name == "." ||
      file_name == "..")
    throw CheckpointError(target + ": '" + file_name + "' is not a file name");
  try {
    const std::string text = file_name + "\n";
    Fd fd(TOOLGRPO_SYS_CHECK(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644),
                             "create " + tmp));
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n =
          TOOLGRPO_SYS_CHECK(::write(fd.get(), text.data() + done, text.size() - done), "write " + tmp);
      done += static_cast<std::size_t>(n);
    }
    TOOLGRPO_SYS_CHECK(::fsync(fd.get()), "fsync " + tmp);
    TOOLGRPO_SYS_CHECK(fd.close(), "close " + tmp);
    rename_file(tmp, target);
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw CheckpointError(target + ": cannot point it at " + file_name + ": " + e.what());
  }
  try {
    fsync_dir(dir);
  } catch (const std::exception& e) {
    throw CheckpointError(target + ": written, but its directory could not be synced: " + e.what());
  }
}

std::string checkpoint_latest(const std::string& dir) {
  const fs::path p = fs::path(dir) / kLatest;
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(p, ec)) return "";
    throw CheckpointError(p.string() + ": cannot read it");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string name = ss.str();
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) name.pop_back();
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos || name.find('\n') != std::string::npos)
    throw CheckpointError(p.string() + ": holds '" + name + "', not a checkpoint file name");
  return (fs::path(dir) / name).string();
}

void checkpoint_prune(const std::string& dir, int64_t keep) {
  if (keep < 1)
    throw std::invalid_argument("checkpoint_prune: keep must be at least 1, got " + std::to_string(keep));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  const std::string latest = checkpoint_latest(dir);
  const std::string latest_name = latest.empty() ? "" : fs::path(latest).filename().string();
  std::vector<std::string> doomed;
  const std::vector<std::string> all = checkpoint_list(dir);
  for (std::size_t i = static_cast<std::size_t>(keep); i < all.size(); ++i)
    if (fs::path(all[i]).filename().string() != latest_name) doomed.push_back(all[i]);
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (is_stale_tmp(e.path().filename().string())) doomed.push_back(e.path().string());
  for (const std::string& f : doomed) {
    fs::remove(f, ec);
    if (ec) throw CheckpointError(f + ": cannot remove it while pruning " + dir + ": " + ec.message());
  }
}

}  // namespace toolgrpo::io
