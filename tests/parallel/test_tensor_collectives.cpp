// Flat-bucket gradient mean and weight broadcast at np 1, 2, 4, checked against values computed from the rank
// numbers and against the per-tensor reference path. The bucketed weight broadcast (small buckets: many of
// them, a tensor spread over several, fp32 and bf16 in their own buckets, odd and non-contiguous shapes) gives
// bit for bit what one Comm::broadcast per tensor gives; its shared part (plan, pack, unpack) is also run at any
// rank count through recorded buffers, and the transport choice is checked.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

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

// Values that differ on every rank (`salt`: the rank) and use all the bits of their dtype.
at::Tensor values(at::IntArrayRef sizes, at::ScalarType dtype, int salt, double scale = 1.0) {
  int64_t n = 1;
  for (const int64_t d : sizes) n *= d;
  return (at::arange(n, at::kDouble).mul(0.37 * (salt + 1)).add(0.11 * salt).sin().mul(scale))
      .to(dtype)
      .reshape(sizes);
}

// A model-like set: fp32 and bf16 mixed, odd sizes, a 0-d and an empty tensor, a non-contiguous one, and one
// tensor (1000 floats) larger than the 64-byte buckets the tests use.
std::vector<at::Tensor> weights_of(int salt) {
  return {values({7, 13}, at::kFloat, salt),
          values({33}, at::kBFloat16, salt),
          values({1000}, at::kFloat, salt, 3.0),
          values({5, 3}, at::kBFloat16, salt).t(),  // 3 x 5, not contiguous
          values({}, at::kFloat, salt),
          values({0, 4}, at::kFloat, salt),
          values({257}, at::kBFloat16, salt, 0.01),
          values({3, 1, 5}, at::kFloat, salt)};
}

at::Tensor bits(const at::Tensor& t) { return t.contiguous().view({-1}).view(at::kByte); }

bool same_bits(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].scalar_type() != b[i].scalar_type() || a[i].sizes() != b[i].sizes() || !bits(a[i]).equal(bits(b[i])))
      return false;
  return true;
}

std::vector<at::Tensor> clones(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> out;
  for (const auto& t : ts) out.push_back(t.clone());
  return out;
}

// The reference: one Comm::broadcast per tensor, of its raw bytes.
std::vector<at::Tensor> per_tensor_broadcast(const std::vector<at::Tensor>& ts, int root) {
  std::vector<at::Tensor> out;
  for (const auto& t : ts) {
    at::Tensor c = t.contiguous().clone();
    world().broadcast(c.data_ptr(), c.nbytes(), root);
    out.push_back(c);
  }
  return out;
}

constexpr std::size_t kSmallBuckets = 64;  // 16 floats or 32 bf16 values

TEST(WeightBroadcast, BucketsHoldOneDtypeWithinTheBoundAndCoverEveryElementOnce) {
  const std::vector<at::Tensor> w = weights_of(0);
  const std::vector<WeightBucket> plan = weight_buckets(w, kSmallBuckets);
  std::vector<int64_t> covered(w.size(), 0);
  bool bf16_seen = false;
  std::size_t spread_over = 0;  // buckets holding part of the 1000-float tensor
  for (const WeightBucket& b : plan) {
    EXPECT_GT(b.numel, 0);
    EXPECT_LE(static_cast<std::size_t>(b.numel) * c10::elementSize(b.dtype), kSmallBuckets);
    if (b.dtype == at::kBFloat16) bf16_seen = true;
    EXPECT_FALSE(bf16_seen && b.dtype == at::kFloat) << "dtypes in order of first appearance, each once";
    int64_t offset = 0;
    for (const BucketPiece& p : b.pieces) {
      ASSERT_LT(p.tensor, w.size());
      EXPECT_EQ(w[p.tensor].scalar_type(), b.dtype);
      EXPECT_EQ(p.offset, offset);
      EXPECT_EQ(p.begin, covered[p.tensor]) << "a tensor's pieces follow each other";
      offset += p.count;
      covered[p.tensor] += p.count;
      if (p.tensor == 2) ++spread_over;
    }
    EXPECT_EQ(offset, b.numel);
  }
  for (std::size_t i = 0; i < w.size(); ++i) EXPECT_EQ(covered[i], w[i].numel()) << "tensor " << i;
  EXPECT_EQ(spread_over, 64u);  // 1000 floats: 5 after tensor 0's 91, 62 buckets of 16, 3 more
  // The default bound holds the whole set in one bucket per dtype.
  const std::vector<WeightBucket> big = weight_buckets(w, kWeightBucketBytes);
  ASSERT_EQ(big.size(), 2u);
  EXPECT_EQ(big[0].dtype, at::kFloat);
  EXPECT_EQ(big[1].dtype, at::kBFloat16);
  EXPECT_EQ(big[1].numel, 33 + 15 + 257);
  // A bound below one element still moves one element per bucket.
  const std::vector<WeightBucket> tiny = weight_buckets({values({5}, at::kFloat, 0)}, 1);
  ASSERT_EQ(tiny.size(), 5u);
  EXPECT_EQ(tiny[4].pieces[0].begin, 4);
}

// The part both transports share, with the transport replaced by a recording: what the root sends, replayed
// into a receiver, rebuilds the root's weights bit for bit.
TEST(WeightBroadcast, SharedPartRebuildsTheRootsWeightsFromItsBuckets) {
  const std::vector<at::Tensor> root = weights_of(0), root_before = clones(root);
  std::vector<at::Tensor> sent;
  broadcast_bucketed(root, true, kSmallBuckets, at::kCPU, [&](const at::Tensor& b) { sent.push_back(b.clone()); });
  EXPECT_TRUE(same_bits(root, root_before)) << "the root's weights are only read";
  EXPECT_GT(sent.size(), 70u);  // the layout, then every bucket

  const std::vector<at::Tensor> receiver = weights_of(5), receiver_before = clones(receiver);
  std::size_t k = 0;
  broadcast_bucketed(receiver, false, kSmallBuckets, at::kCPU, [&](const at::Tensor& b) {
    ASSERT_LT(k, sent.size());
    ASSERT_EQ(b.nbytes(), sent[k].nbytes());
    b.copy_(sent[k++]);
  });
  EXPECT_EQ(k, sent.size());
  EXPECT_TRUE(same_bits(receiver, root));
  EXPECT_FALSE(receiver[3].is_contiguous()) << "the non-contiguous tensor is written back in place";
  for (std::size_t i = 0; i < receiver.size(); ++i) {
    if (receiver[i].numel() > 0) {
      EXPECT_FALSE(bits(receiver[i]).equal(bits(receiver_before[i]))) << "tensor " << i << " moved";
    }
  }

  // A receiver whose model differs (one shape) refuses before writing anything.
  std::vector<at::Tensor> other = weights_of(5);
  other[1] = values({34}, at::kBFloat16, 5);
  const std::vector<at::Tensor> other_before = clones(other);
  k = 0;
  try {
    broadcast_bucketed(other, false, kSmallBuckets, at::kCPU, [&](const at::Tensor& b) { b.copy_(sent[k++]); });
    ADD_FAILURE() << "no error for a different model";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the root sends 8 tensors, this rank holds 8 of other dtypes or shapes"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(same_bits(other, other_before));
}

TEST(WeightBroadcast, BucketedEqualsPerTensorBroadcastBitForBit) {
  const int r = world().rank(), n = world().size();
  for (const int root : {0, n - 1}) {
    for (const std::size_t bucket : {kSmallBuckets, std::size_t{512}, kWeightBucketBytes}) {
      const std::vector<at::Tensor> mine = weights_of(r), before = clones(mine);
      const std::vector<at::Tensor> expected = per_tensor_broadcast(weights_of(r), root);
      broadcast_flat(mine, root, world(), bucket);
      EXPECT_TRUE(same_bits(mine, expected)) << "root " << root << ", buckets of " << bucket << " bytes";
      EXPECT_TRUE(same_bits(mine, weights_of(root)));
      if (r == root) continue;
      for (std::size_t i = 0; i < mine.size(); ++i) {  // the weights started different and really changed
        if (mine[i].numel() > 0) {
          EXPECT_FALSE(bits(mine[i]).equal(bits(before[i]))) << "tensor " << i;
        }
      }
    }
  }
}

TEST(WeightBroadcast, TransportIsNcclOnlyWhenEveryRankIsOnCudaAndNcclIsBuilt) {
  EXPECT_EQ(weight_transport_for(true, true), WeightTransport::DeviceNccl);
  EXPECT_EQ(weight_transport_for(true, false), WeightTransport::HostMpi);
  EXPECT_EQ(weight_transport_for(false, true), WeightTransport::HostMpi);
  EXPECT_EQ(weight_transport_for(false, false), WeightTransport::HostMpi);
#ifdef TOOLGRPO_HAVE_NCCL
  EXPECT_TRUE(built_with_nccl());
#else
  EXPECT_FALSE(built_with_nccl());
#endif
  const int r = world().rank(), n = world().size();
  // The ranks agree at start-up: one rank on the host is enough for MPI everywhere. Only rank 0 says CUDA here
  // (no GPU is touched: with more than one rank the group is not all-CUDA, alone it has no one to send to).
  WeightBroadcaster mixed(world(), 0);
  mixed.start(r == 0 ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU));
  EXPECT_EQ(mixed.transport(), n == 1 ? weight_transport_for(true, built_with_nccl()) : WeightTransport::HostMpi);

  WeightBroadcaster host(world(), 0, kSmallBuckets);
  EXPECT_THROW(host.broadcast(weights_of(r)), std::logic_error);  // not started: no communicator made lazily
  host.start(at::kCPU);
  EXPECT_EQ(host.transport(), WeightTransport::HostMpi);
  EXPECT_STREQ(weight_transport_name(host.transport()), "MPI through host memory");
  const std::vector<at::Tensor> mine = weights_of(r);
  host.broadcast(mine);
  EXPECT_TRUE(same_bits(mine, weights_of(0)));
}

}  // namespace
}  // namespace toolgrpo::parallel
