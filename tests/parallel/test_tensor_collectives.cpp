// Flat-bucket gradient mean and weight broadcast at np 1, 2, 4, checked against values computed from the rank
// numbers and against the per-tensor reference path.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include "parallel/tensor_collectives.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::parallel {
namespace {

Comm& world() { return testing::mpi_runtime().world(); }

TEST(TensorCollectives, GradientMeanEqualsPerTensorMean) {
  const int r = world().rank(), n = world().size();
  std::vector<at::Tensor> grads = {at::full({2, 3}, static_cast<double>(r), at::kFloat),
                                   at::arange(5, at::kFloat) * static_cast<double>(r + 1),
                                   at::full({1}, 1.0, at::kBFloat16)};
  allreduce_mean_flat(grads, world());
  // Every value is a small integer times a rank number: the sums over <= 4 ranks are integers below 2^24, exact
  // in fp32 whatever their order, and the division by n in {1, 2, 4} is by a power of two, also exact. The
  // bf16 entry is 1 on every rank: its sum n and mean 1 are exact too. So the results are bit-exact.
  const double mean_r = (n - 1) / 2.0, mean_r1 = (n + 1) / 2.0;
  EXPECT_TRUE(grads[0].equal(at::full({2, 3}, mean_r, at::kFloat)));
  EXPECT_TRUE(grads[1].equal(at::arange(5, at::kFloat) * mean_r1));
  EXPECT_EQ(grads[2].item<double>(), 1.0);
  // The reference path: one reduction per tensor gives the same values.
  at::Tensor one = at::arange(5, at::kFloat) * static_cast<double>(r + 1);
  std::vector<double> v(one.data_ptr<float>(), one.data_ptr<float>() + 5);
  world().allreduce_sum(v);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(grads[1][k].item<float>(), static_cast<float>(v[k] / n));
}

TEST(TensorCollectives, GradientSumIsTheSumOverRanks) {
  const int r = world().rank(), n = world().size();
  std::vector<at::Tensor> grads = {at::full({4}, static_cast<double>(r + 1), at::kFloat), at::full({2, 2}, 0.5, at::kFloat)};
  allreduce_sum_flat(grads, world());
  // Integers and halves summed over <= 4 ranks: exact in fp32 in any order.
  EXPECT_TRUE(grads[0].equal(at::full({4}, n * (n + 1) / 2.0, at::kFloat)));
  EXPECT_TRUE(grads[1].equal(at::full({2, 2}, 0.5 * n, at::kFloat)));
}

TEST(TensorCollectives, BroadcastIsBitExact) {
  const int r = world().rank();
  std::vector<at::Tensor> w = {at::full({3}, 0.1 * (r + 1), at::kFloat), at::full({2, 2}, 1.0 / 3 + r, at::kBFloat16),
                               at::full({2}, static_cast<int64_t>(r + 7), at::kLong)};
  broadcast_flat(w, 0, world());
  // A broadcast copies bytes: no arithmetic, so equality is exact.
  EXPECT_TRUE(w[0].equal(at::full({3}, 0.1, at::kFloat)));
  EXPECT_TRUE(w[1].equal(at::full({2, 2}, 1.0 / 3, at::kBFloat16)));
  EXPECT_TRUE(w[2].equal(at::full({2}, int64_t{7}, at::kLong)));
}

}  // namespace
}  // namespace toolgrpo::parallel
