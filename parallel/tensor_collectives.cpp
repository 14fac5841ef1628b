// Flat-bucket tensor collectives over MPI or NCCL; see tensor_collectives.hpp.
#include "parallel/tensor_collectives.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/ScalarType.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#ifdef TOOLGRPO_HAVE_NCCL
#include "parallel/nccl_comm.hpp"
#endif

namespace toolgrpo::parallel {
namespace {

at::Tensor pack(const std::vector<at::Tensor>& tensors, at::ScalarType dtype) {
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) {
    if (t.device() != tensors[0].device()) throw std::invalid_argument("flat collectives: tensors on different devices");
    flat.push_back(t.detach().reshape({-1}).to(dtype));
  }
  return at::cat(flat).contiguous();
}

void unpack(const at::Tensor& bucket, const std::vector<at::Tensor>& tensors) {
  at::NoGradGuard no_grad;
  int64_t off = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(bucket.narrow(0, off, n).view(t.sizes()));
    off += n;
  }
}

}  // namespace

namespace {
void allreduce_flat(const std::vector<at::Tensor>& tensors, const Comm& comm, bool mean) {
  if (tensors.empty()) return;
  if (!tensors[0].device().is_cpu()) throw std::invalid_argument("MPI all-reduce takes CPU tensors (GradientReducer uses NCCL on GPU)");
  at::Tensor bucket = pack(tensors, at::kFloat);
  comm.allreduce_sum(bucket.data_ptr<float>(), static_cast<std::size_t>(bucket.numel()));
  if (mean) bucket.div_(static_cast<double>(comm.size()));
  unpack(bucket, tensors);
}
}  // namespace

void allreduce_mean_flat(const std::vector<at::Tensor>& tensors, const Comm& comm) {
  allreduce_flat(tensors, comm, true);
}

void allreduce_sum_flat(const std::vector<at::Tensor>& tensors, const Comm& comm) {
  allreduce_flat(tensors, comm, false);
}

void GradientReducer::start(const at::Device& device) {
  if (device.is_cpu() || comm_->size() == 1) return;  // MPI, or nothing to reduce
#ifdef TOOLGRPO_HAVE_NCCL
  if (!nccl_) nccl_ = std::make_shared<NcclComm>(*comm_, device.index());
#else
  throw std::invalid_argument("gradients on " + device.str() +
                              ": this build has no NCCL (configure with -DTOOLGRPO_ENABLE_CUDA=ON)");
#endif
}

void GradientReducer::allreduce_sum(const std::vector<at::Tensor>& tensors) {
  if (tensors.empty() || comm_->size() == 1) return;  // one rank: the sum is the gradient (no bucket copy)
  if (tensors[0].device().is_cpu()) {
    allreduce_sum_flat(tensors, *comm_);
    return;
  }
  start(tensors[0].device());  // made at start-up by the learner; throws in a build without NCCL
#ifdef TOOLGRPO_HAVE_NCCL
  at::Tensor bucket = pack(tensors, at::kFloat);
  // The default stream, which libtorch's kernels also use here: NCCL runs after the packing and before the unpacking.
  nccl_->allreduce_sum(bucket.data_ptr(), static_cast<std::size_t>(bucket.numel()), DeviceDType::F32, nullptr);
  unpack(bucket, tensors);
#endif
}

namespace {
void check_flat(const at::Tensor& t, const char* what) {
  if (t.scalar_type() != at::kFloat || !t.is_contiguous())
    throw std::invalid_argument(std::string(what) + ": expects contiguous float32 tensors");
}
}  // namespace

NcclComm& ShardCollectives::nccl(const at::Device& device) {
#ifdef TOOLGRPO_HAVE_NCCL
  if (!nccl_) nccl_ = std::make_shared<NcclComm>(*comm_, device.index());
  return *nccl_;
#else
  throw std::invalid_argument("sharded optimizer on " + device.str() +
                              ": this build has no NCCL (configure with -DTOOLGRPO_ENABLE_CUDA=ON)");
#endif
}

void ShardCollectives::start(const at::Device& device) {
  if (!device.is_cpu()) nccl(device);
}

void ShardCollectives::reduce_scatter_sum(const at::Tensor& in, const at::Tensor& out) {
  run(out, in, true);
}

void ShardCollectives::allgather(const at::Tensor& in, const at::Tensor& out) {
  run(in, out, false);
}

void ShardCollectives::run(const at::Tensor& part, const at::Tensor& whole, bool scatter) {
  const char* what = scatter ? "reduce_scatter_sum" : "allgather";
  check_flat(part, what);
  check_flat(whole, what);
  const auto n = static_cast<std::size_t>(part.numel());
  if (static_cast<std::size_t>(whole.numel()) != n * static_cast<std::size_t>(comm_->size()))
    throw std::invalid_argument(std::string(what) + ": the whole buffer must hold size() x the rank's part");
  if (part.device().is_cpu()) {
    if (scatter)
      comm_->reduce_scatter_sum(whole.data_ptr<float>(), part.data_ptr<float>(), n);
    else
      comm_->allgather(part.data_ptr<float>(), whole.data_ptr<float>(), n);
    return;
  }
#ifdef TOOLGRPO_HAVE_NCCL
  if (scatter)
    nccl(part.device()).reduce_scatter_sum(whole.data_ptr(), part.data_ptr(), n, DeviceDType::F32, nullptr);
  else
    nccl(part.device()).allgather(part.data_ptr(), whole.data_ptr(), n, DeviceDType::F32, nullptr);
#else
  nccl(part.device());
#endif
}

std::vector<WeightBucket> weight_buckets(const std::vector<at::Tensor>& tensors, std::size_t bucket_bytes) {
  std::vector<at::ScalarType> dtypes;
  for (const auto& t : tensors)
    if (std::find(dtypes.begin(), dtypes.end(), t.scalar_type()) == dtypes.end()) dtypes.push_back(t.scalar_type());
  std::vector<WeightBucket> out;
  for (const at::ScalarType dtype : dtypes) {
    const auto size = static_cast<std::size_t>(c10::elementSize(dtype));
    const auto cap = static_cast<int64_t>(std::max<std::size_t>(1, bucket_bytes / size));
    WeightBucket cur;
    cur.dtype = dtype;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      if (tensors[i].scalar_type() != dtype) continue;
      const int64_t n = tensors[i].numel();
      for (int64_t begin = 0; begin < n;) {
        const int64_t take = std::min(n - begin, cap - cur.numel);
        cur.pieces.push_back({i, begin, take, cur.numel});
        cur.numel += take;
        begin += take;
        if (cur.numel == cap) {
          out.push_back(std::move(cur));
          cur = WeightBucket();
          cur.dtype = dtype;
        }
      }
    }
    if (cur.numel > 0) out.push_back(std::move(cur));
  }
  return out;
}

namespace {

// The tensors' count and a hash of their dtypes and sizes: equal on every rank that holds the same model.
std::vector<int64_t> layout_of(const std::vector<at::Tensor>& tensors) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the dtype codes and sizes
  const auto mix = [&h](int64_t v) {
    for (int k = 0; k < 8; ++k) {
      h ^= static_cast<uint64_t>(v >> (8 * k)) & 0xffu;
      h *= 1099511628211ull;
    }
  };
  for (const auto& t : tensors) {
    mix(static_cast<int64_t>(t.scalar_type()));
    mix(t.dim());
    for (const int64_t d : t.sizes()) mix(d);
  }
  return {static_cast<int64_t>(tensors.size()), static_cast<int64_t>(h)};
}

}  // namespace

void broadcast_bucketed(const std::vector<at::Tensor>& tensors, bool is_root, std::size_t bucket_bytes,
                        const at::Device& buffer_device, const std::function<void(const at::Tensor&)>& send) {
  at::NoGradGuard no_grad;
  const std::vector<int64_t> mine = layout_of(tensors);
  at::Tensor layout = at::tensor(mine, at::kLong).to(buffer_device);
  send(layout);
  if (!is_root) {
    const at::Tensor root = layout.cpu();
    if (root[0].item<int64_t>() != mine[0] || root[1].item<int64_t>() != mine[1])
      throw std::runtime_error("weight broadcast: the root sends " + std::to_string(root[0].item<int64_t>()) +
                               " tensors, this rank holds " + std::to_string(mine[0]) +
                               (root[0].item<int64_t>() == mine[0] ? " of other dtypes or shapes" : "") +
                               ": the ranks do not hold the same model");
  }
  if (tensors.empty()) return;

  // Each tensor as one contiguous 1-D view of its storage (a copy for a non-contiguous tensor, written back at
  // the end on the receiving ranks).
  std::vector<at::Tensor> flat;
  std::vector<bool> staged;
  for (const auto& t : tensors) {
    const at::Tensor d = t.detach();
    staged.push_back(!d.is_contiguous());
    flat.push_back(d.contiguous().view({-1}));
  }
  const std::vector<WeightBucket> plan = weight_buckets(tensors, bucket_bytes);
  // A bucket that is one slice of one tensor already on the buffer's device is sent in place; the others are
  // packed into one reused buffer per dtype, the size of that dtype's largest packed bucket.
  const auto in_place = [&](const WeightBucket& b) {
    return b.pieces.size() == 1 && flat[b.pieces[0].tensor].device() == buffer_device;
  };
  std::vector<std::pair<at::ScalarType, at::Tensor>> buffers;
  const auto buffer_for = [&](const WeightBucket& b) {
    for (auto& [dtype, buf] : buffers)
      if (dtype == b.dtype) return buf.narrow(0, 0, b.numel);
    int64_t largest = 0;
    for (const auto& o : plan)
      if (o.dtype == b.dtype && !in_place(o)) largest = std::max(largest, o.numel);
    buffers.emplace_back(b.dtype, at::empty({largest}, at::TensorOptions().dtype(b.dtype).device(buffer_device)));
    return buffers.back().second.narrow(0, 0, b.numel);
  };
  for (const WeightBucket& b : plan) {
    if (in_place(b)) {
      const BucketPiece& p = b.pieces[0];
      send(flat[p.tensor].narrow(0, p.begin, p.count));
      continue;
    }
    const at::Tensor buf = buffer_for(b);
    if (is_root)
      for (const BucketPiece& p : b.pieces)
        buf.narrow(0, p.offset, p.count).copy_(flat[p.tensor].narrow(0, p.begin, p.count));
    send(buf);
    if (!is_root)
      for (const BucketPiece& p : b.pieces)
        flat[p.tensor].narrow(0, p.begin, p.count).copy_(buf.narrow(0, p.offset, p.count));
  }
  if (!is_root)
    for (std::size_t i = 0; i < tensors.size(); ++i)
      if (staged[i]) tensors[i].detach().copy_(flat[i].view(tensors[i].sizes()));
}

void broadcast_flat(const std::vector<at::Tensor>& tensors, int root, const Comm& comm, std::size_t bucket_bytes) {
  if (comm.size() == 1) return;  // the root alone: nothing to send
  broadcast_bucketed(tensors, comm.rank() == root, bucket_bytes, at::kCPU, [&](const at::Tensor& bucket) {
    comm.broadcast(bucket.data_ptr(), bucket.nbytes(), root);
  });
}

WeightTransport weight_transport_for(bool every_rank_on_cuda, bool nccl_in_build) {
  return every_rank_on_cuda && nccl_in_build ? WeightTransport::DeviceNccl : WeightTransport::HostMpi;
}

bool built_with_nccl() {
#ifdef TOOLGRPO_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

const char* weight_transport_name(WeightTransport t) {
  return t == WeightTransport::DeviceNccl ? "NCCL on the devices" : "MPI through host memory";
}

void WeightBroadcaster::start(const at::Device& weights_device) {
  if (started_) return;
  // Collective even at one rank, so that every rank of the group takes the same branch below.
  const bool all_cuda = comm_->allreduce_min(weights_device.is_cuda() ? 1.0 : 0.0) > 0.5;
  transport_ = weight_transport_for(all_cuda, built_with_nccl());
  started_ = true;
  if (transport_ != WeightTransport::DeviceNccl || comm_->size() == 1) return;
#ifdef TOOLGRPO_HAVE_NCCL
  nccl_ = std::make_shared<NcclComm>(*comm_, weights_device.index());
#endif
}

void WeightBroadcaster::broadcast(const std::vector<at::Tensor>& tensors) {
  if (!started_) throw std::logic_error("WeightBroadcaster::broadcast before start()");
  if (comm_->size() == 1) return;
  if (transport_ == WeightTransport::HostMpi) {
    broadcast_flat(tensors, root_, *comm_, bucket_bytes_);
    return;
  }
#ifdef TOOLGRPO_HAVE_NCCL
  // The default stream, which libtorch's kernels also use here: each broadcast runs after its bucket is packed and
  // before it is unpacked.
  NcclComm& nccl = *nccl_;
  broadcast_bucketed(tensors, comm_->rank() == root_, bucket_bytes_, at::Device(at::kCUDA, nccl.device()),
                     [&](const at::Tensor& bucket) {
                       nccl.broadcast(bucket.data_ptr(), bucket.nbytes(), DeviceDType::U8, root_, nullptr);
                     });
#endif
}

}  // namespace toolgrpo::parallel
