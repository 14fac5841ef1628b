// safetensors header and layout validation; see safetensors_header.hpp.
#include "model/safetensors_header.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "common/checked_size.hpp"
#include "common/input_error.hpp"

namespace toolgrpo::model {
namespace {

using nlohmann::json;

struct DTypeSize {
  const char* name;
  std::size_t bytes;
};
const DTypeSize kDTypeSizes[] = {{"F32", 4}, {"BF16", 2}, {"F16", 2}, {"F64", 8}, {"I64", 8},
                                 {"I32", 4}, {"I16", 2},  {"I8", 1},  {"U8", 1},  {"BOOL", 1}};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw common::InputError(path + ": " + what);
}

}  // namespace

std::size_t safetensors_dtype_bytes(std::string_view dtype) {
  for (const auto& d : kDTypeSizes)
    if (dtype == d.name) return d.bytes;
  return 0;
}

SafetensorsLayout safetensors_parse(const unsigned char* bytes, std::size_t size, const std::string& path) {
  if (size < 8)
    fail(path, "truncated: " + std::to_string(size) +
                   " bytes, a safetensors file starts with an 8-byte header size");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > size - 8 || header_len > kSafetensorsMaxHeaderBytes)
    fail(path, "header size " + std::to_string(header_len) + " does not fit in the file of " +
                   std::to_string(size) + " bytes (truncated or not a safetensors file)");
  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(bytes + 8),
                         reinterpret_cast<const char*>(bytes + 8 + header_len));
  } catch (const std::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header must be a JSON object");
  SafetensorsLayout layout;
  layout.data_offset = 8 + header_len;
  layout.data_size = size - 8 - header_len;
  std::vector<std::pair<uint64_t, std::string>> starts;
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") {
      if (!e.is_object()) fail(path, "__metadata__ must be an object of strings");
      for (const auto& [k, v] : e.items())
        if (v.is_string()) layout.metadata[k] = v.get<std::string>();
      continue;
    }
    const std::string where = "tensor \"" + name + "\": ";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail(path, where + "needs dtype, shape and data_offsets");
    SafetensorsEntry entry;
    if (!e["dtype"].is_string()) fail(path, where + "dtype must be a string");
    entry.dtype = e["dtype"].get<std::string>();
    const std::size_t element_bytes = safetensors_dtype_bytes(entry.dtype);
    if (element_bytes == 0) fail(path, where + "unsupported dtype " + entry.dtype);
    if (!e["shape"].is_array()) fail(path, where + "shape must be a list");
    std::vector<uint64_t> dims;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) fail(path, where + "shape entries must be non-negative integers");
      dims.push_back(d.get<uint64_t>());
    }
    // Checked: a shape whose element count wraps around in 64 bits must not pass the size check below.
    const std::optional<uint64_t> numel = common::shape_elements(dims);
    const std::optional<uint64_t> nbytes = numel ? common::checked_mul(*numel, element_bytes) : std::nullopt;
    if (!nbytes) {
      std::string shape;
      for (uint64_t d : dims) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      fail(path, where + "shape [" + shape +
                     "] has more elements than a tensor can hold (its size overflows 64 bits)");
    }
    entry.shape.assign(dims.begin(), dims.end());
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path, where + "data_offsets must be [begin, end]");
    entry.begin = off[0].get<uint64_t>();
    entry.end = off[1].get<uint64_t>();
    if (entry.begin > entry.end || entry.end > layout.data_size)
      fail(path, where + "data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                     "] outside the data section of " + std::to_string(layout.data_size) +
                     " bytes (file truncated?)");
    if (entry.end - entry.begin != *nbytes)
      fail(path, where + std::to_string(entry.end - entry.begin) + " bytes for " + std::to_string(*numel) +
                     " " + entry.dtype + " elements (expected " + std::to_string(*nbytes) + ")");
    starts.emplace_back(entry.begin, name);
    layout.entries.emplace(name, std::move(entry));
  }
  std::sort(starts.begin(), starts.end());
  for (std::size_t k = 1; k < starts.size(); ++k) {
    const auto& prev = layout.entries.at(starts[k - 1].second);
    if (starts[k].first < prev.end && prev.end > prev.begin)
      fail(path, "tensors \"" + starts[k - 1].second + "\" and \"" + starts[k].second + "\" overlap");
  }
  return layout;
}

}  // namespace toolgrpo::model
