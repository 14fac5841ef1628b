// Sequence packing and micro-batching of the learner, on sequences small enough to check by hand.
#include <gtest/gtest.h>

#include <ATen/Functions.h>

#include "app/train/learner.hpp"

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

TEST(Learner, PrefixSharingPacksEachPromptOnceWithinTheBudget) {
  // Two groups: prompt a (3 tokens) with targets of 2, 3 and 2 tokens; prompt b (2 tokens) with one of 4.
  const std::vector<int64_t> a = {11, 12, 13}, b = {21, 22};
  const std::vector<int64_t> a1 = {1, 2}, a2 = {3, 4, 5}, a3 = {6, 7}, b1 = {8, 9, 10, 11};
  const std::vector<SeqRef> seqs = {{&a, &a1, true}, {&b, &b1, true}, {&a, &a2, true}, {&a, &a3, true}};
  EXPECT_EQ(prefix_units(seqs, {0, 1, 2, 3}), (std::vector<std::vector<std::size_t>>{{0, 2, 3}, {1}}));
  EXPECT_EQ(unit_tokens(seqs, {0, 2, 3}), 3 + 2 + 3 + 2);
  // Budget 8: a's unit (10 tokens) splits into [a1 a2] (8 tokens) and [a3] (5); b's row is 6. Rows of 8, 5
  // and 6 tokens: [8] alone (2 x 8 > 8), then [5] and [6] would pad to 12 > 8, so each alone.
  std::vector<std::vector<std::size_t>> seen;
  std::vector<int64_t> packed_width;
  for_each_micro_batch(
      seqs, {0, 1, 2, 3}, 8, at::kCPU,
      [&](const std::vector<std::size_t>& idx, const std::vector<SeqRef>& part, const SequenceBatch& batch) {
        seen.push_back(idx);
        ASSERT_TRUE(batch.packed.ids.defined());
        packed_width.push_back(batch.packed.ids.size(1));
        EXPECT_EQ(batch.packed.source.size(0), batch.target_any.sum().item<int64_t>());
        EXPECT_EQ(part.size(), idx.size());
      },
      /*share_prefix=*/true);
  EXPECT_EQ(seen, (std::vector<std::vector<std::size_t>>{{0, 2}, {3}, {1}}));
  EXPECT_EQ(packed_width, (std::vector<int64_t>{8, 5, 6}));
  // The first row: a once, then a1 and a2 at the positions they have after a alone, each seeing a and itself.
  for_each_micro_batch(
      seqs, {0, 2}, 8, at::kCPU,
      [&](const std::vector<std::size_t>&, const std::vector<SeqRef>&, const SequenceBatch& batch) {
        const toolgrpo::model::PrefixPacked& p = batch.packed;
        EXPECT_TRUE(p.ids.equal(at::tensor(std::vector<int64_t>{11, 12, 13, 1, 2, 3, 4, 5}).view({1, 8})));
        EXPECT_TRUE(p.positions.equal(at::tensor(std::vector<int64_t>{0, 1, 2, 3, 4, 3, 4, 5}).view({1, 8})));
        // Query 5 (a2's first token) sees the prompt and itself, not a1.
        EXPECT_TRUE(
            p.pattern[0][5].equal(at::tensor(std::vector<int64_t>{1, 1, 1, 0, 0, 1, 0, 0}).to(at::kBool)));
        // a2's first token is predicted by the prompt's last position (2), into row 1, column 3 - 1 + 0 = 2.
        EXPECT_TRUE(p.source.equal(at::tensor(std::vector<int64_t>{2, 3, 2, 5, 6})));
        EXPECT_TRUE(p.target.equal(at::tensor(std::vector<int64_t>{1, 2, 3, 4, 5})));
        EXPECT_TRUE(p.out_index.equal(at::tensor(std::vector<int64_t>{2, 3, 5 + 2, 5 + 3, 5 + 4})));
      },
      true);
  // Without sharing: one sequence per row, as before.
  std::size_t batches = 0;
  for_each_micro_batch(
      seqs, {0, 1, 2, 3}, 8, at::kCPU,
      [&](const std::vector<std::size_t>&, const std::vector<SeqRef>&, const SequenceBatch& batch) {
        EXPECT_FALSE(batch.packed.ids.defined());
        ++batches;
      });
  EXPECT_EQ(batches, 4u);  // rows of 5, 6, 6 and 5 tokens: any two pad past 8
}

TEST(Learner, RankShareKeepsAGroupOnOneRankWhenSharing) {
  const std::vector<int64_t> a = {1, 2, 3, 4}, b = {5, 6}, t = {7, 8}, u = {9};
  const std::vector<SeqRef> seqs = {{&a, &t, true}, {&a, &u, true}, {&b, &t, true}, {&b, &u, true}};
  for (int rank = 0; rank < 2; ++rank) {
    const auto mine = rank_share(seqs, {0, 1, 2, 3}, 2, rank, true);
    ASSERT_EQ(mine.size(), 2u);
    EXPECT_EQ(seqs[mine[0]].prompt, seqs[mine[1]].prompt);
  }
  // Unshared, the two longest (a+t: 6, a+u: 5) go to different ranks.
  EXPECT_NE(seqs[rank_share(seqs, {0, 1, 2, 3}, 2, 0)[0]].prompt,
            seqs[rank_share(seqs, {0, 1, 2, 3}, 2, 0)[1]].prompt);
}
