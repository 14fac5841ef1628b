// Comm at any rank count: identity, split, reductions and broadcasts checked against values computed by hand
// from the rank numbers.
#include <gtest/gtest.h>

#include "parallel/comm.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::parallel {
namespace {

Comm& world() {
  return testing::mpi_runtime().world();
}

TEST(Comm, RankAndSize) {
  const int n = world().size();
  EXPECT_GE(n, 1);
  EXPECT_GE(world().rank(), 0);
  EXPECT_LT(world().rank(), n);
  EXPECT_EQ(testing::mpi_runtime().size(), n);
  EXPECT_LT(testing::mpi_runtime().local_rank(), testing::mpi_runtime().local_size());
}

TEST(Comm, Reductions) {
  const int n = world().size(), r = world().rank();
  EXPECT_EQ(world().allreduce_sum(static_cast<double>(r + 1)), n * (n + 1) / 2.0);
  EXPECT_EQ(world().allreduce_sum(int64_t{1} << 40), static_cast<int64_t>(n) << 40);
  EXPECT_EQ(world().allreduce_max(static_cast<double>(r)), n - 1.0);
  EXPECT_EQ(world().allreduce_min(static_cast<double>(r)), 0.0);
  std::vector<double> v{1.0 * r, 2.0};
  world().allreduce_sum(v);
  EXPECT_EQ(v, (std::vector<double>{n * (n - 1) / 2.0, 2.0 * n}));
  std::vector<float> bucket(1000, 0.5f);
  bucket[7] = static_cast<float>(r);
  world().allreduce_sum(bucket.data(), bucket.size());
  EXPECT_EQ(bucket[0], 0.5f * n);
  EXPECT_EQ(bucket[7], n * (n - 1) / 2.0f);
}

TEST(Comm, Broadcast) {
  std::string s = world().rank() == 0 ? std::string("from root \0 with nul", 20) : std::string("x");
  world().broadcast(s, 0);
  EXPECT_EQ(s, std::string("from root \0 with nul", 20));
  const auto all = world().gather("r" + std::to_string(world().rank()), 0);
  if (world().rank() == 0) {
    ASSERT_EQ(all.size(), static_cast<std::size_t>(world().size()));
    EXPECT_EQ(all.back(), "r" + std::to_string(world().size() - 1));
  } else {
    EXPECT_TRUE(all.empty());
  }
}

TEST(Comm, SplitByParity) {
  const int r = world().rank(), n = world().size();
  Comm half = world().split(r % 2, r);
  ASSERT_TRUE(half.valid());
  EXPECT_EQ(half.size(), r % 2 == 0 ? (n + 1) / 2 : n / 2);
  EXPECT_EQ(half.rank(), r / 2);
  // Ranks with a negative colour are left out.
  Comm only_root = world().split(r == 0 ? 0 : -1, 0);
  EXPECT_EQ(only_root.valid(), r == 0);
  EXPECT_THROW(Comm().size(), std::logic_error);
}

}  // namespace
}  // namespace toolgrpo::parallel
