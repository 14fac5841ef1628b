// AdamW with its moments split over the training ranks (ZeRO stage 1): the parameters, seen as one flat
// vector, are cut into buckets of size() x block elements; rank r owns block r of every bucket. A step
// reduce-scatters the gradients bucket by bucket (each rank receives the sum of its blocks only), takes the
// global gradient norm from the ranks' shards, updates its shard with the same element-wise AdamW as the
// unsharded optimizer, and all-gathers the new parameters. Each rank holds 2/size() of the moments instead of
// all of them; the transient buffers are one bucket. The weights equal the unsharded optimizer's
// (element-wise the same arithmetic; sums over ranks may round in another order past two ranks).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "model/optimizer.hpp"
#include "parallel/tensor_collectives.hpp"

namespace toolgrpo::app {

class ShardedAdamW {
 public:
  static constexpr int64_t kDefaultBlock = int64_t{1} << 24;
  // Elements [offset, offset + length) of parameter `param`'s flat view, at `shard` in a rank's moments.
  struct Piece {
    std::size_t param;
    int64_t offset, length, shard;
  };
  // What rank `rank` of `ranks` owns of parameters with these element counts: the bucket geometry (a bucket
  // is ranks x block elements of the flat parameter vector) and its pieces, in shard order. The same for any
  // rank on any machine.
  struct Layout {
    int64_t block = 1, buckets = 0;
    std::vector<Piece> pieces;
    int64_t shard_numel() const { return buckets * block; }  // elements of each of its moment buffers
  };
  static Layout layout(const std::vector<int64_t>& numels, int rank, int ranks,
                       int64_t block = kDefaultBlock);

  // `params`: contiguous float32 tensors, the same on every rank of `comm` (which must outlive this object).
  // `block`: elements per rank and bucket (the default keeps a bucket at 64 MB per rank).
  ShardedAdamW(std::vector<at::Tensor> params, model::AdamWConfig cfg, const parallel::Comm& comm,
               int64_t block = kDefaultBlock);
  // Collective. Sums the parameters' .grad() over the ranks (the gradients of this rank's shard are replaced
  // by the sums; the rest are left as they are), clips them to max_norm (0 = off) by the global norm, updates
  // and all-gathers the parameters. Returns the global norm before clipping.
  double step(double lr, double max_norm);
  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }
  int64_t shard_numel() const { return m_.numel(); }  // elements of each moment this rank holds

  // Collective: every parameter's moments (exp_avg, exp_avg_sq) in full shape, in host memory, on rank
  // `root`; empty elsewhere.
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> moments_gather(int root);
  // This rank's share of a checkpoint: each run of the flat parameter vector it owns (parameter `param`,
  // elements [offset, offset + length) of its flat view) with those elements of the weights and of both
  // moments, as host tensors (views on the CPU, copies from a device).
  struct SavePiece {
    std::size_t param;
    int64_t offset, length;
    at::Tensor weight, exp_avg, exp_avg_sq;
  };
  std::vector<SavePiece> save_pieces() const;
  const parallel::Comm& comm() const { return coll_.comm(); }
  // Every rank keeps its shard of full-shape moments (a checkpoint's, saved at any world size).
  void moments_set(const std::vector<at::Tensor>& exp_avg, const std::vector<at::Tensor>& exp_avg_sq);
  // This rank's moment shards as layout() lays them out (flat host tensors of shard_numel() elements, read
  // from a checkpoint piece by piece).
  void moments_set_shards(const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq);

 private:
  // Calls fn(param, offset in param, count, offset in range) for the parameter pieces of flat range [begin,
  // end).
  template <class F>
  void for_range(int64_t begin, int64_t end, F&& fn) const;
  // Copies flat range [begin, end) of the parameters (or their gradients) into `flat` (to_flat) or back.
  void copy_range(const at::Tensor& flat, int64_t begin, int64_t end, bool grads, bool to_flat) const;

  std::vector<at::Tensor> params_;
  std::vector<int64_t> starts_;  // flat offset of each parameter
  model::AdamWConfig cfg_;
  parallel::ShardCollectives coll_;
  int64_t total_ = 0, block_ = 1, buckets_ = 0;
  int rank_ = 0, ranks_ = 1;
  std::vector<Piece> mine_;
  at::Tensor m_, v_;  // this rank's blocks, buckets_ x block_ elements each
  int64_t step_ = 0;
};

}  // namespace toolgrpo::app
