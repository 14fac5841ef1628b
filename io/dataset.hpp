// ToolRL task data: JSON Lines rows {system, user, ground_truth[, id]} (the shared toolrl/*.jsonl) or the
// official raw JSON array of {instruction, input, output}; a deterministic per-epoch order from the run seed and a
// cursor (epoch, position) that a checkpoint can store. No MPI here: callers take their rank's share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace toolgrpo::io {

struct ToolRLRow {
  std::string id;  // the row's "id"; empty when it has none (eval then names it by its 0-based position)
  std::string system;
  std::string user;
  std::string ground_truth;
};

// data.format: auto (by content: a JSON array is toolrl-json, anything else jsonl) | jsonl | toolrl-json.
enum class DatasetFormat { Auto, Jsonl, ToolrlJson };

// The names, one table. from_name throws std::invalid_argument listing them.
DatasetFormat dataset_format_from_name(const std::string& name);
const char* dataset_format_name(DatasetFormat f);
std::vector<std::string> dataset_format_names();

struct DatasetOptions {
  DatasetFormat format = DatasetFormat::Auto;
  bool skip_bad_rows = false;   // count and skip malformed rows instead of failing
};

struct Dataset {
  std::string path;
  std::vector<ToolRLRow> rows;
  std::size_t skipped = 0;
};

// Throws std::runtime_error naming the file and line of the first malformed row (unless skipping).
Dataset dataset_load(const std::string& path, const DatasetOptions& opt = {});

struct DataCursor {
  int64_t epoch = 0;
  int64_t position = 0;  // rows of this epoch already handed out
};

// The order of rows in `epoch`: a permutation of [0, n) that depends only on (seed, epoch).
std::vector<int64_t> epoch_order(std::size_t n, uint64_t seed, int64_t epoch);

// The next `count` row indices from the cursor (continuing into the next epoch when one ends); advances it.
std::vector<int64_t> take_rows(std::size_t n, uint64_t seed, DataCursor& cursor, int64_t count);

// The part [begin, end) of `count` items that rank `rank` of `size` handles (contiguous, sizes differ by <= 1).
std::pair<int64_t, int64_t> shard_range(int64_t count, int rank, int size);

}  // namespace toolgrpo::io
