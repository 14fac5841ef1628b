// The ranks' parts of a checkpoint: collective writes (every rank writes its elements of the tensors into one
// file through parallel HDF5) and the verification of parts read by several ranks; see checkpoint_file.hpp.
#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/checked_size.hpp"

#include "io/checkpoint_detail.hpp"
#include "io/crc32c.hpp"
#include "io/hdf5.hpp"

namespace toolgrpo::io {
using namespace detail;

namespace {

// One rank's part as the ranks exchange it.
struct PartRecord {
  uint64_t tensor, offset, count;
  uint32_t crc, unused;
};

// What the ranks learn from each other after a phase, in one all-gather: every rank's payload, or, when a
// rank failed, the first failing rank's error as "rank R: ERROR".
struct Exchanged {
  std::string failure;                // "" when every rank succeeded
  std::vector<std::string> payloads;  // in rank order (meaningful only without a failure)
};

Exchanged share_outcome(const CheckpointGroup& g, const std::string& error, const std::string& payload = "") {
  Exchanged x;
  const std::vector<std::string> all = g.allgather(error.empty() ? "P" + payload : "E" + error);
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r][0] == 'E' && x.failure.empty())
      x.failure = "rank " + std::to_string(r) + ": " + all[r].substr(1);
    x.payloads.push_back(all[r].substr(1));
  }
  return x;
}

// The bytes of `count` elements of `t`; throws past 2^63.
uint64_t part_bytes(uint64_t count, const TensorView& t) {
  const std::optional<uint64_t> b = common::checked_bytes(count, elem_size(t.type));
  if (!b) throw std::invalid_argument("tensor '" + t.path + "': a part of " + std::to_string(count) + " elements is too large");
  return *b;
}

std::string encode(const std::vector<PartRecord>& records) {
  return std::string(reinterpret_cast<const char*>(records.data()), records.size() * sizeof(PartRecord));
}

// This rank's parts checked against the tensors and checksummed, as bytes to exchange.
std::string part_records(const std::vector<TensorView>& tensors, const std::vector<TensorPart>& parts) {
  std::vector<PartRecord> out;
  for (const TensorPart& p : parts) {
    if (p.tensor >= tensors.size())
      throw std::invalid_argument("a part of tensor number " + std::to_string(p.tensor) + ", but there are " +
                                  std::to_string(tensors.size()));
    const TensorView& t = tensors[p.tensor];
    const uint64_t n = element_count(t.shape, "tensor '" + t.path + "'");
    if (p.offset > n || p.count > n - p.offset)
      throw std::invalid_argument("tensor '" + t.path + "': part [" + std::to_string(p.offset) + ", +" +
                                  std::to_string(p.count) + ") is outside its " + std::to_string(n) +
                                  " elements");
    if (p.count > 0 && p.data == nullptr)
      throw std::invalid_argument("tensor '" + t.path + "': a part's data is null");
    // p.count <= n, and n elements of this type fit in 2^63 bytes (validate checked the tensor's bytes).
    out.push_back({p.tensor, p.offset, p.count, crc32c(p.data, static_cast<std::size_t>(part_bytes(p.count, t))), 0});
  }
  return encode(out);
}

// Each tensor's crc32c from every rank's part records; throws when the parts leave elements out or overlap.
std::vector<uint32_t> combined_checksums(const std::vector<TensorView>& tensors,
                                         const std::vector<std::string>& records) {
  std::vector<std::vector<PartRecord>> by_tensor(tensors.size());
  for (const std::string& bytes : records)
    for (std::size_t at = 0; at + sizeof(PartRecord) <= bytes.size(); at += sizeof(PartRecord)) {
      PartRecord r{};
      std::memcpy(&r, bytes.data() + at, sizeof r);
      if (r.count > 0) by_tensor[r.tensor].push_back(r);
    }
  std::vector<uint32_t> crcs;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    auto& parts = by_tensor[i];
    std::sort(parts.begin(), parts.end(),
              [](const PartRecord& a, const PartRecord& b) { return a.offset < b.offset; });
    const uint64_t n = element_count(tensors[i].shape, tensors[i].path);
    uint64_t next = 0;
    uint32_t crc = 0;
    const auto fail = [&](const std::string& why) {
      throw std::invalid_argument("tensor '" + tensors[i].path + "': the ranks' parts " + why);
    };
    for (const PartRecord& r : parts) {
      if (r.offset < next) fail("overlap at element " + std::to_string(r.offset));
      if (r.offset > next)
        fail("leave elements [" + std::to_string(next) + ", " + std::to_string(r.offset) + ") unwritten");
      crc = crc32c_combine(crc, r.crc, part_bytes(r.count, tensors[i]));
      const std::optional<uint64_t> end = common::checked_add(r.offset, r.count);
      if (!end || *end > n) fail("go past element " + std::to_string(n));
      next = *end;
    }
    if (next != n) fail("leave elements [" + std::to_string(next) + ", " + std::to_string(n) + ") unwritten");
    crcs.push_back(crc);
  }
  return crcs;
}

using Box = std::pair<std::vector<hsize_t>, std::vector<hsize_t>>;  // start, count

// The boxes (hyperslab blocks) that make up elements [a, b) of the row-major sub-array dims[axis..], `box`
// holding the start and count of the axes before `axis`: at most two partial rows per axis and one block of
// whole rows.
void flat_range_boxes(const std::vector<hsize_t>& dims, std::size_t axis, Box box, uint64_t a, uint64_t b,
                      std::vector<Box>& out) {
  if (axis + 1 == dims.size()) {
    box.first[axis] = a;
    box.second[axis] = b - a;
    out.push_back(std::move(box));
    return;
  }
  std::vector<uint64_t> inner_dims(dims.begin() + static_cast<std::ptrdiff_t>(axis) + 1, dims.end());
  const std::optional<uint64_t> inner_count = common::shape_elements(inner_dims);  // a part of a checked shape
  if (!inner_count) throw std::invalid_argument("a shape with more than 2^63 elements");
  const uint64_t inner = *inner_count;
  const auto one_row = [&](uint64_t row, uint64_t lo, uint64_t hi) {
    Box b1 = box;
    b1.first[axis] = row;
    b1.second[axis] = 1;
    flat_range_boxes(dims, axis + 1, std::move(b1), lo, hi, out);
  };
  if (a / inner == (b - 1) / inner) {
    one_row(a / inner, a % inner, b - a / inner * inner);
    return;
  }
  uint64_t first_whole = a / inner;
  if (a % inner != 0) {
    one_row(a / inner, a % inner, inner);
    ++first_whole;
  }
  if (first_whole < b / inner) {
    Box whole = box;
    whole.first[axis] = first_whole;
    whole.second[axis] = b / inner - first_whole;
    for (std::size_t k = axis + 1; k < dims.size(); ++k) {
      whole.first[k] = 0;
      whole.second[k] = dims[k];
    }
    out.push_back(std::move(whole));
  }
  if (b % inner != 0) one_row(b / inner, 0, b % inner);
}

}  // namespace

namespace detail {

h5::Dataspace select_flat_range(hid_t d, const std::vector<int64_t>& shape, uint64_t offset, uint64_t count,
                                const std::string& where) {
  h5::Dataspace space(TOOLGRPO_H5_CHECK(H5Dget_space(d), "get the dataspace of " + where));
  if (shape.empty()) return space;  // a scalar: its one element
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  std::vector<Box> boxes;
  flat_range_boxes(dims, 0, Box(dims, dims), offset, offset + count, boxes);
  for (std::size_t k = 0; k < boxes.size(); ++k)
    TOOLGRPO_H5_CHECK(
        H5Sselect_hyperslab(space.get(), k == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, boxes[k].first.data(),
                            nullptr, boxes[k].second.data(), nullptr),
        "select elements [" + std::to_string(offset) + ", +" + std::to_string(count) + ") of " + where);
  return space;
}

}  // namespace detail

namespace {

// Writes this rank's parts into the datasets of the file open on every rank (independent transfers).
void write_parts(hid_t file, const std::vector<TensorView>& tensors, const std::vector<TensorPart>& parts,
                 const std::string& tmp) {
  for (const TensorPart& p : parts) {
    if (p.count == 0) continue;
    const TensorView& t = tensors[p.tensor];
    const std::string where = "/" + t.path + " in " + tmp;
    const h5::Dataset d(
        TOOLGRPO_H5_CHECK(H5Dopen2(file, ("/" + t.path).c_str(), H5P_DEFAULT), "open " + where));
    const h5::Dataspace space = select_flat_range(d.get(), t.shape, p.offset, p.count, where);
    const hsize_t count = p.count;
    const h5::Dataspace memory(TOOLGRPO_H5_CHECK(H5Screate_simple(1, &count, nullptr), "make a dataspace"));
    TOOLGRPO_H5_CHECK(
        H5Dwrite(d.get(), native_type(t.type), memory.get(), space.get(), H5P_DEFAULT, p.data),
        "write elements [" + std::to_string(p.offset) + ", +" + std::to_string(p.count) + ") of " + where);
  }
}

}  // namespace

void checkpoint_write_collective(const std::string& path, const std::vector<MetaItem>& meta,
                                 const std::vector<TensorView>& tensors, const std::vector<TensorPart>& parts,
                                 const CheckpointGroup& group, const CheckpointWriteOptions& opt) {
  const std::string tmp = path + ".tmp";
  const bool lead = group.rank == 0;
  const auto refuse = [&](const std::string& why, bool written) {
    if (lead && !written) remove_quietly(tmp);
    throw CheckpointWriteError(path +
                          (written ? ": written, but "
                                   : ": cannot write the checkpoint (nothing was "
                                     "written under this name): ") +
                          why);
  };
  // 1. Every rank checks and checksums its parts; the ranks exchange the checksums (and any error).
  std::string error, records;
  try {
    validate(meta, tensors, false);
    records = part_records(tensors, parts);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const Exchanged parts_of_all = share_outcome(group, error, records);
  if (!parts_of_all.failure.empty()) refuse(parts_of_all.failure, false);
  std::vector<uint32_t> crcs;
  try {
    crcs = combined_checksums(tensors, parts_of_all.payloads);  // the same on every rank
  } catch (const std::exception& e) {
    refuse(e.what(), false);
  }
  // 2. Rank 0 creates the file: metadata, checksums and every dataset's space.
  uint32_t checksum = 0;
  if (lead) try {
      h5::Lock lock;
      h5::File file = write_structure(tmp, meta, tensors, &crcs, checksum);
      TOOLGRPO_H5_CHECK(file.close(), "close " + tmp);
    } catch (const std::exception& e) {
      error = e.what();
    }
  if (const std::string f = share_outcome(group, error).failure; !f.empty()) refuse(f, false);
  // 3. Every rank writes its parts through MPI-IO, then syncs what it wrote.
  try {
    h5::Lock lock;
    const h5::PropList fapl = h5::file_access(group.mpi_comm);
    h5::File file(TOOLGRPO_H5_CHECK(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, fapl.get()),
                                    "open " + tmp + " on every rank (MPI-IO)"));
    try {
      write_parts(file.get(), tensors, parts, tmp);
    } catch (const std::exception& e) {
      error = e.what();
    }
    TOOLGRPO_H5_CHECK(file.close(), "close " + tmp + " on every rank (MPI-IO)");  // collective
    if (error.empty()) fsync_file(tmp);
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  if (const std::string f = share_outcome(group, error).failure; !f.empty()) refuse(f, false);
  // 4. Rank 0 commits and renames.
  bool renamed = false;
  if (lead) try {
      if (opt.before_commit) opt.before_commit();
      h5::File file;
      {
        h5::Lock lock;
        const h5::PropList fapl = h5::file_access();
        file = h5::File(TOOLGRPO_H5_CHECK(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, fapl.get()), "open " + tmp));
      }
      write_commit(file, checksum, tmp);
      fsync_file(tmp);
      rename_file(tmp, path);
      renamed = true;
      fsync_dir(parent_dir(path));
    } catch (const std::exception& e) {
      error = renamed ? std::string("its directory could not be synced: ") + e.what() : std::string(e.what());
    }
  const std::vector<std::string> outcome = group.allgather(lead ? (renamed ? "1" : "0") + error : "");
  if (outcome[0].size() > 1) refuse("rank 0: " + outcome[0].substr(1), outcome[0][0] == '1');
}

void checkpoint_verify_parts(const CheckpointReader* reader, const std::vector<std::string>& paths,
                             const std::vector<PartChecksum>& parts, const CheckpointGroup& group,
                             const std::string& error) {
  const auto refuse = [&](const std::string& why) {
    throw CheckpointError((reader ? reader->path() + ": " : std::string()) + why);
  };
  std::vector<TensorView> views;
  std::string local, local_error = error;
  if (local_error.empty()) try {
      if (reader == nullptr) throw std::invalid_argument("no checkpoint reader");
      for (const std::string& p : paths) {
        const CheckpointReader::TensorInfo& t = reader->info(p);
        views.push_back({p, t.type, t.shape, nullptr});
      }
      std::vector<PartRecord> records;
      for (const PartChecksum& p : parts) {
        if (p.tensor >= paths.size())
          throw std::invalid_argument("a part of tensor number " + std::to_string(p.tensor));
        records.push_back({p.tensor, p.offset, p.count, p.crc, 0});
      }
      local = encode(records);
    } catch (const std::exception& e) {
      local_error = e.what();
    }
  const Exchanged parts_of_all = share_outcome(group, local_error, local);
  if (!parts_of_all.failure.empty()) refuse(parts_of_all.failure);
  std::vector<uint32_t> crcs;
  try {
    crcs = combined_checksums(views, parts_of_all.payloads);
  } catch (const std::exception& e) {
    refuse(e.what());
  }
  for (std::size_t i = 0; i < paths.size(); ++i)
    if (crcs[i] != reader->stored_crc(paths[i]))
      refuse("tensor '" + paths[i] + "': checksum mismatch (stored " + hex32(reader->stored_crc(paths[i])) +
             ", computed from the ranks' parts " + hex32(crcs[i]) + "): the file is damaged");
}

}  // namespace toolgrpo::io
