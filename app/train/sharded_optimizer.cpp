// The sharded AdamW; see sharded_optimizer.hpp.
#include "app/train/sharded_optimizer.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace toolgrpo::app {
namespace {

// Calls fn(param, offset in param, count, offset in range) for the pieces of flat range [begin, end) of
// parameters that start at `starts` and end at `total`.
template <class F>
void for_pieces(const std::vector<int64_t>& starts, int64_t total, int64_t begin, int64_t end, F&& fn) {
  // The last parameter starting at or before `begin`, then on while they start before `end`.
  std::size_t i =
      static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), begin) - starts.begin());
  for (i = i == 0 ? 0 : i - 1; i < starts.size() && starts[i] < end; ++i) {
    const int64_t stop = i + 1 < starts.size() ? starts[i + 1] : total;
    const int64_t lo = std::max(begin, starts[i]), hi = std::min(end, stop);
    if (lo < hi) fn(i, lo - starts[i], hi - lo, lo - begin);
  }
}

}  // namespace

ShardedAdamW::ShardedAdamW(std::vector<at::Tensor> params, model::AdamWConfig cfg, const parallel::Comm& comm,
                           int64_t block)
    : params_(std::move(params)), cfg_(cfg), coll_(comm), rank_(comm.rank()), ranks_(comm.size()) {
  std::vector<int64_t> numels;
  for (const at::Tensor& p : params_) {
    if (p.scalar_type() != at::kFloat || !p.is_contiguous())
      throw std::invalid_argument("sharded optimizer: parameters must be contiguous float32 tensors");
    starts_.push_back(total_);
    total_ += p.numel();
    numels.push_back(p.numel());
  }
  if (!params_.empty()) coll_.start(params_[0].device());  // NCCL on GPUs: made at start-up, not at the first step
  Layout mine = layout(numels, rank_, ranks_, block);
  block_ = mine.block;
  buckets_ = mine.buckets;
  mine_ = std::move(mine.pieces);
  const auto opts = params_.empty() ? at::TensorOptions(at::kFloat) : params_[0].options();
  m_ = at::zeros({buckets_ * block_}, opts);
  v_ = at::zeros({buckets_ * block_}, opts);
}

ShardedAdamW::Layout ShardedAdamW::layout(const std::vector<int64_t>& numels, int rank, int ranks,
                                          int64_t block) {
  std::vector<int64_t> starts;
  int64_t total = 0;
  for (int64_t n : numels) {
    starts.push_back(total);
    total += n;
  }
  const int64_t n = ranks;
  Layout out;
  out.block = std::max<int64_t>(1, std::min(block, (total + n - 1) / n));
  out.buckets = (total + n * out.block - 1) / (n * out.block);
  for (int64_t k = 0; k < out.buckets; ++k) {
    const int64_t begin = k * n * out.block + rank * out.block, end = std::min(total, begin + out.block);
    for_pieces(starts, total, begin, end, [&](std::size_t i, int64_t off, int64_t len, int64_t at) {
      out.pieces.push_back({i, off, len, k * out.block + at});
    });
  }
  return out;
}

void ShardedAdamW::moments_set_shards(const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq) {
  at::NoGradGuard no_grad;
  if (exp_avg.numel() != m_.numel() || exp_avg_sq.numel() != v_.numel())
    throw std::invalid_argument("sharded optimizer: moment shards of " + std::to_string(exp_avg.numel()) +
                                " and " + std::to_string(exp_avg_sq.numel()) + " elements, this rank holds " +
                                std::to_string(m_.numel()));
  m_.copy_(exp_avg.reshape({-1}));
  v_.copy_(exp_avg_sq.reshape({-1}));
}

template <class F>
void ShardedAdamW::for_range(int64_t begin, int64_t end, F&& fn) const {
  for_pieces(starts_, total_, begin, end, std::forward<F>(fn));
}

void ShardedAdamW::copy_range(const at::Tensor& flat, int64_t begin, int64_t end, bool grads, bool to_flat) const {
  for_range(begin, end, [&](std::size_t i, int64_t off, int64_t len, int64_t at) {
    at::Tensor piece = (grads ? params_[i].grad() : params_[i]).view({-1}).narrow(0, off, len);
    at::Tensor slot = flat.narrow(0, at, len);
    if (to_flat) slot.copy_(piece);
    else piece.copy_(slot);
  });
}

double ShardedAdamW::step(double lr, double max_norm) {
  at::NoGradGuard no_grad;
  for (auto& p : params_)
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
  const int64_t span = ranks_ * block_;
  at::Tensor bucket = at::empty({span}, m_.options()), part = at::empty({block_}, m_.options());
  // The sums of this rank's gradient blocks, written back over its own gradients.
  for (int64_t k = 0; k < buckets_; ++k) {
    const int64_t base = k * span, len = std::min(span, total_ - base);
    copy_range(bucket, base, base + len, true, true);
    if (len < span) bucket.narrow(0, len, span - len).zero_();
    coll_.reduce_scatter_sum(bucket, part);
    const int64_t mine = base + rank_ * block_;
    if (mine < total_) copy_range(part, mine, std::min(total_, mine + block_), true, false);
  }
  double sq = 0;
  for (const Piece& c : mine_)
    sq += model::sum_of_squares(params_[c.param].grad().view({-1}).narrow(0, c.offset, c.length));
  const double norm = std::sqrt(coll_.comm().allreduce_sum(sq));
  const double scale = model::clip_coefficient(norm, max_norm);
  ++step_;
  const double bc1 = 1 - std::pow(cfg_.beta1, static_cast<double>(step_));
  const double bc2 = 1 - std::pow(cfg_.beta2, static_cast<double>(step_));
  for (const Piece& c : mine_) {
    const at::Tensor g = params_[c.param].grad().view({-1}).narrow(0, c.offset, c.length);
    if (scale != 1.0) g.mul_(scale);
    model::adamw_apply(params_[c.param].view({-1}).narrow(0, c.offset, c.length), g,
                       m_.narrow(0, c.shard, c.length), v_.narrow(0, c.shard, c.length), lr, cfg_, bc1, bc2);
  }
  for (int64_t k = 0; k < buckets_; ++k) {
    const int64_t base = k * span, len = std::min(span, total_ - base), mine = base + rank_ * block_;
    part.zero_();
    if (mine < total_) copy_range(part, mine, std::min(total_, mine + block_), false, true);
    coll_.allgather(part, bucket);
    copy_range(bucket, base, base + len, false, false);
  }
  return norm;
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> ShardedAdamW::moments_gather(int root) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> full[2];
  const int64_t span = ranks_ * block_;
  at::Tensor bucket = at::empty({span}, m_.options());
  const at::Tensor* moments[2] = {&m_, &v_};
  for (int which = 0; which < 2; ++which) {
    if (rank_ == root)  // in host memory: a GPU rank does not need room for every moment to save them
      for (const at::Tensor& p : params_) full[which].push_back(at::zeros(p.sizes(), at::kFloat));
    for (int64_t k = 0; k < buckets_; ++k) {
      coll_.allgather(moments[which]->narrow(0, k * block_, block_), bucket);
      if (rank_ != root) continue;
      const int64_t base = k * span, len = std::min(span, total_ - base);
      for_range(base, base + len, [&](std::size_t i, int64_t off, int64_t n, int64_t at) {
        full[which][i].view({-1}).narrow(0, off, n).copy_(bucket.narrow(0, at, n));
      });
    }
  }
  return {std::move(full[0]), std::move(full[1])};
}

std::vector<ShardedAdamW::SavePiece> ShardedAdamW::save_pieces() const {
  at::NoGradGuard no_grad;
  const auto host = [](const at::Tensor& t) { return t.device().is_cpu() ? t : t.to(at::kCPU); };
  std::vector<SavePiece> out;
  for (const Piece& c : mine_)
    out.push_back({c.param, c.offset, c.length,
                   host(params_[c.param].detach().view({-1}).narrow(0, c.offset, c.length)),
                   host(m_.narrow(0, c.shard, c.length)), host(v_.narrow(0, c.shard, c.length))});
  return out;
}

void ShardedAdamW::moments_set(const std::vector<at::Tensor>& exp_avg,
                               const std::vector<at::Tensor>& exp_avg_sq) {
  at::NoGradGuard no_grad;
  if (exp_avg.size() != params_.size() || exp_avg_sq.size() != params_.size())
    throw std::invalid_argument("sharded optimizer: moments for " + std::to_string(exp_avg.size()) +
                                " tensors, " + std::to_string(params_.size()) + " parameters");
  for (const Piece& c : mine_) {
    m_.narrow(0, c.shard, c.length).copy_(exp_avg[c.param].reshape({-1}).narrow(0, c.offset, c.length));
    v_.narrow(0, c.shard, c.length).copy_(exp_avg_sq[c.param].reshape({-1}).narrow(0, c.offset, c.length));
  }
}

}  // namespace toolgrpo::app
