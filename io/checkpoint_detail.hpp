// What the checkpoint files of io/ share: checkpoint_file.cpp (element types, content checksum),
// checkpoint_writer.cpp (whole-file writes), checkpoint_reader.cpp (reading) and checkpoint_parts.cpp (the
// ranks' parts: collective writes, partial reads and their verification). io/ only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/checkpoint_file.hpp"
#include "io/durable_file.hpp"  // parent_dir, fsync_file, fsync_dir, rename_file, remove_quietly
#include "io/hdf5.hpp"

namespace toolgrpo::io::detail {

// The file layout: format version, attribute names and /meta's reserved keys.
constexpr int64_t kFormatVersion = 1;
constexpr const char* kCommitAttr = "toolgrpo_commit";
constexpr const char* kCrcAttr = "crc32c";
constexpr const char* kDtypeAttr = "dtype";
constexpr const char* kMetaGroup = "meta";
constexpr const char* kFormatKey = "format_version";
constexpr const char* kChecksumKey = "checksum";

std::string hex32(uint32_t v);  // "0x0000abcd"

hid_t native_type(ElemType t);  // the HDF5 memory type a tensor of `t` is written from and read into
// Element count of `shape` ({} is one element); throws on negative extents or overflow.
uint64_t element_count(const std::vector<int64_t>& shape, const std::string& what);
// Bytes of a tensor of `shape` and `t` (common/checked_size.hpp); throws std::invalid_argument past 2^63.
uint64_t tensor_bytes(const std::vector<int64_t>& shape, ElemType t, const std::string& what);
// Throws std::invalid_argument on a bad key, path, shape or duplicate; `need_data`: every non-empty tensor
// has its bytes.
void validate(const std::vector<MetaItem>& meta, const std::vector<TensorView>& tensors,
              bool need_data = true);

// Creates `tmp` and writes everything but the commit marker: the tensors (their bytes, or with `crcs` only
// their allocated space and the given checksums), /meta and /meta/checksum; flushes. Sets `checksum` to the
// content checksum. The caller holds an h5::Lock.
h5::File write_structure(const std::string& tmp, const std::vector<MetaItem>& meta,
                         const std::vector<TensorView>& tensors, const std::vector<uint32_t>* crcs,
                         uint32_t& checksum);
// Writes the commit marker into the open `file`, flushes and closes it.
void write_commit(h5::File& file, uint32_t checksum, const std::string& tmp);

// The dataspace of dataset `d` (of `shape`) with elements [offset, offset + count) of its row-major flat view
// selected (hyperslab blocks). The caller holds an h5::Lock.
h5::Dataspace select_flat_range(hid_t d, const std::vector<int64_t>& shape, uint64_t offset, uint64_t count,
                                const std::string& where);

}  // namespace toolgrpo::io::detail
