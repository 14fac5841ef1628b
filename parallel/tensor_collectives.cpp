// Flat-bucket tensor collectives over MPI; see tensor_collectives.hpp.
#include "parallel/tensor_collectives.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

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

void GradientReducer::allreduce_sum(const std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) return;
  if (tensors[0].device().is_cpu()) {
    allreduce_sum_flat(tensors, *comm_);
    return;
  }
#ifdef TOOLGRPO_HAVE_NCCL
  if (!nccl_) nccl_ = std::make_shared<NcclComm>(*comm_, tensors[0].get_device());
  at::Tensor bucket = pack(tensors, at::kFloat);
  // The default stream, which libtorch's kernels also use here: NCCL runs after the packing and before the unpacking.
  nccl_->allreduce_sum(bucket.data_ptr(), static_cast<std::size_t>(bucket.numel()), DeviceDType::F32, nullptr);
  unpack(bucket, tensors);
#else
  throw std::invalid_argument("gradients on " + tensors[0].device().str() +
                              ": this build has no NCCL (configure with -DTOOLGRPO_ENABLE_CUDA=ON)");
#endif
}

namespace {
void check_flat(const at::Tensor& t, const char* what) {
  if (t.scalar_type() != at::kFloat || !t.is_contiguous())
    throw std::invalid_argument(std::string(what) + ": expects contiguous float32 tensors");
}
}  // namespace

NcclComm& ShardCollectives::nccl(const at::Tensor& t) {
#ifdef TOOLGRPO_HAVE_NCCL
  if (!nccl_) nccl_ = std::make_shared<NcclComm>(*comm_, t.get_device());
  return *nccl_;
#else
  throw std::invalid_argument("sharded optimizer on " + t.device().str() +
                              ": this build has no NCCL (configure with -DTOOLGRPO_ENABLE_CUDA=ON)");
#endif
}

void ShardCollectives::reduce_scatter_sum(const at::Tensor& in, const at::Tensor& out) {
  check_flat(in, "reduce_scatter_sum");
  check_flat(out, "reduce_scatter_sum");
  const auto n = static_cast<std::size_t>(out.numel());
  if (static_cast<std::size_t>(in.numel()) != n * static_cast<std::size_t>(comm_->size()))
    throw std::invalid_argument("reduce_scatter_sum: input must hold size() x output elements");
  if (in.device().is_cpu()) {
    comm_->reduce_scatter_sum(in.data_ptr<float>(), out.data_ptr<float>(), n);
    return;
  }
#ifdef TOOLGRPO_HAVE_NCCL
  nccl(in).reduce_scatter_sum(in.data_ptr(), out.data_ptr(), n, DeviceDType::F32, nullptr);
#else
  nccl(in);
#endif
}

void ShardCollectives::allgather(const at::Tensor& in, const at::Tensor& out) {
  check_flat(in, "allgather");
  check_flat(out, "allgather");
  const auto n = static_cast<std::size_t>(in.numel());
  if (static_cast<std::size_t>(out.numel()) != n * static_cast<std::size_t>(comm_->size()))
    throw std::invalid_argument("allgather: output must hold size() x input elements");
  if (in.device().is_cpu()) {
    comm_->allgather(in.data_ptr<float>(), out.data_ptr<float>(), n);
    return;
  }
#ifdef TOOLGRPO_HAVE_NCCL
  nccl(in).allgather(in.data_ptr(), out.data_ptr(), n, DeviceDType::F32, nullptr);
#else
  nccl(in);
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
