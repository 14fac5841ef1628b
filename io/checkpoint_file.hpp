// Checkpoint files (HDF5) and the checkpoint directory of a run. A file holds named tensors (row-major bytes the
// caller owns) and scalar metadata under /meta; each dataset carries a CRC-32C of its bytes, /meta/checksum
// covers the metadata and every dataset's checksum, and a commit marker written last says the file is complete.
// Writes go to NAME.tmp, are flushed and fsynced, then renamed (and the directory fsynced). No libtorch and no
// MPI here: the caller decides which rank writes and converts its tensors to TensorView.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "common/input_error.hpp"
#include "io/crc32c.hpp"

namespace toolgrpo::io {

// Element types a checkpoint stores. BF16 is stored as 16-bit unsigned integers with a dtype attribute "BF16".
enum class ElemType { F32, F64, BF16, F16, I64 };
std::size_t elem_size(ElemType t);
const char* elem_name(ElemType t);  // "F32", "F64", "BF16", "F16", "I64" (as in safetensors)
std::string shape_text(const std::vector<int64_t>& shape);  // "[151936, 896]"; "[]" for a scalar

struct TensorView {
  std::string path;             // dataset path without the leading '/': "model/model.embed_tokens.weight"
  ElemType type = ElemType::F32;
  std::vector<int64_t> shape;   // row-major; {} is a scalar
  const void* data = nullptr;   // elem_size(type) * prod(shape) bytes, owned by the caller
};

using MetaValue = std::variant<int64_t, double, std::string>;
struct MetaItem {
  std::string key;  // /meta/<key>
  MetaValue value;
};

// The two kinds of checkpoint failure, by which way the bytes flow (docs/DESIGN.md section 9):
// - CheckpointError: a file read as a checkpoint is not a good one (absent, unreadable, truncated, damaged, of
//   another format or version, a tensor or key missing or of the wrong type or shape). Bad input: a
//   common::InputError, exit code 2. The message names the file and what was wrong and expected (and the tensor
//   or key when there is one). Everything CheckpointReader, checkpoint_verify_parts and checkpoint_latest throw.
// - CheckpointWriteError: a checkpoint could not be written, or the checkpoint directory maintained (I/O error,
//   full disk, permissions, a caller's bad arguments). Not bad input: exit code 1. Earlier checkpoints and the
//   `latest` pointer are left as they were, and no file appears under the new name.
struct CheckpointError : common::InputError {
  using common::InputError::InputError;
};
struct CheckpointWriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CheckpointWriteOptions {
  // Called after every dataset and /meta are written, before the commit marker (a test pauses a save here).
  std::function<void()> before_commit;
};

// Writes `path` (a complete file appears under that name or nothing does): PATH.tmp, then the tensors, /meta
// (the given items plus format_version and checksum), the commit marker, flush, fsync, rename, fsync of the
// directory. Throws CheckpointWriteError naming the file on any failure (the .tmp file is removed).
void checkpoint_write(const std::string& path, const std::vector<MetaItem>& meta,
                      const std::vector<TensorView>& tensors, const CheckpointWriteOptions& opt = {});

// The ranks of a collective checkpoint write, and what io needs from them (it makes no MPI calls itself):
// the MPI communicator, which only HDF5's MPI-IO driver uses, and an all-gather of bytes.
struct CheckpointGroup {
  int rank = 0, size = 1;
  const void* mpi_comm = nullptr;  // the address of an MPI_Comm over these ranks
  std::function<std::vector<std::string>(const std::string&)> allgather;  // every rank's bytes, in rank order
};

// Elements [offset, offset + count) of the row-major flat view of tensor number `tensor`, which this rank
// writes from `data` (count * elem_size bytes).
struct TensorPart {
  std::size_t tensor = 0;
  uint64_t offset = 0, count = 0;
  const void* data = nullptr;
};

// Collective over `group`: the file checkpoint_write makes from whole tensors (the same layout, checksums and
// commit marker; complete under `path` or absent), made from the parts the ranks hold. Every rank passes the
// same `meta` and `tensors` (paths, types and shapes; their data is not read) and its own `parts`; the parts
// of all ranks together cover every element of every tensor once. The ranks checksum their parts and exchange
// the checksums; rank 0 creates the file with the metadata and every dataset's space; all ranks write their
// parts through parallel HDF5 (MPI-IO) and sync them; rank 0 writes the commit marker (after
// `opt.before_commit`) and renames. A failure on any rank throws CheckpointWriteError on every rank, naming the
// rank and the problem, and leaves no file under `path` or its .tmp name.
void checkpoint_write_collective(const std::string& path, const std::vector<MetaItem>& meta,
                                 const std::vector<TensorView>& tensors, const std::vector<TensorPart>& parts,
                                 const CheckpointGroup& group, const CheckpointWriteOptions& opt = {});

// A part of a tensor a rank read (CheckpointReader::read_part), with the CRC-32C of its bytes.
struct PartChecksum {
  std::size_t tensor = 0;  // index into the paths given to checkpoint_verify_parts
  uint64_t offset = 0, count = 0;
  uint32_t crc = 0;
};

class CheckpointReader;

// Collective over `group`: the ranks read `paths` of `reader`'s file in parts that together cover every
// element once; each tensor's checksum, combined from the parts' checksums, must equal the stored one.
// `error`: this rank's failure so far ("" for none; `reader` may then be null). Throws CheckpointError on
// every rank when any rank failed, when the parts leave elements out or overlap, or when a tensor's checksum
// does not match (the file is damaged). One all-gather.
void checkpoint_verify_parts(const CheckpointReader* reader, const std::vector<std::string>& paths,
                             const std::vector<PartChecksum>& parts, const CheckpointGroup& group,
                             const std::string& error);

class CheckpointReader {
 public:
  struct TensorInfo {
    std::string path;
    ElemType type = ElemType::F32;
    std::vector<int64_t> shape;
    uint64_t bytes = 0;
  };

  // Opens `path` and checks that it is a complete toolgrpo checkpoint of a known format version whose metadata
  // checksum matches, and that every tensor is stored as the writer stores it (contiguous, unfiltered, inside
  // the file, its size that of its shape and dtype); throws CheckpointError naming the file and the problem
  // otherwise.
  explicit CheckpointReader(const std::string& path);
  // The same checks on a checkpoint held in memory (an HDF5 file image of `size` bytes, copied; HDF5's core
  // driver): `name` stands for the file in messages and path().
  CheckpointReader(const std::string& name, const void* image, std::size_t size);
  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const std::string& path() const { return path_; }
  // The writer's items, in key order (format_version and checksum are checked, not listed).
  const std::vector<MetaItem>& meta() const { return meta_; }
  int64_t format_version() const { return format_version_; }
  uint32_t meta_checksum() const { return meta_checksum_; }  // /meta/checksum, already verified
  bool has_meta(const std::string& key) const;
  // Throw CheckpointError naming the file and key when absent or of another type.
  int64_t meta_int(const std::string& key) const;
  double meta_double(const std::string& key) const;
  std::string meta_string(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by path
  bool has(const std::string& path) const;
  const TensorInfo& info(const std::string& path) const;  // throws CheckpointError naming the tensor
  // Reads the tensor's bytes into `dst` (info(path).bytes of them) and verifies its checksum; throws
  // CheckpointError naming the file and tensor on a mismatch or read error.
  void read(const std::string& path, void* dst) const;
  // Reads elements [offset, offset + count) of the tensor's row-major flat view into `dst` and returns their
  // CRC-32C. A part cannot be checked alone: checkpoint_verify_parts checks the parts of all ranks together.
  uint32_t read_part(const std::string& path, uint64_t offset, uint64_t count, void* dst) const;
  uint32_t stored_crc(const std::string& path) const;  // the tensor's crc32c attribute

 private:
  struct Impl;
  void open(const void* image, std::size_t size);  // image == nullptr: the file at path_
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::vector<MetaItem> meta_;
  std::vector<TensorInfo> tensors_;
  int64_t format_version_ = 0;
  uint32_t meta_checksum_ = 0;
};

// The checkpoint directory of a run. File names are ckpt-<step, 8 digits>.h5; `latest` is a text file holding
// the name of the newest complete checkpoint, replaced atomically.
std::string checkpoint_file_name(int64_t step);
// Complete checkpoint files of `dir` (no .tmp), newest step first, as full paths; {} when dir does not exist.
std::vector<std::string> checkpoint_list(const std::string& dir);
// Points `dir`/latest at `file_name` (temp file, fsync, rename, fsync of the directory). Throws
// CheckpointWriteError.
void checkpoint_latest_set(const std::string& dir, const std::string& file_name);
// The full path `dir`/latest names, or "" when there is no latest pointer. Throws CheckpointError when it cannot
// be read or holds no file name.
std::string checkpoint_latest(const std::string& dir);
// Keeps the newest `keep` checkpoints of `dir` and the one `latest` names; deletes older ones and stale .tmp files.
// Throws CheckpointWriteError when a file cannot be removed.
void checkpoint_prune(const std::string& dir, int64_t keep);

// The content checksum of format version 1 (stored as /meta/checksum and as the root attribute
// toolgrpo_commit): CRC-32C of the byte stream
//   str("toolgrpo checkpoint"), u64(number of meta items),
//   per meta item in key order (the caller's items plus format_version; never checksum):
//     str(key), then 'i' u64(int64 bits) | 'd' u64(IEEE double bits) | 's' str(value),
//   u64(number of tensors),
//   per tensor in path order: str(path), str(elem_name), u64(rank), u64(each extent), u32(its crc32c)
// where u32/u64 are little-endian and str(s) = u64(size) then the bytes. `crcs[i]` belongs to `tensors[i]`.
uint32_t checkpoint_content_checksum(const std::vector<MetaItem>& meta,
                                     const std::vector<CheckpointReader::TensorInfo>& tensors,
                                     const std::vector<uint32_t>& crcs);

}  // namespace toolgrpo::io
