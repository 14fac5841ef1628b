// ToolRL datasets, epoch order and cursor; see dataset.hpp.
#include "io/dataset.hpp"

#include "common/input_error.hpp"
#include "common/name_table.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace toolgrpo::io {
namespace {

using nlohmann::json;

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string field(const json& row, const char* key) {
  const auto it = row.find(key);
  if (it == row.end()) throw std::invalid_argument(std::string("missing field \"") + key + "\"");
  if (!it->is_string()) throw std::invalid_argument(std::string("field \"") + key + "\" must be a string");
  return it->get<std::string>();
}

}  // namespace

namespace {

const common::EnumName<DatasetFormat> kDatasetFormats[] = {
    {DatasetFormat::Auto, "auto"}, {DatasetFormat::Jsonl, "jsonl"}, {DatasetFormat::ToolrlJson, "toolrl-json"}};

}  // namespace

DatasetFormat dataset_format_from_name(const std::string& name) {
  return common::enum_from_name(kDatasetFormats, name, "dataset format");
}
const char* dataset_format_name(DatasetFormat v) { return common::enum_name(kDatasetFormats, v); }
std::vector<std::string> dataset_format_names() { return common::enum_names(kDatasetFormats); }

Dataset dataset_load(const std::string& path, const DatasetOptions& opt) {
  std::ifstream in(path);
  if (!in) throw common::InputError(path + ": cannot open the dataset");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  DatasetFormat format = opt.format;
  if (format == DatasetFormat::Auto) {
    const std::size_t first = text.find_first_not_of(" \t\r\n");
    format = first != std::string::npos && text[first] == '[' ? DatasetFormat::ToolrlJson : DatasetFormat::Jsonl;
  }
  Dataset d;
  d.path = path;
  const auto bad = [&](const std::string& where, const std::string& what) {
    if (!opt.skip_bad_rows) throw common::InputError(path + ":" + where + ": " + what);
    ++d.skipped;
  };
  if (format == DatasetFormat::Jsonl) {
    std::istringstream lines(text);
    std::string line;
    std::size_t n = 0;
    while (std::getline(lines, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        const json row = json::parse(line);
        if (!row.is_object()) throw std::invalid_argument("expected a JSON object");
        ToolRLRow r{row.contains("id") && row["id"].is_string() ? row["id"].get<std::string>() : "",
                    field(row, "system"), field(row, "user"), field(row, "ground_truth")};
        d.rows.push_back(std::move(r));
      } catch (const std::exception& e) {
        bad(std::to_string(n), e.what());
      }
    }
  } else if (format == DatasetFormat::ToolrlJson) {
    json arr;
    try {
      arr = json::parse(text);
    } catch (const std::exception& e) {
      throw common::InputError(path + ": not valid JSON: " + e.what());
    }
    if (!arr.is_array()) throw common::InputError(path + ": expected a JSON array of {instruction, input, output}");
    for (std::size_t k = 0; k < arr.size(); ++k) {
      try {
        if (!arr[k].is_object()) throw std::invalid_argument("expected an object");
        d.rows.push_back(ToolRLRow{"", field(arr[k], "instruction"), field(arr[k], "input"),
                                   field(arr[k], "output")});
      } catch (const std::exception& e) {
        bad("row " + std::to_string(k), e.what());
      }
    }
  } else {
    throw std::runtime_error(std::string("dataset format '") + dataset_format_name(format) + "' is not jsonl or toolrl-json");
  }
  if (d.rows.empty()) throw common::InputError(path + ": no usable rows");
  return d;
}

std::vector<int64_t> epoch_order(std::size_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  uint64_t state = seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(epoch + 1));
  for (std::size_t i = n; i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(splitmix64(state) % i);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

std::vector<int64_t> take_rows(std::size_t n, uint64_t seed, DataCursor& cursor, int64_t count) {
  if (n == 0) throw std::invalid_argument("take_rows: empty dataset");
  std::vector<int64_t> out;
  std::vector<int64_t> order = epoch_order(n, seed, cursor.epoch);
  while (static_cast<int64_t>(out.size()) < count) {
    if (cursor.position >= static_cast<int64_t>(n)) {
      ++cursor.epoch;
      cursor.position = 0;
      order = epoch_order(n, seed, cursor.epoch);
    }
    out.push_back(order[static_cast<std::size_t>(cursor.position++)]);
  }
  return out;
}

std::pair<int64_t, int64_t> shard_range(int64_t count, int rank, int size) {
  const int64_t base = count / size, extra = count % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace toolgrpo::io
