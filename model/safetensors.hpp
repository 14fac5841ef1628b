// safetensors files: a memory-mapped reader, validated by safetensors_header.hpp's parser (one file, or a model
// directory with a sharded model.safetensors.index.json), and writers (one file; a model directory's weights,
// sharded as Hugging Face transformers shards them). Every error names the file and the tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/safetensors_header.hpp"

namespace toolgrpo::model {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // maps and validates the whole header
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  // An owning CPU tensor, converted to `to` when given (F32/BF16/F16 convert among themselves).
  at::Tensor load(const std::string& name, std::optional<at::ScalarType> to = std::nullopt) const;

 private:
  std::string path_;
  void* map_ = nullptr;
  std::size_t size_ = 0;
  const unsigned char* data_ = nullptr;  // start of the data section
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// The weights of a Hugging Face model directory: model.safetensors, or the shards named by
// model.safetensors.index.json.
class SafetensorsStore {
 public:
  explicit SafetensorsStore(const std::string& dir);
  bool has(const std::string& name) const { return owner_.count(name) != 0; }
  std::vector<std::string> names() const;
  at::Tensor load(const std::string& name, std::optional<at::ScalarType> to = std::nullopt) const;
  const SafetensorsEntry& entry(const std::string& name) const;
  std::string file_of(const std::string& name) const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> owner_;
  std::string dir_;
};

// Writes tensors (contiguous CPU copies are made as needed) to `path` atomically (temp file + rename), names
// in sorted order, header padded to 8 bytes.
void safetensors_save(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes the weights of a model directory `dir` (which must exist): DIR/model.safetensors when all tensors fit in
// `max_shard_bytes`, otherwise DIR/model-00001-of-0000N.safetensors ... packed greedily in the given order (a
// shard is closed when the next tensor would take it past the limit; a tensor larger than the limit gets a shard
// of its own) and DIR/model.safetensors.index.json {"metadata": {"total_size": BYTES}, "weight_map": {tensor:
// file}}, as transformers' save_pretrained writes them. Each file appears atomically; a model.safetensors or
// index of the other layout left in DIR is removed. Returns the file names written (shards, then the index).
std::vector<std::string> safetensors_save_sharded(
    const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors, uint64_t max_shard_bytes,
    const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace toolgrpo::model
