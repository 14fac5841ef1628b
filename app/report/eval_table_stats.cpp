// The two-level bootstrap of eval_table_stats.hpp.
#include "app/report/eval_table_stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace toolgrpo::app {
namespace {

// splitmix64: the same stream on every platform (std distributions are implementation-defined). below() draws
// uniformly by rejection, without modulo bias.
class Rng {
 public:
  explicit Rng(uint64_t seed) : x_(seed) {}
  uint64_t next() {
    uint64_t z = (x_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // draws at or above it would favour small values
    for (;;) {
      const uint64_t v = next();
      if (v < limit) return static_cast<std::size_t>(v % n);
    }
  }

 private:
  uint64_t x_;
};

std::size_t rows_of(const SeedRows& c, const char* which) {
  if (c.empty()) throw std::invalid_argument(std::string(which) + ": no seeds");
  const std::size_t n = c[0].size();
  if (n == 0) throw std::invalid_argument(std::string(which) + ": no rows");
  for (std::size_t s = 1; s < c.size(); ++s)
    if (c[s].size() != n)
      throw std::invalid_argument(std::string(which) + ": seed " + std::to_string(s + 1) + " has " +
                                  std::to_string(c[s].size()) + " rows, seed 1 has " + std::to_string(n));
  return n;
}

double mean_of(const SeedRows& c) {
  double total = 0;
  for (const auto& seed : c) {
    double s = 0;
    for (double v : seed) s += v;
    total += s / static_cast<double>(seed.size());
  }
  return total / static_cast<double>(c.size());
}

void check_options(const BootstrapOptions& opt) {
  if (opt.resamples < 1) throw std::invalid_argument("bootstrap: at least one resample is needed");
  if (!(opt.level > 0 && opt.level < 1))
    throw std::invalid_argument("bootstrap: the level must be in (0, 1)");
}

// B resampled statistics: mean(a) over the drawn seeds and rows, minus mean(b) on the same draws when b is
// given.
std::vector<double> resample(const SeedRows& a, const SeedRows* b, const BootstrapOptions& opt) {
  const std::size_t rows = a[0].size();
  const std::size_t seeds = std::max(a.size(), b ? b->size() : 0);
  Rng rng(opt.seed);
  std::vector<double> out(opt.resamples);
  for (std::size_t k = 0; k < opt.resamples; ++k) {
    double sum_a = 0, sum_b = 0;
    for (std::size_t s = 0; s < seeds; ++s) {
      const std::size_t j = rng.below(seeds);
      const std::vector<double>& ra = a[a.size() == 1 ? 0 : j];
      const std::vector<double>* rb = b ? &(*b)[b->size() == 1 ? 0 : j] : nullptr;
      double sa = 0, sb = 0;
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = rng.below(rows);
        sa += ra[i];
        if (rb) sb += (*rb)[i];
      }
      sum_a += sa / static_cast<double>(rows);
      sum_b += sb / static_cast<double>(rows);
    }
    out[k] = (sum_a - sum_b) / static_cast<double>(seeds);
  }
  return out;
}

}  // namespace

Estimate percentile_interval(std::vector<double>& values, double level) {
  if (values.empty()) throw std::invalid_argument("percentile_interval: no values");
  std::sort(values.begin(), values.end());
  const double b = static_cast<double>(values.size());
  const auto at = [&](double q) {
    // The rank ceil(q*B); the small slack keeps q*B that is an integer in exact arithmetic from rounding up.
    double rank = std::ceil(q * b - 1e-9);
    rank = std::min(std::max(rank, 1.0), b);
    return values[static_cast<std::size_t>(rank) - 1];
  };
  Estimate e;
  e.lo = at((1 - level) / 2);
  e.hi = at(1 - (1 - level) / 2);
  return e;
}

Estimate bootstrap_mean(const SeedRows& column, const BootstrapOptions& opt) {
  check_options(opt);
  rows_of(column, "bootstrap");
  std::vector<double> means = resample(column, nullptr, opt);
  Estimate e = percentile_interval(means, opt.level);
  e.mean = mean_of(column);
  return e;
}

Estimate bootstrap_difference(const SeedRows& a, const SeedRows& b, const BootstrapOptions& opt) {
  check_options(opt);
  const std::size_t na = rows_of(a, "bootstrap (first column)"), nb = rows_of(b, "bootstrap (second column)");
  if (na != nb)
    throw std::invalid_argument("bootstrap: the columns have " + std::to_string(na) + " and " +
                                std::to_string(nb) + " rows; a paired difference needs the same rows");
  if (a.size() != b.size() && a.size() != 1 && b.size() != 1)
    throw std::invalid_argument("bootstrap: the columns have " + std::to_string(a.size()) + " and " +
                                std::to_string(b.size()) +
                                " seeds; a paired difference needs the same seeds (or one column with one)");
  std::vector<double> diffs = resample(a, &b, opt);
  Estimate e = percentile_interval(diffs, opt.level);
  e.mean = mean_of(a) - mean_of(b);
  return e;
}

}  // namespace toolgrpo::app
