// Writing a checkpoint file: input validation, the HDF5 layout (tensors, /meta, /meta/checksum), the commit
// marker, and checkpoint_write's write-fsync-rename-fsync sequence; see checkpoint_file.hpp.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/checkpoint_detail.hpp"
#include "io/checkpoint_file.hpp"
#include "io/durable_file.hpp"
#include "io/hdf5.hpp"

namespace toolgrpo::io {
using namespace detail;  // the helpers checkpoint_parts.cpp shares
namespace {

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
    (void)tensor_bytes(t.shape, t.type, "tensor '" + t.path + "'");  // throws on an unknown type or overflow
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

uint64_t view_bytes(const TensorView& t) {
  return detail::tensor_bytes(t.shape, t.type, "tensor '" + t.path + "'");
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
  const uint64_t bytes = view_bytes(t);
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
    infos.push_back({t.path, t.type, t.shape, view_bytes(t)});
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

}  // namespace

void checkpoint_write(const std::string& path, const std::vector<MetaItem>& meta,
                      const std::vector<TensorView>& tensors, const CheckpointWriteOptions& opt) {
  const std::string tmp = path + ".tmp";
  try {
    validate(meta, tensors);
  } catch (const std::exception& e) {
    throw CheckpointWriteError(path + ": cannot write the checkpoint: " + e.what());
  }
  try {
    write_file(tmp, meta, tensors, opt);
    fsync_file(tmp);
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw CheckpointWriteError(path +
                          ": cannot write the checkpoint (nothing was written under this name): " + e.what());
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
  try {
    rename_file(tmp, path);
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw CheckpointWriteError(path +
                          ": cannot write the checkpoint (nothing was written under this name): " + e.what());
  }
  try {
    fsync_dir(parent_dir(path));
  } catch (const std::exception& e) {
    throw CheckpointWriteError(path + ": written, but its directory could not be synced: " + e.what());
  }
}

}  // namespace toolgrpo::io
