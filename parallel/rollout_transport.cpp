// Rollout serialisation, all-gather and token balancing; see rollout_transport.hpp.
#include "parallel/rollout_transport.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

namespace toolgrpo::parallel {
namespace {

constexpr uint64_t kMagic = 0x32544c4f52475447ULL;  // "GTGROLT2"

struct Writer {
  std::string out;
  template <class T>
  void put(const T& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
  template <class T>
  void put_vec(const std::vector<T>& v) {
    put<uint64_t>(v.size());
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
};

struct Reader {
  const std::string& in;
  std::size_t pos = 0;
  template <class T>
  T get() {
    if (in.size() - pos < sizeof(T)) throw std::runtime_error("rollout buffer is truncated at byte " + std::to_string(pos));
    T v;
    std::memcpy(&v, in.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  template <class T>
  std::vector<T> get_vec() {
    const uint64_t n = get<uint64_t>();
    if (n > (in.size() - pos) / sizeof(T)) throw std::runtime_error("rollout buffer is truncated at byte " + std::to_string(pos));
    std::vector<T> v(n);
    std::memcpy(v.data(), in.data() + pos, n * sizeof(T));
    pos += n * sizeof(T);
    return v;
  }
};

}  // namespace

std::string rollouts_serialize(const std::vector<RolloutGroup>& groups) {
  Writer w;
  w.put(kMagic);
  w.put<uint64_t>(groups.size());
  for (const auto& g : groups) {
    w.put(g.index);
    w.put(g.fields);
    w.put_vec(g.prompt);
    w.put<uint64_t>(g.responses.size());
    for (const auto& r : g.responses) w.put_vec(r);
    w.put_vec(g.truncated);
    w.put_vec(g.values);
    w.put<uint64_t>(g.logprobs.size());
    for (const auto& l : g.logprobs) w.put_vec(l);
  }
  return std::move(w.out);
}

std::vector<RolloutGroup> rollouts_deserialize(const std::string& bytes) {
  Reader r{bytes};
  if (r.get<uint64_t>() != kMagic) throw std::runtime_error("rollout buffer: bad magic number");
  const uint64_t n = r.get<uint64_t>();
  std::vector<RolloutGroup> out;
  for (uint64_t i = 0; i < n; ++i) {
    RolloutGroup g;
    g.index = r.get<int64_t>();
    g.fields = r.get<int64_t>();
    g.prompt = r.get_vec<int64_t>();
    const uint64_t G = r.get<uint64_t>();
    if (G > bytes.size()) throw std::runtime_error("rollout buffer: implausible group size " + std::to_string(G));
    for (uint64_t s = 0; s < G; ++s) g.responses.push_back(r.get_vec<int64_t>());
    g.truncated = r.get_vec<uint8_t>();
    g.values = r.get_vec<double>();
    const uint64_t L = r.get<uint64_t>();
    if (L != 0 && L != G) throw std::runtime_error("rollout buffer: implausible log-prob rows " + std::to_string(L));
    for (uint64_t s = 0; s < L; ++s) g.logprobs.push_back(r.get_vec<float>());
    bool sizes_ok = g.truncated.size() == G && g.values.size() == G * static_cast<uint64_t>(std::max<int64_t>(g.fields, 0));
    for (uint64_t s = 0; s < L && sizes_ok; ++s) sizes_ok = g.logprobs[s].size() == g.responses[s].size();
    if (!sizes_ok)
      throw std::runtime_error("rollout buffer: group " + std::to_string(g.index) + " has inconsistent sizes");
    out.push_back(std::move(g));
  }
  if (r.pos != bytes.size()) throw std::runtime_error("rollout buffer: trailing bytes");
  return out;
}

std::vector<RolloutGroup> rollouts_allgather(const std::vector<RolloutGroup>& mine, const Comm& comm) {
  std::vector<RolloutGroup> all;
  for (const std::string& part : comm.allgather(rollouts_serialize(mine))) {
    std::vector<RolloutGroup> g = rollouts_deserialize(part);
    std::move(g.begin(), g.end(), std::back_inserter(all));
  }
  std::stable_sort(all.begin(), all.end(), [](const RolloutGroup& a, const RolloutGroup& b) { return a.index < b.index; });
  return all;
}

std::vector<int> balance_by_tokens(const std::vector<int64_t>& tokens, int parts) {
  if (parts < 1) throw std::invalid_argument("balance_by_tokens: parts must be >= 1");
  std::vector<std::size_t> order(tokens.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return tokens[a] > tokens[b]; });
  std::vector<int64_t> load(static_cast<std::size_t>(parts), 0);
  std::vector<int> owner(tokens.size(), 0);
  for (std::size_t i : order) {
    const auto best = std::min_element(load.begin(), load.end()) - load.begin();  // first minimum: lower owner
    owner[i] = static_cast<int>(best);
    load[static_cast<std::size_t>(best)] += tokens[i];
  }
  return owner;
}

}  // namespace toolgrpo::parallel
