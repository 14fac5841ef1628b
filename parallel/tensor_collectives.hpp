// Collectives on libtorch tensors, one flat bucket per call (never one MPI call per parameter): the mean of
// gradients over the data-parallel ranks, and the weight broadcast from trainers to generators.
#pragma once

#include <ATen/core/Tensor.h>

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
// tensors (builds with TOOLGRPO_ENABLE_CUDA; the NCCL communicator is made, collectively, on first use).
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

// Copies root's values of every tensor to all ranks of `comm`, bit for bit (CUDA tensors are staged through host
// memory, so the MPI needs no CUDA support).
void broadcast_flat(const std::vector<at::Tensor>& tensors, int root, const Comm& comm);

}  // namespace toolgrpo::parallel
