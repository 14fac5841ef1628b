// Role split (colocated / split with a sync communicator) and the rollout transport (serialisation, all-gather,
// token balancing) at np 1, 2, 4, with expected values worked out from the rank numbers.
#include <gtest/gtest.h>

#include <numeric>

#include "parallel/roles.hpp"
#include "parallel/rollout_transport.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::parallel {
namespace {

Comm& world() { return testing::mpi_runtime().world(); }

// A communicator's size and this rank's place in it; 0 and -1 where this rank is not a member.
int size_of(const Comm& c) { return c.valid() ? c.size() : 0; }
int rank_in(const Comm& c) { return c.valid() ? c.rank() : -1; }

TEST(Roles, ColocatedEveryRankDoesBoth) {
  const int n = world().size(), me = world().rank();
  const Roles r = roles_make(world(), false, 1);
  EXPECT_FALSE(r.split);
  EXPECT_TRUE(r.generates && r.trains);
  EXPECT_EQ(size_of(r.generation), n);
  EXPECT_EQ(rank_in(r.generation), me);
  EXPECT_EQ(size_of(r.training), n);
  EXPECT_EQ(rank_in(r.training), me);
  EXPECT_FALSE(r.sync.valid());
}

TEST(Roles, SplitGeneratorsTrainersAndSync) {
  const int n = world().size(), me = world().rank();
  if (n < 2) {
    EXPECT_THROW(roles_make(world(), true, 1), std::invalid_argument);
    return;
  }
  EXPECT_THROW(roles_make(world(), true, n), std::invalid_argument);
  EXPECT_THROW(roles_make(world(), true, 0), std::invalid_argument);
  // Every way to split this world: world ranks 0..g-1 generate, g..n-1 train.
  for (int g = 1; g < n; ++g) {
    SCOPED_TRACE(std::to_string(g) + " generation ranks of " + std::to_string(n));
    const Roles r = roles_make(world(), true, g);
    const bool generator = me < g;
    EXPECT_TRUE(r.split);
    EXPECT_EQ(r.generates, generator);
    EXPECT_EQ(r.trains, !generator);
    EXPECT_EQ(size_of(r.generation), generator ? g : 0);
    EXPECT_EQ(rank_in(r.generation), generator ? me : -1);
    EXPECT_EQ(size_of(r.training), generator ? 0 : n - g);
    EXPECT_EQ(rank_in(r.training), generator ? -1 : me - g);
    // The sync communicator: the first trainer (world rank g) as its rank 0, then the generators in order.
    EXPECT_EQ(size_of(r.sync), me <= g ? g + 1 : 0);
    EXPECT_EQ(rank_in(r.sync), me == g ? 0 : generator ? me + 1 : -1);
    // Counted over the world: g generators and n - g trainers.
    EXPECT_EQ(world().allreduce_sum(int64_t{r.generates}), g);
    EXPECT_EQ(world().allreduce_sum(int64_t{r.trains}), n - g);
  }
}

RolloutGroup group_of(int64_t index, int64_t G) {
  RolloutGroup g;
  g.index = index;
  g.fields = 2;
  g.prompt = {1, 2, index};
  for (int64_t s = 0; s < G; ++s) {
    g.responses.push_back(std::vector<int64_t>(static_cast<std::size_t>(s + 1), 100 + index));
    g.logprobs.push_back(std::vector<float>(static_cast<std::size_t>(s + 1), -0.5f * static_cast<float>(s + 1)));
    g.truncated.push_back(s % 2);
    g.values.insert(g.values.end(), {static_cast<double>(index) + 0.25, -static_cast<double>(s)});
  }
  return g;
}

TEST(RolloutTransport, RoundTripAndDamagedBuffers) {
  const std::vector<RolloutGroup> in = {group_of(3, 2), group_of(7, 3)};
  const std::string bytes = rollouts_serialize(in);
  const std::vector<RolloutGroup> out = rollouts_deserialize(bytes);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].index, 7);
  EXPECT_EQ(out[1].prompt, (std::vector<int64_t>{1, 2, 7}));
  EXPECT_EQ(out[1].responses[2], (std::vector<int64_t>{107, 107, 107}));
  EXPECT_EQ(out[1].truncated, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(out[1].values, (std::vector<double>{7.25, 0, 7.25, -1, 7.25, -2}));
  EXPECT_EQ(out[1].logprobs[2], (std::vector<float>{-1.5f, -1.5f, -1.5f}));
  std::vector<RolloutGroup> bad = in;
  bad[0].logprobs[1].pop_back();  // a log-prob row that does not match its response
  EXPECT_THROW(rollouts_deserialize(rollouts_serialize(bad)), std::runtime_error);
  bad = in;
  bad[0].logprobs.clear();  // groups without log-probs travel too
  EXPECT_TRUE(rollouts_deserialize(rollouts_serialize(bad))[0].logprobs.empty());
  EXPECT_TRUE(rollouts_deserialize(rollouts_serialize({})).empty());
  EXPECT_THROW(rollouts_deserialize(bytes.substr(0, bytes.size() - 3)), std::runtime_error);
  EXPECT_THROW(rollouts_deserialize(bytes + "x"), std::runtime_error);
  EXPECT_THROW(rollouts_deserialize("not a rollout buffer"), std::runtime_error);
}

TEST(RolloutTransport, AllGatherOrdersEveryRanksGroupsByIndex) {
  const int n = world().size(), me = world().rank();
  // Rank r holds the groups r + n*k for k < r + 1 (rank 0 one group, rank 1 two, ...), in reverse order.
  std::vector<RolloutGroup> mine;
  for (int k = me; k >= 0; --k) mine.push_back(group_of(me + n * k, 2));
  const std::vector<RolloutGroup> all = rollouts_allgather(mine, world());
  ASSERT_EQ(static_cast<int>(all.size()), n * (n + 1) / 2);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].index, all[i].index);
  for (const auto& g : all) EXPECT_EQ(g.values[0], static_cast<double>(g.index) + 0.25);
}

TEST(RolloutTransport, BalanceByTokens) {
  // Longest first, each to the least loaded owner: 9 -> 0 (9, 0), 7 -> 1 (9, 7), 5 -> 1 (9, 12), 3 -> 0 (12, 12),
  // 1 -> 0 on the tie (13, 12).
  const std::vector<int> owner = balance_by_tokens({3, 9, 1, 7, 5}, 2);
  EXPECT_EQ(owner, (std::vector<int>{0, 0, 0, 1, 1}));
  EXPECT_EQ(balance_by_tokens({4, 4, 4}, 1), (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(balance_by_tokens({5, 5, 5, 5}, 4), (std::vector<int>{0, 1, 2, 3}));  // ties go to the lower owner
  EXPECT_THROW(balance_by_tokens({1}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace toolgrpo::parallel
