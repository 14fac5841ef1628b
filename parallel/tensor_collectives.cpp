// Flat-bucket tensor collectives over MPI; see tensor_collectives.hpp.
#include "parallel/tensor_collectives.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include <stdexcept>

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

void broadcast_flat(const std::vector<at::Tensor>& tensors, int root, const Comm& comm) {
  if (tensors.empty()) return;
  // Raw bytes of each tensor's own dtype, so the values arrive bit for bit.
  std::vector<at::Tensor> bytes;
  for (const auto& t : tensors) bytes.push_back(t.detach().contiguous().view({-1}).view(at::kByte));
  at::Tensor bucket = at::cat(bytes).to(at::kCPU).contiguous();
  comm.broadcast(bucket.data_ptr(), static_cast<std::size_t>(bucket.numel()), root);
  at::NoGradGuard no_grad;
  int64_t off = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const int64_t n = bytes[i].numel();
    tensors[i].copy_(bucket.narrow(0, off, n).clone().view(tensors[i].scalar_type()).view(tensors[i].sizes()));
    off += n;
  }
}

}  // namespace toolgrpo::parallel
