// Packing of sequences that share a prompt; see PrefixPacked in decoder.hpp.
#include <ATen/Functions.h>

#include <algorithm>
#include <stdexcept>

#include "model/decoder.hpp"

namespace toolgrpo::model {

PrefixPacked prefix_pack(const std::vector<PackedRow>& rows, int64_t out_rows, int64_t out_cols,
                         at::Device device) {
  const int64_t R = static_cast<int64_t>(rows.size());
  int64_t T = 1, N = 0;
  for (const PackedRow& r : rows) {
    if (r.prompt == nullptr || r.targets.size() != r.out_rows.size())
      throw std::invalid_argument("prefix_pack: each row needs a prompt and one output row per target");
    const int64_t P = static_cast<int64_t>(r.prompt->size());
    int64_t len = P;
    for (const auto* t : r.targets) {
      len += static_cast<int64_t>(t->size());
      N += static_cast<int64_t>(t->size()) - (P == 0 && !t->empty() ? 1 : 0);
    }
    T = std::max(T, len);
  }
  PrefixPacked p;
  p.out_rows = out_rows;
  p.out_cols = out_cols;
  p.ids = at::zeros({R, T}, at::kLong);
  p.positions = at::zeros({R, T}, at::kLong);
  p.pattern = at::zeros({R, T, T}, at::kBool);
  p.source = at::empty({N}, at::kLong);
  p.target = at::empty({N}, at::kLong);
  p.out_index = at::empty({N}, at::kLong);
  auto ids = p.ids.accessor<int64_t, 2>();
  auto pos = p.positions.accessor<int64_t, 2>();
  auto see = p.pattern.accessor<bool, 3>();
  auto src = p.source.accessor<int64_t, 1>();
  auto tgt = p.target.accessor<int64_t, 1>();
  auto out = p.out_index.accessor<int64_t, 1>();
  int64_t n = 0;
  for (int64_t r = 0; r < R; ++r) {
    const PackedRow& row = rows[static_cast<std::size_t>(r)];
    const int64_t P = static_cast<int64_t>(row.prompt->size());
    for (int64_t q = 0; q < P; ++q) {
      ids[r][q] = (*row.prompt)[static_cast<std::size_t>(q)];
      pos[r][q] = q;
      for (int64_t k = 0; k <= q; ++k) see[r][q][k] = true;
    }
    int64_t start = P;
    for (std::size_t i = 0; i < row.targets.size(); ++i) {
      const std::vector<int64_t>& t = *row.targets[i];
      const int64_t len = static_cast<int64_t>(t.size()), o = row.out_rows[i];
      if (o < 0 || o >= out_rows || P + len - 1 > out_cols)
        throw std::invalid_argument("prefix_pack: a target does not fit the output layout");
      for (int64_t k = 0; k < len; ++k) {
        const int64_t q = start + k;
        ids[r][q] = t[static_cast<std::size_t>(k)];
        pos[r][q] = P + k;
        for (int64_t j = 0; j < P; ++j) see[r][q][j] = true;
        for (int64_t j = start; j <= q; ++j) see[r][q][j] = true;
        if (k == 0 && P == 0) continue;  // nothing predicts a sequence's first token
        src[n] = r * T + (k == 0 ? P - 1 : q - 1);
        tgt[n] = t[static_cast<std::size_t>(k)];
        out[n] = o * out_cols + P + k - 1;
        ++n;
      }
      start += len;
    }
    for (int64_t q = start; q < T; ++q) see[r][q][q] = true;  // padding sees itself: finite, never read
  }
  if (!device.is_cpu()) {
    p.ids = p.ids.to(device), p.positions = p.positions.to(device), p.pattern = p.pattern.to(device);
    p.source = p.source.to(device), p.target = p.target.to(device), p.out_index = p.out_index.to(device);
  }
  return p;
}

}  // namespace toolgrpo::model
