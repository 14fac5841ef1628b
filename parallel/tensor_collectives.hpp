// Collectives on libtorch tensors, one flat bucket per call (never one MPI call per parameter): the mean of
// gradients over the data-parallel ranks, and the weight broadcast from trainers to generators.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "parallel/comm.hpp"

namespace toolgrpo::parallel {

// Replaces every tensor by its mean over the ranks of `comm` (CPU tensors, any floating dtype; summed in fp32).
void allreduce_mean_flat(const std::vector<at::Tensor>& tensors, const Comm& comm);

// Replaces every tensor by its sum over the ranks of `comm` (gradients whose loss already carries the global
// normaliser, so that np ranks compute exactly what one rank would).
void allreduce_sum_flat(const std::vector<at::Tensor>& tensors, const Comm& comm);

// Copies root's values of every tensor to all ranks of `comm` (CPU tensors).
void broadcast_flat(const std::vector<at::Tensor>& tensors, int root, const Comm& comm);

}  // namespace toolgrpo::parallel
