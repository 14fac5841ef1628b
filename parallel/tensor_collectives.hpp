// Collectives on libtorch tensors in flat buckets (never one MPI call per parameter): the sum or mean of
// gradients over the data-parallel ranks, and the weight broadcast from trainers to generators (bucketed: NCCL
// on the devices when every side holds its weights on CUDA, MPI through host memory otherwise).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "parallel/comm.hpp"

namespace toolgrpo::parallel {

// Replaces every tensor by its mean over the ranks of `comm` (CPU tensors, any floating dtype; summed in fp32).
void allreduce_mean_flat(const std::vector<at::Tensor>& tensors, const Comm& comm);

// Replaces every tensor by its sum over the ranks of `comm` (gradients whose loss already carries the global
// normaliser, so that np ranks compute exactly what one rank would).
void allreduce_sum_flat(const std::vector<at::Tensor>& tensors, const Comm& comm);

class NcclComm;

// Sums gradients over the ranks of a communicator as one flat fp32 bucket: MPI for CPU tensors, NCCL for CUDA
// tensors (builds with TOOLGRPO_ENABLE_CUDA; the NCCL communicator is made collectively by start(), at start-up).
class GradientReducer {
 public:
  explicit GradientReducer(const Comm& comm) : comm_(&comm) {}
  // Collective: for gradients on `device`, a CUDA device with several ranks, makes the NCCL communicator now
  // (at start-up, before generation fills the GPU) instead of at the first reduction.
  void start(const at::Device& device);
  void allreduce_sum(const std::vector<at::Tensor>& tensors);

 private:
  const Comm* comm_;
  std::shared_ptr<NcclComm> nccl_;
};

// Reduce-scatter and all-gather of flat float32 tensors over `comm` (MPI for CPU tensors, NCCL for CUDA
// ones): the collectives of a sharded optimizer.
class ShardCollectives {
 public:
  explicit ShardCollectives(const Comm& comm) : comm_(&comm) {}
  // Collective: for tensors on a CUDA `device`, makes the NCCL communicator now rather than at first use.
  void start(const at::Device& device);
  // `in`: size() x n floats; `out`: n floats, rank r's block of their sum over the ranks.
  void reduce_scatter_sum(const at::Tensor& in, const at::Tensor& out);
  // `in`: n floats of this rank; `out`: size() x n floats, every rank's in rank order.
  void allgather(const at::Tensor& in, const at::Tensor& out);
  const Comm& comm() const { return *comm_; }

 private:
  NcclComm& nccl(const at::Device& device);
  // `part`: this rank's n floats; `whole`: size() x n. scatter: reduce-scatter whole into part; else
  // all-gather.
  void run(const at::Tensor& part, const at::Tensor& whole, bool scatter);
  const Comm* comm_;
  std::shared_ptr<NcclComm> nccl_;
};

// The weight broadcast (trainer 0 to the generators in split mode): the tensors, grouped by dtype (bf16 stays
// bf16, nothing is converted), are cut into buckets of at most `bucket_bytes`, one broadcast per bucket, a
// tensor larger than a bucket spread over several. The bucketing, packing and unpacking are one code for both
// transports (broadcast_bucketed); only the step "broadcast this flat buffer" differs.
inline constexpr std::size_t kWeightBucketBytes = std::size_t{256} << 20;

// Elements [begin, begin + count) of tensor `tensor`'s flat view, at element `offset` of its bucket.
struct BucketPiece {
  std::size_t tensor = 0;
  int64_t begin = 0, count = 0, offset = 0;
};
struct WeightBucket {
  at::ScalarType dtype = at::kFloat;
  int64_t numel = 0;  // numel * element size <= bucket_bytes (at least one element per bucket)
  std::vector<BucketPiece> pieces;
};
// The buckets of `tensors`: dtypes in order of first appearance, each dtype's tensors in order, filled to the
// byte bound. Every rank computes the same plan from tensors of the same shapes and dtypes.
std::vector<WeightBucket> weight_buckets(const std::vector<at::Tensor>& tensors, std::size_t bucket_bytes);

// The shared part of the weight broadcast: for each bucket, the root packs its tensors' values into a buffer on
// `buffer_device` (a bucket that is one contiguous slice of a tensor already on that device is sent in place),
// `send` broadcasts the buffer, and the other ranks copy it into their tensors. First, the root's layout (the
// tensors' dtypes and sizes) is sent through `send` and compared, so ranks with different models fail with a
// message instead of mixing up the bytes.
void broadcast_bucketed(const std::vector<at::Tensor>& tensors, bool is_root, std::size_t bucket_bytes,
                        const at::Device& buffer_device, const std::function<void(const at::Tensor&)>& send);

// broadcast_bucketed over MPI through host memory: root's values of every tensor to all ranks of `comm`, bit for
// bit (CUDA tensors are staged through host buckets, so the MPI needs no CUDA support).
void broadcast_flat(const std::vector<at::Tensor>& tensors, int root, const Comm& comm,
                    std::size_t bucket_bytes = kWeightBucketBytes);

enum class WeightTransport { HostMpi, DeviceNccl };
// The weight broadcast's transport: NCCL on the devices only when this build has NCCL and every rank of the
// group holds its weights on CUDA; MPI through host memory otherwise.
WeightTransport weight_transport_for(bool every_rank_on_cuda, bool built_with_nccl);
bool built_with_nccl();
const char* weight_transport_name(WeightTransport t);

// The weight broadcast over a group (split mode's sync communicator): the transport chosen once at start-up.
class WeightBroadcaster {
 public:
  WeightBroadcaster(const Comm& comm, int root, std::size_t bucket_bytes = kWeightBucketBytes)
      : comm_(&comm), root_(root), bucket_bytes_(bucket_bytes) {}
  // Collective over the group: every rank says where its weights are; when all are on CUDA (and the build has
  // NCCL) the NCCL communicator is made now, at start-up (after the model is placed, before generation), not at
  // the first broadcast.
  void start(const at::Device& weights_device);
  // Collective: root's values of every tensor to every rank of the group, bit for bit. Needs start().
  void broadcast(const std::vector<at::Tensor>& tensors);
  WeightTransport transport() const { return transport_; }

 private:
  const Comm* comm_;
  int root_;
  std::size_t bucket_bytes_;
  bool started_ = false;
  WeightTransport transport_ = WeightTransport::HostMpi;
  std::shared_ptr<NcclComm> nccl_;
};

}  // namespace toolgrpo::parallel
