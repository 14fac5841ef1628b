// The two-level bootstrap of `toolgrpo eval-table` against answers worked out by hand or by enumerating every
// possible resample: percentile ranks, the row level, the seed level, pairing, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <vector>

#include "app/report/eval_table_stats.hpp"

namespace toolgrpo::app {
namespace {

BootstrapOptions options(std::size_t resamples, uint64_t seed = 20240) {
  BootstrapOptions o;
  o.resamples = resamples;
  o.seed = seed;
  return o;
}

// The exact distribution of the mean of n rows drawn with replacement from `rows` (all n^n draws, equally
// likely): mean -> probability. Means are keyed by the sum of the drawn indices' values, rounded to 1e-9.
std::map<long long, double> exact_resampled_means(const std::vector<double>& rows) {
  const std::size_t n = rows.size();
  std::map<long long, double> p;
  std::size_t total = 1;
  for (std::size_t i = 0; i < n; ++i) total *= n;
  std::vector<std::size_t> idx(n, 0);
  for (std::size_t k = 0; k < total; ++k) {
    double sum = 0;
    for (std::size_t i : idx) sum += rows[i];
    p[std::llround(sum / static_cast<double>(n) * 1e9)] += 1.0 / static_cast<double>(total);
    for (std::size_t i = 0; i < n && ++idx[i] == n; ++i) idx[i] = 0;  // the next index tuple
  }
  return p;
}

// The q-quantile of a discrete distribution: the smallest value whose CDF reaches q. `margin` receives how
// far the CDF steps around it are from q (the smaller distance), so a test can tell whether B resamples
// resolve it.
double exact_quantile(const std::map<long long, double>& p, double q, double* margin) {
  double cdf = 0;
  for (const auto& [key, prob] : p) {
    const double before = cdf;
    cdf += prob;
    if (cdf >= q) {
      *margin = std::min(q - before, cdf - q);
      return static_cast<double>(key) * 1e-9;
    }
  }
  *margin = 0;
  return static_cast<double>(p.rbegin()->first) * 1e-9;
}

TEST(EvalTableStats, PercentileIntervalTakesTheOrderStatisticsAtCeilQB) {
  // B = 40: ranks ceil(0.025 * 40) = 1 and ceil(0.975 * 40) = 39.
  std::vector<double> v;
  for (int i = 40; i >= 1; --i) v.push_back(i);
  Estimate e = percentile_interval(v, 0.95);
  EXPECT_EQ(e.lo, 1);
  EXPECT_EQ(e.hi, 39);
  // B = 200 at 90%: ranks 10 and 190.
  v.clear();
  for (int i = 1; i <= 200; ++i) v.push_back(i);
  e = percentile_interval(v, 0.90);
  EXPECT_EQ(e.lo, 10);
  EXPECT_EQ(e.hi, 190);
}

TEST(EvalTableStats, AColumnOfOnesHasMeanOneAndIntervalOneOne) {
  const SeedRows ones = {{1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}};
  const Estimate e = bootstrap_mean(ones, options(2000));
  EXPECT_EQ(e.mean, 1);
  EXPECT_EQ(e.lo, 1);
  EXPECT_EQ(e.hi, 1);
}

TEST(EvalTableStats, OneSeedOfZerosAndOnesMatchesTheBinomialPercentiles) {
  // Six rows, three exact: a resample's mean is K/6 with K ~ Binomial(6, 1/2). P(K = 0) = 1/64 < 0.025 <=
  // P(K <= 1) = 7/64, and P(K <= 4) = 57/64 < 0.975 <= P(K <= 5) = 63/64: the interval is [1/6, 5/6].
  const SeedRows col = {{0, 1, 0, 1, 0, 1}};
  const Estimate e = bootstrap_mean(col, options(20000));
  EXPECT_EQ(e.mean, 0.5);
  EXPECT_NEAR(e.lo, 1.0 / 6, 1e-12);
  EXPECT_NEAR(e.hi, 5.0 / 6, 1e-12);
  // The same from the enumeration of all 6^6 resamples.
  double margin = 0;
  const auto exact = exact_resampled_means(col[0]);
  EXPECT_NEAR(exact_quantile(exact, 0.025, &margin), 1.0 / 6, 1e-9);
  EXPECT_NEAR(exact_quantile(exact, 0.975, &margin), 5.0 / 6, 1e-9);
}

TEST(EvalTableStats, OneSeedIntervalMatchesTheEnumeratedDistribution) {
  // Scores that are shares of K samples: 4 rows give 4^4 = 256 equally likely resamples, many distinct means.
  for (const std::vector<double>& rows :
       {std::vector<double>{0, 0.25, 0.5, 1}, std::vector<double>{0, 0, 0.75, 1},
        std::vector<double>{0.5, 1, 1, 1}}) {
    const auto exact = exact_resampled_means(rows);
    double margin_lo = 0, margin_hi = 0;
    const double lo = exact_quantile(exact, 0.025, &margin_lo), hi = exact_quantile(exact, 0.975, &margin_hi);
    // With 20000 resamples the empirical CDF is within about 0.0011 (one standard error) of the exact one:
    // a CDF step at least 0.004 away from the quantile's level is resolved.
    ASSERT_GT(margin_lo, 0.004);
    ASSERT_GT(margin_hi, 0.004);
    const Estimate e = bootstrap_mean({rows}, options(20000));
    EXPECT_NEAR(e.lo, lo, 1e-9) << rows[0] << " " << rows[1] << " " << rows[2] << " " << rows[3];
    EXPECT_NEAR(e.hi, hi, 1e-9);
    EXPECT_NEAR(e.mean, (rows[0] + rows[1] + rows[2] + rows[3]) / 4, 1e-12);
  }
}

TEST(EvalTableStats, SeedsAreResampledNotOnlyRows) {
  // Four seeds whose rows are all 1, 1, 1, 0: resampling rows changes nothing within a seed, so a resample's
  // mean is 1 - Z/4 with Z ~ Binomial(4, 1/4) the draws of the zero seed. P(Z = 4) = 1/256 < 0.025 <= P(Z >=
  // 3) = 13/256, so the lower end is 1/4; P(Z = 0) = 81/256 > 0.025, so the upper end is 1.
  const std::vector<double> one(50, 1.0), zero(50, 0.0);
  const Estimate e = bootstrap_mean({one, one, one, zero}, options(4000));
  EXPECT_EQ(e.mean, 0.75);
  EXPECT_NEAR(e.lo, 0.25, 1e-12);
  EXPECT_EQ(e.hi, 1.0);
}

TEST(EvalTableStats, IdenticalColumnsDifferByExactlyZero) {
  const SeedRows a = {{0, 1, 1, 0, 0.5}, {1, 1, 0, 0, 0.25}, {0, 0, 0, 1, 1}};
  const Estimate d = bootstrap_difference(a, a, options(3000));
  EXPECT_EQ(d.mean, 0);
  EXPECT_EQ(d.lo, 0);
  EXPECT_EQ(d.hi, 0);
  // A single-seed baseline equal to every seed of the other column: also exactly 0.
  const SeedRows same = {{0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}};
  const Estimate s = bootstrap_difference(same, {{0, 1, 1, 0}}, options(3000));
  EXPECT_EQ(s.mean, 0);
  EXPECT_EQ(s.lo, 0);
  EXPECT_EQ(s.hi, 0);
}

TEST(EvalTableStats, PairedDifferencesDrawTheSameSeedsAndRowsForBothColumns) {
  // b is a plus 0.25 on every row of every seed: each paired resample differs by exactly 0.25, while the
  // columns' own intervals are wide. Unpaired draws would give a difference interval as wide as theirs.
  const SeedRows a = {{0, 0.5, 0.25, 0.75, 0, 0.5}, {0.75, 0.25, 0, 0.5, 0.25, 0}};
  SeedRows b = a;
  for (auto& seed : b)
    for (double& v : seed) v += 0.25;
  const BootstrapOptions o = options(3000);
  const Estimate d = bootstrap_difference(b, a, o);
  EXPECT_NEAR(d.mean, 0.25, 1e-12);
  EXPECT_NEAR(d.lo, 0.25, 1e-12);
  EXPECT_NEAR(d.hi, 0.25, 1e-12);
  const Estimate ea = bootstrap_mean(a, o);
  EXPECT_GT(ea.hi - ea.lo, 0.2);
  const Estimate neg = bootstrap_difference(a, b, o);
  EXPECT_NEAR(neg.lo, -0.25, 1e-12);
  EXPECT_NEAR(neg.hi, -0.25, 1e-12);
}

TEST(EvalTableStats, DifferenceIntervalsShrinkAsRowsGrow) {
  // The same pattern of rows repeated: a is exact on 3 rows of 10, b on 5 (the pairs disagree on 4 of 10).
  const std::vector<double> pa = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, pb = {1, 0, 1, 1, 1, 1, 0, 0, 0, 0};
  double last_width = 0;
  for (int copies : {2, 8, 32}) {
    SeedRows a(2), b(2);
    for (int c = 0; c < copies; ++c)
      for (int s = 0; s < 2; ++s) {
        a[s].insert(a[s].end(), pa.begin(), pa.end());
        b[s].insert(b[s].end(), pb.begin(), pb.end());
      }
    const Estimate d = bootstrap_difference(b, a, options(4000));
    EXPECT_NEAR(d.mean, 0.2, 1e-12);
    const double width = d.hi - d.lo;
    // Four times the rows: about half the width (the standard error goes as 1/sqrt(rows)).
    if (copies > 2) {
      EXPECT_LT(width, 0.65 * last_width) << copies * 10 << " rows";
      EXPECT_GT(width, 0.35 * last_width) << copies * 10 << " rows";
    }
    last_width = width;
  }
  EXPECT_GT(last_width, 0);
}

TEST(EvalTableStats, TheSameSeedGivesTheSameIntervalAnotherSeedAnother) {
  const SeedRows a = {{0, 0.25, 0.5, 1, 0.75, 0, 0.5, 0.25}, {1, 0.25, 0, 0, 0.5, 0.75, 1, 0.25}};
  const Estimate x = bootstrap_mean(a, options(2000, 1)), y = bootstrap_mean(a, options(2000, 1));
  EXPECT_EQ(x.lo, y.lo);
  EXPECT_EQ(x.hi, y.hi);
  const Estimate z = bootstrap_mean(a, options(2000, 2));
  EXPECT_TRUE(z.lo != x.lo || z.hi != x.hi);
  EXPECT_EQ(z.mean, x.mean);
}

TEST(EvalTableStats, MismatchedShapesAreRejected) {
  const BootstrapOptions o = options(100);
  EXPECT_THROW(bootstrap_mean({}, o), std::invalid_argument);
  EXPECT_THROW(bootstrap_mean({{}}, o), std::invalid_argument);
  EXPECT_THROW(bootstrap_mean({{0, 1}, {0, 1, 1}}, o), std::invalid_argument);
  EXPECT_THROW(bootstrap_difference({{0, 1}}, {{0, 1, 1}}, o), std::invalid_argument);  // rows differ
  EXPECT_THROW(bootstrap_difference({{0, 1}, {1, 1}}, {{0, 1}, {1, 1}, {0, 0}}, o), std::invalid_argument);
  EXPECT_NO_THROW(bootstrap_difference({{0, 1}, {1, 1}, {0, 0}}, {{0, 1}}, o));  // a shared baseline
  BootstrapOptions bad = o;
  bad.level = 1.0;
  EXPECT_THROW(bootstrap_mean({{0, 1}}, bad), std::invalid_argument);
  bad = o;
  bad.resamples = 0;
  EXPECT_THROW(bootstrap_mean({{0, 1}}, bad), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::app
