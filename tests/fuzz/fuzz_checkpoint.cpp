// libFuzzer target over the HDF5 checkpoint reader, as a checkpoint from someone else reaches it. The input is
// an HDF5 file image, opened in memory (HDF5's core driver: no file on disk) by io::CheckpointReader, which
// checks the commit marker, the format version, /meta and its checksum, every tensor's dtype, shape and storage,
// and the content checksum; an accepted file then has every /meta item read as each type, every tensor read
// whole (its CRC-32C checked) and in two parts. Properties: the reader either accepts the file or throws
// io::CheckpointError naming it (no other exception, no crash, no out-of-bounds access), and an accepted
// tensor's bytes agree with its shape and dtype and fit in the file, so no buffer is larger than the input.
//
// The HDF5 library parses the file's structure itself, and its faults on damaged structure are not toolgrpo's
// to fix (docs/DESIGN.md section 9). This target found four in HDF5 1.10.8, all in libhdf5's own frames:
// 1. A hang: a global heap collection ("GCOL", where variable-length strings live) whose free-space object has
//    size 0. H5HG__cache_heap_deserialize walks the collection's objects by their sizes and never advances:
//    reading any string of the file then loops forever inside H5Dread/H5Aread. Skipped (hdf5_known_fault).
// 2. A crash (SEGV in H5HG_read, under H5Aread/H5Dread's variable-length conversion): a string whose heap
//    reference names an object the collection does not hold; HDF5 indexes its object table without checking.
//    Skipped (hdf5_known_fault).
// 3. A large allocation: a variable-length string declaring a length of up to 4 GiB makes H5T__conv_vlen
//    allocate and clear a buffer of that size before it finds the string damaged, seconds per input. Bounded:
//    C allocations above 64 MiB fail here (ASan's max_allocation_size_mb with allocator_may_return_null), which
//    HDF5 reports as an error the reader turns into CheckpointError; C++ allocations (toolgrpo's own) above the
//    limit still stop the run as a finding, since ASan's operator new reports a failed allocation.
// 4. A leak of a few dozen bytes when H5Fopen fails on a damaged object header (allocated in the metadata
//    cache's deserialisation under H5G_mkroot). LeakSanitizer ignores leaks of memory libhdf5 allocated;
//    toolgrpo's own allocations are C++ new, so they stay checked (a string HDF5 allocates for us and we did not
//    free would be missed: h5::read_string frees it on every path).
// Inputs of each kind are kept in tests/fuzz/regressions/checkpoint/ (named hdf5-*): they must stay harmless.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <string>
#include <vector>

#include "io/checkpoint_file.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::io;
using toolgrpo::fuzz::require;

namespace {

const std::string kName = "fuzz-input.h5";

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// The global heap collections of the input as HDF5 1.10 parses them (H5HG__cache_heap_deserialize): a 16-byte
// header ("GCOL", version, 3 reserved, 8-byte collection size), then objects, each a 16-byte header of index
// (2), references (2), reserved (4) and size (8) followed by its data padded to 8 bytes; index 0 is free space,
// whose size is all it takes. Anything "GCOL" that is not a collection is harmless here: the result only
// decides whether to skip an input.
struct Collection {
  uint64_t at = 0;
  std::vector<bool> present;  // by object index
};

// Faults 1 and 2 above: a collection whose walk does not advance, or a variable-length reference (4-byte
// length, 8-byte collection address, 4-byte object index, at any offset) to a collection's object that it does
// not hold.
bool hdf5_known_fault(const uint8_t* data, std::size_t size) {
  std::vector<Collection> heaps;
  for (std::size_t at = 0; at + 16 <= size; ++at) {
    // Byte by byte, not memcmp: libFuzzer traces every memcmp call, and this runs at every offset.
    if (data[at] != 'G' || data[at + 1] != 'C' || data[at + 2] != 'O' || data[at + 3] != 'L') continue;
    Collection c;
    c.at = at;
    const uint64_t length = le(data + at + 8, 8);
    const std::size_t end = static_cast<std::size_t>(std::min<uint64_t>(size - at, length)) + at;
    for (std::size_t p = at + 16; p + 16 <= end;) {
      const uint64_t index = le(data + p, 2), object = le(data + p + 8, 8);
      const uint64_t step = index > 0 ? 16 + ((object + 7) & ~uint64_t{7}) : object;
      if (step == 0) return true;  // fault 1
      if (index >= c.present.size()) c.present.resize(index + 1, false);
      c.present[index] = index > 0;
      if (step > end - p) break;
      p += static_cast<std::size_t>(step);
    }
    heaps.push_back(std::move(c));
  }
  if (heaps.empty()) return false;
  for (std::size_t k = 0; k + 16 <= size; ++k) {
    const uint64_t address = le(data + k + 4, 8);
    for (const Collection& c : heaps) {
      if (c.at != address) continue;
      const uint64_t index = le(data + k + 12, 4);
      if (index >= c.present.size() || !c.present[index]) return true;  // fault 2
    }
  }
  return false;
}

void read_everything(const CheckpointReader& r, std::size_t size) {
  for (const MetaItem& m : r.meta()) {  // each key as each type: the right one answers, the others refuse
    for (int kind = 0; kind < 3; ++kind) try {
        if (kind == 0) (void)r.meta_int(m.key);
        if (kind == 1) (void)r.meta_double(m.key);
        if (kind == 2) (void)r.meta_string(m.key);
      } catch (const CheckpointError&) {
      }
  }
  std::vector<unsigned char> buf;
  for (const CheckpointReader::TensorInfo& t : r.tensors()) {
    uint64_t n = 1;
    for (int64_t d : t.shape) {
      require(d >= 0);
      require(!__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n));
    }
    require(n * elem_size(t.type) == t.bytes);
    require(t.bytes <= size);  // stored inside the file: no allocation beyond the input's size
    buf.assign(static_cast<std::size_t>(t.bytes) + 1, 0xA5);
    try {
      r.read(t.path, buf.data());
    } catch (const CheckpointError&) {  // a checksum mismatch: the file is damaged
    }
    require(buf.back() == 0xA5);  // nothing written past the tensor
    if (n == 0) continue;
    const uint64_t half = n / 2;
    try {
      buf.assign(static_cast<std::size_t>(t.bytes) + 1, 0xA5);
      (void)r.read_part(t.path, 0, half, buf.data());
      (void)r.read_part(t.path, half, n - half, buf.data() + half * elem_size(t.type));
    } catch (const CheckpointError&) {
    }
    require(buf.back() == 0xA5);
    try {  // past the end: refused
      (void)r.read_part(t.path, n, 1, buf.data());
      require(false);
    } catch (const CheckpointError&) {
    }
  }
}

}  // namespace

extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

extern "C" const char* __lsan_default_suppressions() {
  return "leak:libhdf5\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0 || hdf5_known_fault(data, size)) return 0;
  try {
    const CheckpointReader r(kName, data, size);
    read_everything(r, size);
  } catch (const CheckpointError& e) {
    require(std::string(e.what()).compare(0, kName.size(), kName) == 0);  // the message names the file first
  }
  // Any other exception escapes to libFuzzer, which reports it: the reader has one error type for bad files.
  return 0;
}
