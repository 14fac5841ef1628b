// Sequence packing and micro-batching of the learner, on sequences small enough to check by hand.
#include <gtest/gtest.h>

#include <ATen/Functions.h>

#include "app/learner.hpp"

using namespace toolgrpo::app;

TEST(Learner, PacksPromptAndTargetWithTheTargetMask) {
  const std::vector<int64_t> p1 = {5, 6}, t1 = {7, 8, 9}, p2 = {4}, t2 = {3};
  const SequenceBatch b = sequences_pack({{&p1, &t1, true}, {&p2, &t2, true}});
  EXPECT_TRUE(b.ids.equal(at::tensor(std::vector<int64_t>{5, 6, 7, 8, 9, 4, 3, 0, 0, 0}).view({2, 5})));
  EXPECT_TRUE(b.attention.equal(at::tensor(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 0, 0, 0}).view({2, 5})));
  // Position t predicts token t+1: positions 1..3 predict 7, 8, 9; position 0 of the second predicts 3.
  EXPECT_TRUE(b.target_mask.equal(at::tensor(std::vector<float>{0, 1, 1, 1, 1, 0, 0, 0}).view({2, 4})));
  // A sequence that is not trained keeps its tokens but no mask.
  const SequenceBatch off = sequences_pack({{&p1, &t1, false}});
  EXPECT_EQ(off.target_mask.sum().item<float>(), 0.0f);
  EXPECT_EQ(off.attention.sum().item<int64_t>(), 5);
}

TEST(Learner, TargetValuesRoundTrip) {
  const std::vector<int64_t> p1 = {5, 6}, t1 = {7, 8, 9}, p2 = {4}, t2 = {3};
  const std::vector<SeqRef> seqs = {{&p1, &t1, true}, {&p2, &t2, true}};
  const std::vector<float> v1 = {0.5f, 1.5f, 2.5f}, v2 = {-1.0f};
  const at::Tensor packed = target_values_pack(seqs, {&v1, &v2});
  EXPECT_TRUE(packed.equal(at::tensor(std::vector<float>{0, 0.5f, 1.5f, 2.5f, -1.0f, 0, 0, 0}).view({2, 4})));
  const auto back = target_values_unpack(seqs, packed);
  EXPECT_EQ(back[0], v1);
  EXPECT_EQ(back[1], v2);
}

TEST(Learner, MicroBatchesStayWithinTheTokenBudget) {
  // Budget 12: [5, 4] pads to 2 x 5 = 10; adding 3 would make 3 x 5 = 15 > 12, so 3 starts a new one; [3, 2, 3]
  // is 3 x 3 = 9; 20 is over budget and goes alone; then [1].
  const auto mb = micro_batches({5, 4, 3, 2, 3, 20, 1}, 12);
  const std::vector<std::vector<std::size_t>> expect = {{0, 1}, {2, 3, 4}, {5}, {6}};
  EXPECT_EQ(mb, expect);
  EXPECT_TRUE(micro_batches({}, 10).empty());
}
