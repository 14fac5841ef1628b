// What the checkpoint writer and reader share: element types (sizes, names, HDF5 memory types), element
// counts and the content checksum over /meta and the tensors' checksums; see checkpoint_file.hpp.
#include "io/checkpoint_file.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <optional>

#include "common/checked_size.hpp"

#include "io/checkpoint_detail.hpp"
#include "io/hdf5.hpp"

namespace toolgrpo::io {
using namespace detail;  // the helpers checkpoint_parts.cpp shares

namespace detail {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// ----------------------------------------------------------------------------------------------------------
// Element types.

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

// Element count of `shape` ({} is one element); throws on negative extents or overflow.
uint64_t element_count(const std::vector<int64_t>& shape, const std::string& what) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument(what + ": negative extent " + std::to_string(d));
  const std::optional<uint64_t> n = common::signed_shape_elements(shape);
  if (!n) throw std::invalid_argument(what + ": shape " + shape_text(shape) + " has more than 2^63 elements");
  return *n;
}

uint64_t tensor_bytes(const std::vector<int64_t>& shape, ElemType t, const std::string& what) {
  const std::optional<uint64_t> b = common::checked_bytes(element_count(shape, what), elem_size(t));
  if (!b) throw std::invalid_argument(what + ": shape " + shape_text(shape) + " of " + elem_name(t) +
                                      " needs more than 2^63 bytes");
  return *b;
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

}  // namespace toolgrpo::io
