// Sequence packing, micro-batches and the data-parallel optimizer update; see learner.hpp.
#include "app/train/learner.hpp"

#include <ATen/Functions.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <numeric>
#include <tuple>
#include <unordered_map>

#include "app/train/sharded_optimizer.hpp"
#include "parallel/rollout_transport.hpp"


namespace toolgrpo::app {

namespace {
int64_t longest(const std::vector<SeqRef>& seqs) {
  int64_t L = 1;
  for (const auto& s : seqs) L = std::max(L, s.length());
  return L;
}
}  // namespace

SequenceBatch sequences_pack(const std::vector<SeqRef>& seqs, at::Device device) {
  const int64_t B = static_cast<int64_t>(seqs.size()), L = longest(seqs);
  SequenceBatch b;
  b.ids = at::zeros({B, L}, at::kLong);
  b.attention = at::zeros({B, L}, at::kLong);
  b.target_mask = at::zeros({B, std::max<int64_t>(L - 1, 1)}, at::kFloat);
  b.target_any = at::zeros_like(b.target_mask);
  auto ia = b.ids.accessor<int64_t, 2>();
  auto aa = b.attention.accessor<int64_t, 2>();
  auto ma = b.target_mask.accessor<float, 2>();
  auto ya = b.target_any.accessor<float, 2>();
  for (int64_t r = 0; r < B; ++r) {
    const auto& p = *seqs[static_cast<std::size_t>(r)].prompt;
    const auto& t = *seqs[static_cast<std::size_t>(r)].target;
    const int64_t lp = static_cast<int64_t>(p.size());
    for (int64_t k = 0; k < lp; ++k) ia[r][k] = p[static_cast<std::size_t>(k)], aa[r][k] = 1;
    for (int64_t k = 0; k < static_cast<int64_t>(t.size()); ++k) {
      ia[r][lp + k] = t[static_cast<std::size_t>(k)];
      aa[r][lp + k] = 1;
      if (lp + k < 1) continue;
      ya[r][lp + k - 1] = 1;  // t = lp+k-1 predicts target k
      if (seqs[static_cast<std::size_t>(r)].trained) ma[r][lp + k - 1] = 1;
    }
  }
  if (!device.is_cpu()) {
    b.ids = b.ids.to(device), b.attention = b.attention.to(device);
    b.target_mask = b.target_mask.to(device), b.target_any = b.target_any.to(device);
  }
  return b;
}

at::Tensor target_values_pack(const std::vector<SeqRef>& seqs, const std::vector<const std::vector<float>*>& values,
                              at::Device device) {
  const int64_t B = static_cast<int64_t>(seqs.size()), L = longest(seqs);
  at::Tensor out = at::zeros({B, std::max<int64_t>(L - 1, 1)}, at::kFloat);
  auto a = out.accessor<float, 2>();
  for (int64_t r = 0; r < B; ++r) {
    const int64_t lp = static_cast<int64_t>(seqs[static_cast<std::size_t>(r)].prompt->size());
    const auto& v = *values[static_cast<std::size_t>(r)];
    for (int64_t k = 0; k < static_cast<int64_t>(v.size()); ++k)
      if (lp + k >= 1) a[r][lp + k - 1] = v[static_cast<std::size_t>(k)];
  }
  return out.to(device);
}

std::vector<std::vector<float>> target_values_unpack(const std::vector<SeqRef>& seqs, const at::Tensor& packed) {
  const at::Tensor t = packed.to(at::kCPU).to(at::kFloat).contiguous();
  const auto a = t.accessor<float, 2>();
  std::vector<std::vector<float>> out;
  for (std::size_t r = 0; r < seqs.size(); ++r) {
    const int64_t lp = static_cast<int64_t>(seqs[r].prompt->size()), n = static_cast<int64_t>(seqs[r].target->size());
    std::vector<float> v(static_cast<std::size_t>(n), 0.0f);
    for (int64_t k = 0; k < n; ++k)
      if (lp + k >= 1) v[static_cast<std::size_t>(k)] = a[static_cast<int64_t>(r)][lp + k - 1];
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::vector<std::size_t>> micro_batches(const std::vector<int64_t>& lengths, int64_t budget) {
  std::vector<std::vector<std::size_t>> out;
  int64_t longest_in = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    const int64_t l = std::max(longest_in, lengths[i]);
    if (!out.empty() && !out.back().empty() && l * static_cast<int64_t>(out.back().size() + 1) <= budget) {
      out.back().push_back(i);
      longest_in = l;
    } else {
      out.push_back({i});
      longest_in = lengths[i];
    }
  }
  return out;
}

std::vector<std::vector<std::size_t>> prefix_units(const std::vector<SeqRef>& seqs,
                                                   const std::vector<std::size_t>& items) {
  std::vector<std::vector<std::size_t>> units;
  std::unordered_map<const std::vector<int64_t>*, std::size_t> unit_of;
  for (std::size_t i : items) {
    const auto [it, fresh] = unit_of.emplace(seqs[i].prompt, units.size());
    if (fresh) units.emplace_back();
    units[it->second].push_back(i);
  }
  return units;
}

int64_t unit_tokens(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& unit) {
  int64_t n = unit.empty() ? 0 : static_cast<int64_t>(seqs[unit.front()].prompt->size());
  for (std::size_t i : unit) n += static_cast<int64_t>(seqs[i].target->size());
  return n;
}

std::vector<std::size_t> rank_share(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& items,
                                    int ranks, int rank, bool share_prefix) {
  std::vector<std::vector<std::size_t>> units;
  if (share_prefix) {
    units = prefix_units(seqs, items);
  } else {
    for (std::size_t i : items) units.push_back({i});
  }
  std::vector<int64_t> cost;
  for (const auto& u : units) cost.push_back(unit_tokens(seqs, u));
  const std::vector<int> owner = parallel::balance_by_tokens(cost, ranks);
  std::vector<std::size_t> mine;
  std::vector<int64_t> mine_cost;
  for (std::size_t k = 0; k < units.size(); ++k)
    if (owner[k] == rank)
      for (std::size_t i : units[k]) {
        mine.push_back(i);
        mine_cost.push_back(share_prefix ? cost[k] : seqs[i].length());
      }
  std::vector<std::size_t> order(mine.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return mine_cost[a] > mine_cost[b]; });
  std::vector<std::size_t> out;
  for (std::size_t k : order) out.push_back(mine[k]);
  return out;
}

void for_each_micro_batch(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& which,
                          int64_t budget, at::Device device,
                          const std::function<void(const std::vector<std::size_t>&,
                                                   const std::vector<SeqRef>&, const SequenceBatch&)>& fn,
                          bool share_prefix) {
  // Rows: one sequence each, or with sharing a prompt and the targets that fit the budget after it.
  std::vector<std::vector<std::size_t>> rows;
  if (share_prefix) {
    for (const auto& unit : prefix_units(seqs, which)) {
      const int64_t prompt = static_cast<int64_t>(seqs[unit.front()].prompt->size());
      int64_t len = prompt;
      for (std::size_t i : unit) {
        const int64_t t = static_cast<int64_t>(seqs[i].target->size());
        if (rows.empty() || seqs[rows.back().front()].prompt != seqs[i].prompt || len + t > budget) {
          rows.push_back({});
          len = prompt;
        }
        rows.back().push_back(i);
        len += t;
      }
    }
  } else {
    for (std::size_t i : which) rows.push_back({i});
  }
  std::vector<int64_t> lengths;
  for (const auto& r : rows) lengths.push_back(unit_tokens(seqs, r));
  for (const auto& mb : micro_batches(lengths, budget)) {
    std::vector<std::size_t> idx;
    std::vector<SeqRef> part;
    std::vector<model::PackedRow> packed;
    for (std::size_t k : mb) {
      model::PackedRow row;
      row.prompt = seqs[rows[k].front()].prompt;
      for (std::size_t i : rows[k]) {
        row.targets.push_back(seqs[i].target);
        row.out_rows.push_back(static_cast<int64_t>(idx.size()));
        idx.push_back(i);
        part.push_back(seqs[i]);
      }
      packed.push_back(std::move(row));
    }
    SequenceBatch b = sequences_pack(part, device);
    if (share_prefix)
      b.packed = model::prefix_pack(packed, b.target_any.size(0), b.target_any.size(1), device);
    fn(idx, part, b);
  }
}

model::TokenLogprobs batch_logprobs(const model::ModelConfig& cfg, const model::DecoderWeights& w,
                                    const SequenceBatch& b, model::LogprobOptions o,
                                    const at::Tensor& only_at) {
  if (b.packed.ids.defined()) return model::token_logprobs_packed(cfg, w, b.packed, o);
  o.only_at = only_at;
  return model::token_logprobs(cfg, w, b.ids, b.attention, o);
}

Learner::Learner(std::vector<at::Tensor> params, double weight_decay, const parallel::Comm& comm,
                 bool shard_optimizer)
    : params_(std::move(params)),
      opt_(shard_optimizer ? std::vector<at::Tensor>{} : params_,
           model::AdamWConfig{0.9, 0.999, 1e-8, weight_decay}),
      reducer_(comm) {
  // The gradient buffers, zeroed, made once here: backward then adds into them in place. Made inside the first
  // backward pass instead, these long-lived buffers land between its short-lived tensors and the heap keeps the
  // holes (0.3-0.9 GB measured at Qwen2.5-0.5B's shape); the memory plan counts them from the start.
  for (auto& p : params_) {
    p.set_requires_grad(true);
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
  }
  if (shard_optimizer)
    sharded_ =
        std::make_unique<ShardedAdamW>(params_, model::AdamWConfig{0.9, 0.999, 1e-8, weight_decay}, comm);
  else if (!params_.empty())
    reducer_.start(params_[0].device());  // NCCL on GPUs: made now, before generation fills the GPU
}

Learner::~Learner() = default;

void Learner::zero_grad() {
  for (auto& p : params_) p.mutable_grad().zero_();
}

double Learner::update(double lr, double max_norm) {
  if (sharded_) return sharded_->step(lr, max_norm);
  std::vector<at::Tensor> grads;
  for (auto& p : params_) grads.push_back(p.grad());
  reducer_.allreduce_sum(grads);
  const double norm = model::clip_grad_norm(params_, max_norm);
  opt_.step(lr);
  return norm;
}

int64_t Learner::optimizer_steps() const {
  return sharded_ ? sharded_->steps() : opt_.steps();
}

void Learner::set_optimizer_steps(int64_t s) {
  if (sharded_)
    sharded_->set_steps(s);
  else
    opt_.set_steps(s);
}

std::vector<at::Tensor> Learner::exp_avg() const {
  return sharded_ ? gathered_m_ : opt_.exp_avg();
}
std::vector<at::Tensor> Learner::exp_avg_sq() const {
  return sharded_ ? gathered_v_ : opt_.exp_avg_sq();
}

void Learner::moments_gather() {
  if (!sharded_) return;
  std::tie(gathered_m_, gathered_v_) = sharded_->moments_gather(0);
}

void Learner::moments_set_shards(const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq) {
  if (!sharded_) throw std::logic_error("learner: moment shards given to an unsharded optimizer");
  sharded_->moments_set_shards(exp_avg, exp_avg_sq);
}

const parallel::Comm* Learner::shard_comm() const {
  return sharded_ ? &sharded_->comm() : nullptr;
}

std::vector<ShardedAdamW::SavePiece> Learner::save_pieces() const {
  return sharded_ ? sharded_->save_pieces() : std::vector<ShardedAdamW::SavePiece>{};
}

void Learner::moments_release() {
  gathered_m_.clear();
  gathered_v_.clear();
}

void Learner::moments_set(const std::vector<at::Tensor>& exp_avg, const std::vector<at::Tensor>& exp_avg_sq) {
  if (exp_avg.empty()) return;  // a state without optimizer moments
  if (sharded_) {
    sharded_->moments_set(exp_avg, exp_avg_sq);
    return;
  }
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < exp_avg.size() && i < opt_.exp_avg().size(); ++i) {
    opt_.exp_avg()[i].copy_(exp_avg[i]);
    opt_.exp_avg_sq()[i].copy_(exp_avg_sq[i]);
  }
}

}  // namespace toolgrpo::app
