// Sequence packing, micro-batches and the data-parallel optimizer update; see learner.hpp.
#include "app/learner.hpp"

#include <ATen/Functions.h>

#include <algorithm>

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
  if (!device.is_cpu())
    b = {b.ids.to(device), b.attention.to(device), b.target_mask.to(device), b.target_any.to(device)};
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

std::vector<std::size_t> rank_share(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& items, int ranks,
                                    int rank) {
  std::vector<int64_t> cost;
  for (std::size_t i : items) cost.push_back(seqs[i].length());
  const std::vector<int> owner = parallel::balance_by_tokens(cost, ranks);
  std::vector<std::size_t> mine;
  for (std::size_t k = 0; k < items.size(); ++k)
    if (owner[k] == rank) mine.push_back(items[k]);
  std::stable_sort(mine.begin(), mine.end(), [&](std::size_t a, std::size_t b) { return seqs[a].length() > seqs[b].length(); });
  return mine;
}

void for_each_micro_batch(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& which, int64_t budget,
                          at::Device device,
                          const std::function<void(const std::vector<std::size_t>&, const std::vector<SeqRef>&,
                                                   const SequenceBatch&)>& fn) {
  std::vector<int64_t> lengths;
  for (std::size_t i : which) lengths.push_back(seqs[i].length());
  for (const auto& mb : micro_batches(lengths, budget)) {
    std::vector<std::size_t> idx;
    std::vector<SeqRef> part;
    for (std::size_t k : mb) {
      idx.push_back(which[k]);
      part.push_back(seqs[which[k]]);
    }
    fn(idx, part, sequences_pack(part, device));
  }
}

Learner::Learner(std::vector<at::Tensor> params, double weight_decay, const parallel::Comm& comm)
    : params_(std::move(params)), opt_(params_, model::AdamWConfig{0.9, 0.999, 1e-8, weight_decay}), reducer_(comm) {
  for (auto& p : params_) p.set_requires_grad(true);
}

void Learner::zero_grad() { opt_.zero_grad(); }

double Learner::update(double lr, double max_norm) {
  std::vector<at::Tensor> grads;
  for (auto& p : params_) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  reducer_.allreduce_sum(grads);
  const double norm = model::clip_grad_norm(params_, max_norm);
  opt_.step(lr);
  return norm;
}

}  // namespace toolgrpo::app
