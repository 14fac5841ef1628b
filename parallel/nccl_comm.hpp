// NcclComm: an owned NCCL communicator for the ranks of a Comm (one GPU each), for gradient all-reduce and
// weight broadcast on CUDA tensors. Built only with TOOLGRPO_ENABLE_CUDA; the header hides <nccl.h>.
#pragma once

#include <cstddef>

#include "parallel/comm.hpp"
#include "parallel/comm_guard.hpp"

struct ncclComm;
struct CUstream_st;

namespace toolgrpo::parallel {

enum class DeviceDType { F32, BF16, F16, U8 };  // U8: raw bytes (a broadcast of any dtype, bit for bit)

// How an ncclComm ends (CommGuard): ncclCommDestroy normally, ncclCommAbort while an exception unwinds (the
// abort prints one line to stderr naming the rank, so a failed job's log says the communicator was aborted).
struct NcclEnds {
  static void destroy(ncclComm* c) noexcept;
  static void abort(ncclComm* c) noexcept;
};

class NcclComm {
 public:
  // Collective over `comm`: rank 0 makes the unique id, MPI broadcasts it, every rank joins on `device`.
  NcclComm(const Comm& comm, int device);
  // Destroys the communicator; while an exception thrown after its construction unwinds through it, aborts it
  // instead (no waiting for the other ranks), so a rank that fails ends the job in seconds (CommGuard).
  ~NcclComm() = default;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  void allreduce_sum(void* data, std::size_t count, DeviceDType dtype, CUstream_st* stream) const;
  void broadcast(void* data, std::size_t count, DeviceDType dtype, int root, CUstream_st* stream) const;
  // `in` holds size x `block` elements; rank r receives the sum of block r in `out` (ncclReduceScatter).
  void reduce_scatter_sum(const void* in, void* out, std::size_t block, DeviceDType dtype,
                          CUstream_st* stream) const;
  // Every rank's `block` elements of `in`, in rank order, into `out` (ncclAllGather).
  void allgather(const void* in, void* out, std::size_t block, DeviceDType dtype, CUstream_st* stream) const;
  int device() const { return device_; }

 private:
  CommGuard<ncclComm*, NcclEnds> comm_;  // made first: it counts the exceptions unwinding at construction
  int device_ = 0;
};

}  // namespace toolgrpo::parallel
