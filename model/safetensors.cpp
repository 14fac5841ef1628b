// safetensors reader (mmap, then safetensors_header.cpp's validation) and writers (one file, sharded model
// weights); see safetensors.hpp.
#include "model/safetensors.hpp"

#include "common/input_error.hpp"

#include <ATen/Functions.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace toolgrpo::model {
namespace {

using nlohmann::json;

struct DTypeInfo {
  const char* name;
  at::ScalarType type;
};
// The dtypes safetensors_header.cpp knows (with their sizes there), as libtorch types.
const DTypeInfo kDTypes[] = {
    {"F32", at::kFloat}, {"BF16", at::kBFloat16}, {"F16", at::kHalf}, {"F64", at::kDouble}, {"I64", at::kLong},
    {"I32", at::kInt},   {"I16", at::kShort},     {"I8", at::kChar},  {"U8", at::kByte},    {"BOOL", at::kBool},
};

const DTypeInfo* dtype_by_name(const std::string& n) {
  for (const auto& d : kDTypes)
    if (n == d.name) return &d;
  return nullptr;
}
const DTypeInfo* dtype_by_type(at::ScalarType t) {
  for (const auto& d : kDTypes)
    if (t == d.type) return &d;
  return nullptr;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw common::InputError(path + ": " + what);
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(errno));
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    safetensors_parse(nullptr, size_, path);  // refuses it (too short for the header size) without reading
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    fail(path, std::string("cannot map: ") + std::strerror(errno));
  }
  const auto* bytes = static_cast<const unsigned char*>(map_);
  SafetensorsLayout layout;
  try {
    layout = safetensors_parse(bytes, size_, path);
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
  data_ = bytes + layout.data_offset;
  entries_ = std::move(layout.entries);
  metadata_ = std::move(layout.metadata);
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

at::Tensor SafetensorsFile::load(const std::string& name, std::optional<at::ScalarType> to) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_, "no tensor \"" + name + "\"");
  const SafetensorsEntry& e = it->second;
  const DTypeInfo* dt = dtype_by_name(e.dtype);
  // Copy out of the mapping (data may be unaligned for its type), then convert.
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(dt->type));
  std::memcpy(t.data_ptr(), data_ + e.begin, e.end - e.begin);
  if (to && *to != dt->type) {
    const bool floating = at::isFloatingType(*to) && at::isFloatingType(dt->type);
    if (!floating)
      fail(path_, "tensor \"" + name + "\" has dtype " + e.dtype + ", which cannot be converted to the run dtype");
    t = t.to(*to);
  }
  return t;
}

SafetensorsStore::SafetensorsStore(const std::string& dir) : dir_(dir) {
  const std::string single = dir + "/model.safetensors", index = dir + "/model.safetensors.index.json";
  std::vector<std::string> shard_files;
  std::map<std::string, std::string> weight_map;
  if (std::ifstream(index)) {
    std::ifstream in(index);
    json j;
    try {
      in >> j;
    } catch (const std::exception& e) {
      fail(index, std::string("not valid JSON: ") + e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) fail(index, "needs a \"weight_map\" object");
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) fail(index, "weight_map[\"" + name + "\"] must be a file name");
      weight_map[name] = file.get<std::string>();
      if (std::find(shard_files.begin(), shard_files.end(), weight_map[name]) == shard_files.end())
        shard_files.push_back(weight_map[name]);
    }
  } else if (std::ifstream(single)) {
    shard_files.push_back("model.safetensors");
  } else {
    fail(dir, "no model.safetensors or model.safetensors.index.json");
  }
  for (const auto& f : shard_files) {
    files_.push_back(std::make_unique<SafetensorsFile>(dir + "/" + f));
    for (const auto& [name, e] : files_.back()->entries()) {
      (void)e;
      if (!weight_map.empty() && weight_map.count(name) && weight_map[name] != f) continue;
      if (!owner_.emplace(name, files_.back().get()).second)
        fail(dir + "/" + f, "tensor \"" + name + "\" appears in more than one shard");
    }
  }
  for (const auto& [name, f] : weight_map)
    if (!owner_.count(name)) fail(dir + "/" + f, "index names tensor \"" + name + "\" but the shard lacks it");
}

std::vector<std::string> SafetensorsStore::names() const {
  std::vector<std::string> out;
  for (const auto& kv : owner_) out.push_back(kv.first);
  return out;
}

at::Tensor SafetensorsStore::load(const std::string& name, std::optional<at::ScalarType> to) const {
  const auto it = owner_.find(name);
  if (it == owner_.end()) fail(dir_, "missing tensor \"" + name + "\" in the model weights");
  return it->second->load(name, to);
}

const SafetensorsEntry& SafetensorsStore::entry(const std::string& name) const {
  const auto it = owner_.find(name);
  if (it == owner_.end()) fail(dir_, "missing tensor \"" + name + "\" in the model weights");
  return it->second->entries().at(name);
}

std::string SafetensorsStore::file_of(const std::string& name) const {
  const auto it = owner_.find(name);
  return it == owner_.end() ? dir_ : it->second->path();
}

void safetensors_save(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, at::Tensor>> sorted;
  for (const auto& [n, t] : tensors) sorted.emplace_back(n, t.detach().to(at::kCPU).contiguous());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [n, t] : sorted) {
    const DTypeInfo* dt = dtype_by_type(t.scalar_type());
    if (dt == nullptr) fail(path, "tensor \"" + n + "\": dtype not supported by safetensors");
    const uint64_t bytes = t.nbytes();  // of a tensor that exists: libtorch sized it with its own checks
    header[n] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary);
    if (!out) fail(temp, std::string("cannot create: ") + std::strerror(errno));
    uint64_t n = h.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out << h;
    for (const auto& [name, t] : sorted)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    if (!out) {
      std::remove(temp.c_str());
      fail(temp, "write failed");
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    fail(path, std::string("cannot rename into place: ") + std::strerror(errno));
  }
}

std::vector<std::string> safetensors_save_sharded(const std::string& dir,
                                                  const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                                  uint64_t max_shard_bytes,
                                                  const std::map<std::string, std::string>& metadata) {
  if (max_shard_bytes == 0) fail(dir, "the maximum shard size must be at least 1 byte");
  const std::string single = dir + "/model.safetensors", index = dir + "/model.safetensors.index.json";
  // Greedy packing in the given order, as huggingface_hub's split_torch_state_dict_into_shards does.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  for (const auto& [n, t] : tensors) {
    const uint64_t bytes = t.nbytes();
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(n, t);
    shard_bytes += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    safetensors_save(single, tensors, metadata);
    std::remove(index.c_str());
    return {"model.safetensors"};
  }
  std::vector<std::string> names;
  json weight_map = json::object();
  for (std::size_t k = 0; k < shards.size(); ++k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
    safetensors_save(dir + "/" + name, shards[k], metadata);
    for (const auto& [n, t] : shards[k]) {
      if (weight_map.contains(n)) fail(dir + "/" + name, "tensor \"" + n + "\" is given twice");
      weight_map[n] = name;
    }
    names.emplace_back(name);
  }
  const json j = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const std::string text = j.dump(2) + "\n", temp = index + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary);
    out << text;
    if (!out) {
      std::remove(temp.c_str());
      fail(temp, std::string("cannot write: ") + std::strerror(errno));
    }
  }
  if (std::rename(temp.c_str(), index.c_str()) != 0) {
    std::remove(temp.c_str());
    fail(index, std::string("cannot rename into place: ") + std::strerror(errno));
  }
  std::remove(single.c_str());
  names.emplace_back("model.safetensors.index.json");
  return names;
}

}  // namespace toolgrpo::model
