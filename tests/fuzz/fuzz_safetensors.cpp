// libFuzzer target over the safetensors header and layout (model/safetensors_header.cpp) as a model file from
// a hub reaches it: the input is the whole file image. A parse either throws common::InputError naming the
// file, or returns entries whose byte ranges lie in the data section, do not overlap and hold exactly the
// shape's elements; every tensor's bytes are then read as the loader copies them, so a range the checks let
// through past the end is an AddressSanitizer report.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/input_error.hpp"
#include "model/safetensors_header.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::model;
using toolgrpo::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string name = "fuzz.safetensors";
  SafetensorsLayout layout;
  try {
    layout = safetensors_parse(data, size, name);
  } catch (const toolgrpo::common::InputError& e) {
    require(std::string(e.what()).rfind(name + ": ", 0) == 0);
    return 0;
  }
  require(layout.data_offset >= 8 && layout.data_offset + layout.data_size == size);
  const unsigned char* section = data + layout.data_offset;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  unsigned char sink = 0;
  for (const auto& [tensor, e] : layout.entries) {
    require(e.begin <= e.end && e.end <= layout.data_size);
    uint64_t count = 1;
    for (int64_t d : e.shape) {
      require(d >= 0);
      require(!__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count));
    }
    const std::size_t element = safetensors_dtype_bytes(e.dtype);
    require(element > 0);
    uint64_t bytes = 0;
    require(!__builtin_mul_overflow(count, element, &bytes) && bytes == e.end - e.begin);
    // What SafetensorsFile::load does with the range: copy it out.
    std::vector<unsigned char> copy(e.end - e.begin);
    if (!copy.empty()) std::memcpy(copy.data(), section + e.begin, copy.size());
    for (unsigned char c : copy) sink ^= c;
    if (e.end > e.begin) ranges.emplace_back(e.begin, e.end);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t reached = 0;  // no byte in two tensors
  for (const auto& [begin, end] : ranges) {
    require(begin >= reached);
    reached = end;
  }
  volatile unsigned char keep = sink;
  (void)keep;
  return 0;
}
