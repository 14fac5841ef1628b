// The sharded AdamW against the replicated one (gradients summed over the ranks, clipped by their global
// norm, AdamW on every tensor) at np 1, 2 and 4, with blocks small enough that buckets and shards cut across
// tensors: the same parameters after several steps, the gathered moments equal the replicated optimizer's,
// and moments set from full tensors (a checkpoint saved at another world size) continue the same run.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include "app/train/sharded_optimizer.hpp"
#include "model/optimizer.hpp"
#include "parallel/runtime.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo {
namespace {

parallel::Comm& world() {
  return testing::mpi_runtime().world();
}

std::vector<at::Tensor> make_params() {
  at::manual_seed(11);
  return {at::randn({7, 5}), at::randn({13}), at::randn({3, 4, 2}), at::randn({1})};
}

// This rank's gradients for step `step`: different on every rank.
void set_grads(const std::vector<at::Tensor>& params, int rank, int step) {
  at::manual_seed(static_cast<uint64_t>(1000 + 17 * rank + step));
  for (const auto& p : params)
    p.mutable_grad() = at::randn(p.sizes()) * (step == 1 ? 50.0 : 0.3);  // step 1 clips
}

double max_relative(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    d = std::max(d,
                 (a[i] - b[i]).abs().max().item<double>() / std::max(1e-12, b[i].abs().max().item<double>()));
  return d;
}

std::vector<at::Tensor> clones(const std::vector<at::Tensor>& v) {
  std::vector<at::Tensor> out;
  for (const auto& t : v) out.push_back(t.detach().clone());
  return out;
}

TEST(ShardedAdamW, SameParametersAndMomentsAsTheReplicatedOptimizer) {
  const parallel::Comm& comm = world();
  const model::AdamWConfig cfg{0.9, 0.999, 1e-8, 0.05};
  for (int64_t block : {int64_t{1}, int64_t{5}, int64_t{16}, int64_t{1} << 20}) {
    std::vector<at::Tensor> ref = make_params(), shard = make_params();
    model::AdamW adam(ref, cfg);
    app::ShardedAdamW sharded(shard, cfg, comm, block);
    std::vector<double> norms_ref, norms_shard;
    for (int step = 0; step < 4; ++step) {
      set_grads(ref, comm.rank(), step);
      set_grads(shard, comm.rank(), step);
      std::vector<at::Tensor> grads;
      for (const auto& p : ref) grads.push_back(p.grad());
      parallel::allreduce_sum_flat(grads, comm);
      norms_ref.push_back(model::clip_grad_norm(ref, 1.0));
      adam.step(1e-2);
      norms_shard.push_back(sharded.step(1e-2, 1.0));
    }
    // No BLAS takes part: the two optimizers differ only in how the ranks' gradients are added up (an all-reduce
    // against a reduce-scatter) and how the clipping norm's squares are summed (in double). A sum of two terms
    // does not depend on their order (addition commutes), so at np <= 2 the gradients are bit-identical and only
    // the clip coefficient's last bits can differ: a relative change of a few u (2^-24) in every update, under
    // 1e-7 of the parameters after 4 steps of lr 1e-2 on values of size ~1. At np 4 the four partial gradients
    // are added in other orders: each entry moves by 2 gamma(4) relative to the sum of their absolute values, and
    // AdamW passes a relative change of the gradient to its update at most doubled (m and sqrt(v) each move),
    // about 1e-6 of the update, hence of the parameters at this learning rate, after 4 steps (a first-order
    // estimate: an entry whose summed gradient nearly cancels can move more, which these random gradients of
    // size 0.3-50 make unlikely: it would need a sum below 1e-6 of its terms).
    const double d = max_relative(shard, ref);
    EXPECT_LE(d, comm.size() <= 2 ? 1e-7 : 1e-6) << "block " << block;
    EXPECT_GT(max_relative(shard, make_params()), 1e-3) << "the steps moved the parameters";
    for (std::size_t s = 0; s < norms_ref.size(); ++s)
      EXPECT_NEAR(norms_shard[s], norms_ref[s], 1e-6 * norms_ref[s]);  // the gradients' 2 gamma(4), in norm
    EXPECT_GT(norms_ref[1], 1.0);  // clipping took part
    EXPECT_EQ(sharded.steps(), 4);
    // Each rank holds about 1/size() of the moments (whole blocks, so up to one block more).
    const int64_t total = 35 + 13 + 24 + 1;
    EXPECT_LE(sharded.shard_numel(), (total + comm.size() - 1) / comm.size() + block);
    // The gathered moments are the replicated optimizer's, on the root only.
    auto [m, v] = sharded.moments_gather(0);
    if (comm.rank() == 0) {
      ASSERT_EQ(m.size(), ref.size());
      EXPECT_LE(max_relative(m, adam.exp_avg()), 1e-6) << "block " << block;
      EXPECT_LE(max_relative(v, adam.exp_avg_sq()), 1e-6) << "block " << block;
    } else {
      EXPECT_TRUE(m.empty());
    }
    // A fresh sharded optimizer given the full moments and the step count continues as the replicated one
    // does.
    std::vector<at::Tensor> resumed = clones(shard);
    app::ShardedAdamW again(resumed, cfg, comm, block + 2);  // another layout, as at another world size
    again.moments_set(adam.exp_avg(), adam.exp_avg_sq());
    again.set_steps(adam.steps());
    set_grads(ref, comm.rank(), 9);
    set_grads(resumed, comm.rank(), 9);
    std::vector<at::Tensor> grads;
    for (const auto& p : ref) grads.push_back(p.grad());
    parallel::allreduce_sum_flat(grads, comm);
    model::clip_grad_norm(ref, 1.0);
    adam.step(1e-2);
    again.step(1e-2, 1.0);
    EXPECT_LE(max_relative(resumed, ref), 1e-6) << "block " << block;
  }
}

}  // namespace
}  // namespace toolgrpo
