// What io/checkpoint_file.cpp (whole-file writes, reading, the directory) and io/checkpoint_parts.cpp (the
// ranks' parts: collective writes, partial reads and their verification) share. io/ only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/checkpoint_file.hpp"
#include "io/hdf5.hpp"

namespace toolgrpo::io::detail {

// Files: each throws std::runtime_error naming the call, the path and errno's text.
std::string parent_dir(const std::string& path);  // "." for a bare name
void fsync_file(const std::string& path);
void fsync_dir(const std::string& dir);  // tolerates file systems that cannot sync a directory
void rename_file(const std::string& from, const std::string& to);
void remove_quietly(const std::string& path);  // never throws
std::string hex32(uint32_t v);                 // "0x0000abcd"

hid_t native_type(ElemType t);  // the HDF5 memory type a tensor of `t` is written from and read into
// Element count of `shape` ({} is one element); throws on negative extents or overflow.
uint64_t element_count(const std::vector<int64_t>& shape, const std::string& what);
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
