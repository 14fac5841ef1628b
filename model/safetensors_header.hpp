// The layout of a safetensors file, read from its bytes without libtorch: the 8-byte header length, the JSON
// header, and each tensor's dtype, shape and byte range, validated against the file (every range inside the
// data section, no two overlapping, shape x element size equal to the range, sizes multiplied with overflow
// checks). safetensors.hpp maps files and turns entries into tensors; the libFuzzer target
// tests/fuzz/fuzz_safetensors.cpp feeds this parser arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace toolgrpo::model {

struct SafetensorsEntry {
  std::string dtype;  // "F32", "BF16", "F16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range in the data section
};

struct SafetensorsLayout {
  uint64_t data_offset = 0;  // where the data section starts in the file: 8 + the header length
  uint64_t data_size = 0;    // bytes from there to the end of the file
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;  // the string values of "__metadata__"
};

// Bytes per element of a safetensors dtype name (F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL); 0 for a
// name this reader does not know.
std::size_t safetensors_dtype_bytes(std::string_view dtype);

// The largest header accepted, whatever the file's size (a header lists names, dtypes, shapes and offsets; a
// model's has a few hundred bytes per tensor).
constexpr uint64_t kSafetensorsMaxHeaderBytes = uint64_t{100} << 20;

// Parses and validates the `size` bytes of a whole safetensors file; `path` names it in errors. Throws
// common::InputError "PATH: what was wrong" (naming the tensor when one is at fault). Reads nothing outside
// [bytes, bytes + size); every entry returned satisfies begin <= end <= data_size and end - begin == the
// shape's element count x the dtype's size.
SafetensorsLayout safetensors_parse(const unsigned char* bytes, std::size_t size, const std::string& path);

}  // namespace toolgrpo::model
