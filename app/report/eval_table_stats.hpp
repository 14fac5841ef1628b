// Seeds-and-rows uncertainty of evaluation accuracies (the statistics of `toolgrpo eval-table`), as pure
// functions over plain arrays: no files, no printing.
//
// A column is one configuration (e.g. "before", "GRPO") evaluated once per training seed on the same rows:
// values[s][r] is row r's score under seed s (1/0 for an exact call, or a share of K samples). Its estimate
// is the mean over seeds of each seed's mean over rows. The uncertainty is a two-level bootstrap: each
// resample draws the seeds with replacement, then, for each drawn seed, the rows with replacement, and takes
// the same mean; the interval is the percentile interval of the resampled means. A difference of two columns
// draws the same seeds and rows for both (paired). The resamples come from a fixed generator seed, so the
// intervals are the same on every machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace toolgrpo::app {

using SeedRows = std::vector<std::vector<double>>;  // [seed][row]

struct BootstrapOptions {
  std::size_t resamples = 4000;
  double level = 0.95;    // the interval's coverage
  uint64_t seed = 20240;  // the resampling generator's seed
};

struct Estimate {
  double mean = 0;        // mean over seeds of the per-seed row means (the unresampled data)
  double lo = 0, hi = 0;  // percentile interval of the resampled means
};

// The percentile interval of `values` (sorted in place): the order statistics at ranks ceil(q*B) for
// q = (1-level)/2 and 1-(1-level)/2, counted from 1 (the smallest value whose empirical CDF reaches q).
Estimate percentile_interval(std::vector<double>& values, double level);

// The estimate of one column. Throws std::invalid_argument for no seeds, no rows, or seeds of different row
// counts.
Estimate bootstrap_mean(const SeedRows& column, const BootstrapOptions& opt);

// The estimate of mean(a) - mean(b) over paired resamples: each resample draws seed indices once and row
// indices once per drawn seed, and evaluates both columns on them. The columns have the same row count, and
// the same seed count or one of them a single seed (then used for every drawn seed: a baseline shared by all
// seeds). Throws std::invalid_argument otherwise.
Estimate bootstrap_difference(const SeedRows& a, const SeedRows& b, const BootstrapOptions& opt);

}  // namespace toolgrpo::app
