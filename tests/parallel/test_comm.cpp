// Comm at any rank count: what the wrapper adds over MPI (a null Comm refuses collectives, moves hand the
// communicator over, a split child outlives its parent, MPI errors come back as exceptions that name the
// call, oversized blocks are refused before MPI sees them), the collectives of our types checked against
// values computed by hand from the rank numbers, and the Runtime's node-local ranks against host names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/comm.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::parallel {
namespace {

Comm& world() {
  return testing::mpi_runtime().world();
}

// The exception `f` throws, as text ("" when it throws none or another type).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

TEST(Comm, NullCommRefusesCollectives) {
  const Comm none;
  EXPECT_FALSE(none.valid());
  EXPECT_THROW(none.rank(), std::logic_error);
  EXPECT_THROW(none.size(), std::logic_error);
  EXPECT_THROW(none.barrier(), std::logic_error);
  EXPECT_THROW(none.allreduce_sum(1.0), std::logic_error);
  EXPECT_THROW(none.split(0, 0), std::logic_error);
  std::string s = "x";
  EXPECT_NE(message_of<std::logic_error>([&] { none.broadcast(s, 0); }).find("null Comm"), std::string::npos);
  EXPECT_EQ(s, "x");
}

TEST(Comm, MovesHandTheCommunicatorOver) {
  const int r = world().rank(), n = world().size();
  Comm self = world().split(r, 0);  // a communicator of this rank alone
  Comm moved = std::move(self);
  EXPECT_FALSE(self.valid());  // NOLINT(bugprone-use-after-move): a moved-from Comm is null
  ASSERT_TRUE(moved.valid());
  EXPECT_EQ(moved.size(), 1);
  EXPECT_EQ(moved.allreduce_sum(static_cast<double>(r)), r) << "only this rank takes part";
  // Assigning over a live Comm: it now means the other group.
  Comm all = world().split(0, r);
  ASSERT_EQ(all.size(), n);
  all = std::move(moved);
  EXPECT_FALSE(moved.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(all.size(), 1);
  EXPECT_EQ(all.allreduce_sum(int64_t{5}), 5);
}

TEST(Comm, SplitOrdersByKeyAndOutlivesItsParent) {
  const int r = world().rank(), n = world().size();
  Comm reversed = world().split(0, n - r);  // the key orders the new ranks
  EXPECT_EQ(reversed.rank(), n - 1 - r);
  EXPECT_EQ(reversed.size(), n);
  Comm parent = world().split(0, r);
  Comm half = parent.split(r % 2, r);
  parent = Comm();  // the child owns its own communicator
  ASSERT_TRUE(half.valid());
  EXPECT_EQ(half.size(), r % 2 == 0 ? (n + 1) / 2 : n / 2);
  EXPECT_EQ(half.rank(), r / 2);
  // The sum of the world ranks of this parity class: r % 2, r % 2 + 2, ... below n.
  double expected = 0;
  for (int k = r % 2; k < n; k += 2) expected += k;
  EXPECT_EQ(half.allreduce_sum(static_cast<double>(r)), expected);
  // Ranks with a negative colour are left out.
  Comm only_root = world().split(r == 0 ? 0 : -1, 0);
  EXPECT_EQ(only_root.valid(), r == 0);
  if (only_root.valid()) {
    EXPECT_EQ(only_root.size(), 1);
  }
}

TEST(Comm, MpiErrorsComeBackAsExceptionsNamingTheCall) {
  const int r = world().rank(), n = world().size();
  // A root outside the communicator: MPI refuses it on every rank before any message moves.
  std::string s = "abc";
  const std::string what = message_of<std::runtime_error>([&] { world().broadcast(s, n); });
  EXPECT_NE(what.find("MPI call failed: MPI_Bcast"), std::string::npos) << what;
  EXPECT_NE(what.find(".cpp:"), std::string::npos) << what;  // the file:line of the call
  EXPECT_THROW(world().gather(s, -1), std::runtime_error);
  // The communicator stays usable: errors return instead of ending the job.
  EXPECT_EQ(world().allreduce_sum(int64_t{1}), n);
  Comm half = world().split(r % 2, r);  // a split child returns errors too
  EXPECT_NE(message_of<std::runtime_error>([&] { half.broadcast(s, half.size()); }).find("MPI_Bcast"),
            std::string::npos);
  EXPECT_EQ(half.allreduce_sum(int64_t{1}), half.size());
  // Blocks MPI's int count cannot hold are refused before MPI is called.
  const std::size_t too_big = std::size_t{1} << 31;
  EXPECT_THROW(world().allgather(nullptr, nullptr, too_big), std::invalid_argument);
  EXPECT_THROW(world().reduce_scatter_sum(nullptr, nullptr, too_big), std::invalid_argument);
}

TEST(Comm, Reductions) {
  const int n = world().size(), r = world().rank();
  EXPECT_EQ(world().allreduce_sum(static_cast<double>(r + 1)), n * (n + 1) / 2.0);
  // Exact in 64-bit integers, not through a double (2^60 + 1 has no double).
  EXPECT_EQ(world().allreduce_sum((int64_t{1} << 60) + r), (int64_t{1} << 60) * n + n * (n - 1) / 2);
  EXPECT_EQ(world().allreduce_max(static_cast<double>(r)), n - 1.0);
  EXPECT_EQ(world().allreduce_min(static_cast<double>(r)), 0.0);
  std::vector<double> v{1.0 * r, 2.0};
  world().allreduce_sum(v);
  EXPECT_EQ(v, (std::vector<double>{n * (n - 1) / 2.0, 2.0 * n}));
  std::vector<int64_t> w{r, -(int64_t{1} << 59), 3};
  world().allreduce_sum(w);
  EXPECT_EQ(w, (std::vector<int64_t>{n * (n - 1) / 2, -(int64_t{1} << 59) * n, 3 * n}));
  std::vector<float> bucket(1000, 0.5f);
  bucket[7] = static_cast<float>(r);
  world().allreduce_sum(bucket.data(), bucket.size());
  EXPECT_EQ(bucket[0], 0.5f * n);
  EXPECT_EQ(bucket[7], n * (n - 1) / 2.0f);
  EXPECT_EQ(bucket[999], 0.5f * n);
}

TEST(Comm, ReduceScatterAndAllgatherOfFloatBlocks) {
  const int n = world().size(), r = world().rank();
  // Block b, element j on rank r: 100 b + 10 r + j. Summed over the ranks: n (100 b + j) + 10 n (n - 1) / 2.
  std::vector<float> in(static_cast<std::size_t>(n) * 3);
  for (int b = 0; b < n; ++b)
    for (int j = 0; j < 3; ++j)
      in[static_cast<std::size_t>(b * 3 + j)] = static_cast<float>(100 * b + 10 * r + j);
  std::vector<float> mine(3, -1.0f);
  world().reduce_scatter_sum(in.data(), mine.data(), 3);
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(mine[static_cast<std::size_t>(j)], static_cast<float>(n * (100 * r + j) + 5 * n * (n - 1)))
        << "element " << j;
  }
  const float block[2] = {static_cast<float>(r), r + 0.5f};
  std::vector<float> all(static_cast<std::size_t>(n) * 2, -1.0f);
  world().allgather(block, all.data(), 2);
  for (int k = 0; k < n; ++k) {
    EXPECT_EQ(all[static_cast<std::size_t>(2 * k)], static_cast<float>(k));
    EXPECT_EQ(all[static_cast<std::size_t>(2 * k + 1)], k + 0.5f);
  }
}

TEST(Comm, StringsTravelWhole) {
  const int n = world().size(), r = world().rank();
  // From the last rank, with a NUL inside; the receivers' strings are longer, shorter or empty.
  const std::string sent("from the last \0 rank", 20);
  std::string s = r == n - 1 ? sent : std::string(static_cast<std::size_t>(r % 3) * 30, 'x');
  world().broadcast(s, n - 1);
  EXPECT_EQ(s, sent);
  // Rank k's string: k copies of the letter 'a' + k (rank 0's is empty).
  const auto of_rank = [](int k) {
    return std::string(static_cast<std::size_t>(k), static_cast<char>('a' + k));
  };
  std::vector<std::string> expected;
  for (int k = 0; k < n; ++k) expected.push_back(of_rank(k));
  EXPECT_EQ(world().allgather(of_rank(r)), expected);
  const auto gathered = world().gather(of_rank(r), n - 1);
  if (r == n - 1) {
    EXPECT_EQ(gathered, expected);
  } else {
    EXPECT_TRUE(gathered.empty());
  }
}

TEST(Runtime, NodeLocalRanksFollowTheHostNames) {
  const parallel::Runtime& rt = testing::mpi_runtime();
  EXPECT_EQ(rt.rank(), world().rank());
  EXPECT_EQ(rt.size(), world().size());
  char host[256] = {0};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  const std::vector<std::string> hosts = world().allgather(host);
  // On this rank's node: the ranks of the same host, numbered in world-rank order.
  int local_rank = 0, local_size = 0;
  for (int k = 0; k < world().size(); ++k) {
    if (hosts[static_cast<std::size_t>(k)] != host) continue;
    if (k < world().rank()) ++local_rank;
    ++local_size;
  }
  EXPECT_EQ(rt.local_rank(), local_rank);
  EXPECT_EQ(rt.local_size(), local_size);
}

}  // namespace
}  // namespace toolgrpo::parallel
