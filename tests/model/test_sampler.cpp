// The sampler (sample_tokens) on fixed logits: the frequencies of many draws against the distribution it should
// draw from (a chi-square test), tokens outside the top-k or the nucleus never drawn, ties at the nucleus edge
// kept by lower id, the same seeds giving the same tokens, a row's token independent of the other rows of the
// batch, and the log-probs under log_softmax(logits / T).
//
// The chi-square tests fail a correct sampler with probability 1e-6 each (the p-value threshold); the seeds are
// fixed, so a run is deterministic. The expected distributions are computed here in double from the documented
// rule; every case checks that no cumulative mass of its nucleus lies within 1e-6 of top_p, so float rounding in
// the sampler cannot move a token across the nucleus edge.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "model/generate.hpp"

namespace toolgrpo::model {
namespace {

constexpr double kPValue = 1e-6;
constexpr int64_t kDraws = 20000;
constexpr int64_t kRows = 1000;  // draws per sample_tokens call (rows of one batch)

// The upper tail of the chi-square distribution with df degrees of freedom at x: the regularized upper incomplete
// gamma function Q(df / 2, x / 2), by its power series below a + 1 and its continued fraction above.
double chi_square_tail(double x, int df) {
  const double a = df / 2.0, z = x / 2.0;
  if (z <= 0) return 1.0;
  const double front = std::exp(a * std::log(z) - z - std::lgamma(a));
  if (z < a + 1) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 10000 && term > sum * 1e-17; ++n) {
      term *= z / (a + n);
      sum += term;
    }
    return 1.0 - front * sum;
  }
  const double tiny = 1e-300;
  double b = z + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int n = 1; n < 10000; ++n) {
    const double an = -n * (n - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    if (std::fabs(d * c - 1) < 1e-16) break;
  }
  return front * h;
}

TEST(Sampler, ChiSquareTailMatchesKnownValues) {
  EXPECT_NEAR(chi_square_tail(3.841458820694124, 1), 0.05, 1e-9);
  EXPECT_NEAR(chi_square_tail(18.307038053275146, 10), 0.05, 1e-9);
  EXPECT_NEAR(chi_square_tail(9.210340371976182, 2), 0.01, 1e-12);  // df 2: exp(-x / 2)
  EXPECT_NEAR(chi_square_tail(1.0, 4), 1.5 * std::exp(-0.5), 1e-12);  // df 4: (1 + x / 2) exp(-x / 2)
  EXPECT_NEAR(chi_square_tail(60.0, 4), 31.0 * std::exp(-30.0), 1e-20);
}

// The distribution the sampler should draw from, in double: softmax(logits / T); when top_k > 0 the top_k largest
// logits and those tied with the k-th; when top_p < 1 the tokens ordered by probability (highest first, equal
// ones by lower id) whose mass strictly before them is at most top_p; renormalised. `margin` gets the smallest
// distance between top_p and the mass before a token.
std::vector<double> expected_distribution(const std::vector<float>& logits, double T, int64_t top_k, double top_p,
                                          double* margin = nullptr) {
  const std::size_t V = logits.size();
  std::vector<double> scaled(V), p(V);
  for (std::size_t i = 0; i < V; ++i) scaled[i] = static_cast<double>(logits[i]) / T;
  if (top_k > 0 && static_cast<std::size_t>(top_k) < V) {
    std::vector<double> s = scaled;
    std::nth_element(s.begin(), s.begin() + (top_k - 1), s.end(), std::greater<double>());
    const double kth = s[static_cast<std::size_t>(top_k - 1)];
    for (auto& x : scaled)
      if (x < kth) x = -INFINITY;
  }
  const double mx = *std::max_element(scaled.begin(), scaled.end());
  double z = 0;
  for (std::size_t i = 0; i < V; ++i) z += p[i] = std::exp(scaled[i] - mx);
  for (auto& x : p) x /= z;
  if (margin != nullptr) *margin = INFINITY;
  if (top_p < 1) {
    std::vector<std::size_t> order(V);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
    double before = 0;
    for (std::size_t i : order) {
      if (margin != nullptr) *margin = std::min(*margin, std::fabs(before - top_p));
      const double pi = p[i];
      if (before > top_p) p[i] = 0;
      before += pi;
    }
    const double kept = std::accumulate(p.begin(), p.end(), 0.0);
    for (auto& x : p) x /= kept;
  }
  return p;
}

// kDraws tokens for the one row `logits`: kRows rows per call, each with its own seed, at kDraws / kRows positions.
std::vector<int64_t> draw_counts(const std::vector<float>& logits, const SamplingParams& sp, uint64_t run_seed) {
  const int64_t V = static_cast<int64_t>(logits.size());
  const at::Tensor batch = at::tensor(logits, at::kFloat).view({1, V}).expand({kRows, V}).contiguous();
  std::vector<uint64_t> seeds(static_cast<std::size_t>(kRows));
  for (int64_t r = 0; r < kRows; ++r) seeds[static_cast<std::size_t>(r)] = sample_seed(run_seed, 0, r, 0);
  std::vector<int64_t> counts(static_cast<std::size_t>(V), 0);
  for (int64_t t = 0; t < kDraws / kRows; ++t) {
    const at::Tensor tok = sample_tokens(batch, sp, seeds, t).first.contiguous();
    for (int64_t r = 0; r < kRows; ++r) ++counts[static_cast<std::size_t>(tok.data_ptr<int64_t>()[r])];
  }
  return counts;
}

// Pearson's chi-square of the counts against the probabilities p (tokens expected fewer than 5 times pooled into
// one cell), and its p-value; every token of probability 0 must have count 0.
void expect_distribution(const std::vector<int64_t>& counts, const std::vector<double>& p, const std::string& what) {
  const double n = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
  double stat = 0, pooled_expected = 0, pooled_count = 0;
  int cells = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(counts[i], 0) << what << ": token " << i << " is outside the distribution";
      continue;
    }
    const double e = n * p[i];
    if (e < 5) {
      pooled_expected += e;
      pooled_count += static_cast<double>(counts[i]);
      continue;
    }
    stat += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
    ++cells;
  }
  if (pooled_expected > 0) {
    stat += (pooled_count - pooled_expected) * (pooled_count - pooled_expected) / pooled_expected;
    ++cells;
  }
  if (cells < 2) return;  // one token to draw: the zero counts above are the whole test
  const double pv = chi_square_tail(stat, cells - 1);
  EXPECT_GE(pv, kPValue) << what << ": chi-square " << stat << " on " << cells - 1 << " degrees of freedom";
}

std::string describe(double T, int64_t top_k, double top_p) {
  return "T " + std::to_string(T) + ", top_k " + std::to_string(top_k) + ", top_p " + std::to_string(top_p);
}

void check_case(const std::vector<float>& logits, double T, int64_t top_k, double top_p, uint64_t seed) {
  const std::string what = describe(T, top_k, top_p);
  double margin = 0;
  const std::vector<double> p = expected_distribution(logits, T, top_k, top_p, &margin);
  ASSERT_GT(margin, 1e-6) << what << ": top_p sits on a nucleus edge; the case cannot tell right from wrong";
  SamplingParams sp;
  sp.temperature = T;
  sp.top_k = top_k;
  sp.top_p = top_p;
  expect_distribution(draw_counts(logits, sp, seed), p, what);
}

// Ten tokens, not in id order of their logits.
const std::vector<float> kSmall = {-0.4f, 1.2f, -6.0f, 1.7f, 0.0f, -2.0f, 1.0f, -3.5f, 0.3f, -1.1f};

TEST(Sampler, SmallVocabularyDrawsTheRightDistribution) {
  uint64_t seed = 11;
  for (const double T : {1.0, 0.7})
    for (const int64_t top_k : {int64_t{0}, int64_t{4}})
      for (const double top_p : {1.0, 0.9, 0.5}) check_case(kSmall, T, top_k, top_p, seed++);
}

// 1100 tokens (two blocks of 512 and a short one): heavy tokens on block edges and a long tail of equal logits,
// so that at top_p 0.9 the nucleus ends inside the tied tail (kept: its lowest ids) and needs the whole sorted
// vocabulary.
std::vector<float> tied_tail() {
  std::vector<float> l(1100, -3.0f);
  const int64_t ids[] = {0, 511, 512, 1023, 1024, 1099};
  const float vals[] = {0.5f, 3.0f, 2.0f, 1.0f, 2.5f, 1.5f};
  for (int k = 0; k < 6; ++k) l[static_cast<std::size_t>(ids[k])] = vals[k];
  return l;
}

// 2000 tokens with logits falling by 0.02 per rank, ranks scattered over the ids: the nucleus at top_p 0.9 holds
// about 115 tokens, more than the first candidates and fewer than a quarter of the vocabulary.
std::vector<float> geometric() {
  std::vector<float> l(2000);
  for (int64_t r = 0; r < 2000; ++r) l[static_cast<std::size_t>((r * 1237) % 2000)] = -0.02f * static_cast<float>(r);
  return l;
}

TEST(Sampler, LargerVocabulariesDrawTheRightDistribution) {
  check_case(tied_tail(), 1.0, 0, 1.0, 21);
  check_case(tied_tail(), 1.0, 0, 0.9, 22);
  check_case(tied_tail(), 1.0, 0, 0.5, 23);
  check_case(tied_tail(), 0.8, 200, 0.9, 24);  // top-k ends inside the tied tail: all tied with the k-th stay
  check_case(geometric(), 1.0, 0, 1.0, 25);
  check_case(geometric(), 1.0, 0, 0.9, 26);
  check_case(geometric(), 1.3, 0, 0.5, 27);
}

TEST(Sampler, TiesAtTheNucleusEdgeKeepTheLowerIds) {
  // Four equal tokens of probability 0.229 and a fifth of 0.084: at top_p 0.5 the first three by id are kept.
  check_case({1.0f, 1.0f, 1.0f, 1.0f, 0.0f}, 1.0, 0, 0.5, 31);
  const std::vector<double> p = expected_distribution({1.0f, 1.0f, 1.0f, 1.0f, 0.0f}, 1.0, 0, 0.5);
  EXPECT_GT(p[0], 0);
  EXPECT_GT(p[2], 0);
  EXPECT_EQ(p[3], 0);
  // Ten equal tokens at scattered ids in 1000, the rest far below: the candidates hold them all, in an order
  // topk does not define; the nucleus at 0.35 keeps the four lowest ids.
  std::vector<float> l(1000, -12.0f);
  const int64_t ids[] = {900, 17, 450, 3, 999, 256, 640, 81, 512, 333};
  for (int64_t id : ids) l[static_cast<std::size_t>(id)] = 2.0f;
  std::vector<double> q = expected_distribution(l, 1.0, 0, 0.35);
  EXPECT_GT(q[3] * q[17] * q[81] * q[256], 0);
  EXPECT_EQ(q[333] + q[450] + q[512], 0);
  check_case(l, 1.0, 0, 0.35, 32);
}

TEST(Sampler, SameSeedsSameTokensAndRowsIndependentOfTheBatch) {
  // Three rows whose nuclei need the first candidates, more of them, and the whole sorted vocabulary.
  std::vector<float> peaked(1100, -8.0f);
  peaked[700] = 4.0f;
  peaked[12] = 3.0f;
  std::vector<float> geo = geometric();
  geo.resize(1100);
  const std::vector<std::vector<float>> rows = {peaked, geo, tied_tail()};
  at::Tensor batch = at::zeros({3, 1100});
  for (int64_t r = 0; r < 3; ++r) batch[r].copy_(at::tensor(rows[static_cast<std::size_t>(r)], at::kFloat));
  const std::vector<uint64_t> seeds = {sample_seed(5, 1, 0, 0), sample_seed(5, 1, 0, 1), sample_seed(5, 1, 1, 0)};
  for (const double top_p : {1.0, 0.9}) {
    SamplingParams sp;
    sp.top_p = top_p;
    sp.temperature = 0.9;
    int differ = 0;
    for (int64_t t = 0; t < 200; ++t) {
      const auto [tok, logp] = sample_tokens(batch, sp, seeds, t);
      EXPECT_TRUE(sample_tokens(batch, sp, seeds, t).first.equal(tok)) << "top_p " << top_p << ", t " << t;
      for (int64_t r = 0; r < 3; ++r) {
        const at::Tensor alone = sample_tokens(batch.narrow(0, r, 1), sp, {seeds[static_cast<std::size_t>(r)]}, t).first;
        EXPECT_EQ(alone.item<int64_t>(), tok[r].item<int64_t>()) << "top_p " << top_p << ", t " << t << ", row " << r;
      }
      // Another seed for row 1 (many tokens it could draw): mostly another token.
      const at::Tensor other = sample_tokens(batch.narrow(0, 1, 1), sp, {sample_seed(6, 1, 0, 1)}, t).first;
      differ += other.item<int64_t>() != tok[1].item<int64_t>();
    }
    EXPECT_GT(differ, 150) << "top_p " << top_p;
  }
}

TEST(Sampler, LogProbsAreTheLogSoftmaxOfTheChosenTokens) {
  at::Tensor logits = at::zeros({2, 10});
  logits[0].copy_(at::tensor(kSmall, at::kFloat));
  logits[1].copy_(at::tensor(kSmall, at::kFloat).flip(0) * 2);
  const std::vector<uint64_t> seeds = {sample_seed(3, 0, 0, 0), sample_seed(3, 0, 1, 0)};
  for (const double T : {1.0, 0.7})
    for (const double top_p : {1.0, 0.5}) {
      SamplingParams sp;
      sp.temperature = T;
      sp.top_p = top_p;
      sp.top_k = 5;
      for (int64_t t = 0; t < 20; ++t) {
        const auto [tok, logp] = sample_tokens(logits, sp, seeds, t);
        const at::Tensor want = at::log_softmax(logits / T, -1).gather(-1, tok.unsqueeze(-1)).squeeze(-1);
        EXPECT_TRUE(logp.equal(want)) << describe(T, 5, top_p);
        // Logits that are a transposed view (not contiguous): the same tokens.
        const at::Tensor transposed = logits.t().contiguous().t();
        EXPECT_TRUE(sample_tokens(transposed, sp, seeds, t).first.equal(tok)) << describe(T, 5, top_p);
      }
    }
  SamplingParams greedy;
  greedy.greedy = true;
  const auto [tok, logp] = sample_tokens(logits, greedy, seeds, 0);
  EXPECT_TRUE(tok.equal(logits.argmax(-1)));
  EXPECT_TRUE(logp.equal(at::log_softmax(logits, -1).gather(-1, tok.unsqueeze(-1)).squeeze(-1)));
  EXPECT_THROW(sample_tokens(logits, greedy, {1}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::model
