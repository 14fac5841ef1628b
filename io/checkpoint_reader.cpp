// Reading a checkpoint file: CheckpointReader opens it, checks the commit marker, format version and content
// checksum, lists /meta and the tensors, and reads whole tensors or parts with their CRC-32C checked.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint_detail.hpp"

#include "common/checked_size.hpp"
#include "common/input_error.hpp"
#include "io/checkpoint_file.hpp"
#include "io/hdf5.hpp"

namespace toolgrpo::io {
using namespace detail;  // the helpers checkpoint_parts.cpp shares

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
  if (cls != H5S_SIMPLE) throw common::InputError(where + ": has a null dataspace (no data)");
  const int rank = TOOLGRPO_H5_CHECK(H5Sget_simple_extent_ndims(s.get()), "get the rank of " + where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  TOOLGRPO_H5_CHECK(H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr), "get the extent of " + where);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Reads a scalar numeric dataset (converted to `mem_type`).
void read_scalar(hid_t d, hid_t mem_type, void* value, const std::string& where) {
  if (!dataset_shape(d, where).empty()) throw common::InputError(where + ": expected a scalar dataset");
  TOOLGRPO_H5_CHECK(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value), "read " + where);
}

// A tensor's storage as the writer makes it, so that what is read is what the shape says and lies inside the
// file: one contiguous block (no chunks, filters, external files or virtual sources, whose sizes and sources
// the file would choose) of exactly `bytes` bytes that ends within the file's `file_size` bytes. This bounds
// every buffer a reader allocates for the tensor by the size of the file.
template <class Bad>
void check_storage(hid_t d, uint64_t bytes, hsize_t file_size, const std::string& where, const Bad& bad) {
  const h5::PropList dcpl(TOOLGRPO_H5_CHECK(H5Dget_create_plist(d), "get the creation properties of " + where));
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  TOOLGRPO_H5_CHECK(static_cast<int>(layout), "get the layout of " + where);
  if (layout != H5D_CONTIGUOUS)
    throw bad(std::string("stored ") +
              (layout == H5D_CHUNKED ? "in chunks" : layout == H5D_COMPACT ? "compact" : "as a virtual dataset") +
              ", expected one contiguous block as toolgrpo writes it");
  const int filters = TOOLGRPO_H5_CHECK(H5Pget_nfilters(dcpl.get()), "count the filters of " + where);
  const int external = TOOLGRPO_H5_CHECK(H5Pget_external_count(dcpl.get()), "count the external files of " + where);
  if (filters != 0 || external != 0)
    throw bad("stored with filters or in external files, expected its bytes unfiltered inside the checkpoint");
  const hsize_t stored = H5Dget_storage_size(d);
  if (stored != bytes)
    throw bad("its shape and dtype take " + std::to_string(bytes) + " bytes, but " + std::to_string(stored) +
              " are stored (expected the same)");
  if (bytes == 0) return;
  const haddr_t at = H5Dget_offset(d);
  if (at == HADDR_UNDEF || at > file_size || bytes > file_size - at)
    throw bad("its " + std::to_string(bytes) + " bytes at offset " +
              (at == HADDR_UNDEF ? std::string("(none)") : std::to_string(at)) + " do not lie within the file's " +
              std::to_string(file_size) + " bytes (truncated or damaged)");
}

}  // namespace

// ----------------------------------------------------------------------------------------------------------

struct CheckpointReader::Impl {
  h5::File file;
  std::vector<uint32_t> crcs;  // per tensors_ entry: the stored crc32c attribute
};

CheckpointReader::CheckpointReader(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  if (::access(path_.c_str(), R_OK) != 0) {
    const int err = errno;
    throw CheckpointError(path_ + ": cannot read the checkpoint: " + std::strerror(err));
  }
  open(nullptr, 0);
}

CheckpointReader::CheckpointReader(const std::string& name, const void* image, std::size_t size)
    : impl_(std::make_unique<Impl>()), path_(name) {
  if (image == nullptr || size == 0) throw CheckpointError(path_ + ": empty (expected an HDF5 file image)");
  open(image, size);
}

void CheckpointReader::open(const void* image, std::size_t size) {
  const auto error = [&](const std::string& what) { return CheckpointError(path_ + ": " + what); };
  try {
    h5::Lock lock;
    {
      const h5::PropList fapl = image ? h5::file_image_access(image, size) : h5::file_access();
      try {
        impl_->file =
            h5::File(TOOLGRPO_H5_CHECK(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, fapl.get()), "open " + path_));
      } catch (const h5::Error& e) {
        throw error(std::string("not a complete HDF5 file (truncated?) or not an HDF5 file at all (expected a "
                                "checkpoint toolgrpo wrote): ") +
                    e.what());
      }
    }
    const hid_t file = impl_->file.get();
    hsize_t file_size = 0;
    TOOLGRPO_H5_CHECK(H5Fget_filesize(file, &file_size), "get the size of " + path_);
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
      info.bytes = common::shape_bytes_or_throw(info.shape, elem_size(info.type), path_ + ": tensor '" + name + "'");
      check_storage(obj.get(), info.bytes, file_size, where, bad);
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
  } catch (const common::InputError& e) {  // names the file already
    throw CheckpointError(e.what());
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
  return crc32c(dst, static_cast<std::size_t>(count * elem_size(t.type)));  // within t.bytes: checked above
}

}  // namespace toolgrpo::io
