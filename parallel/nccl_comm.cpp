// NcclComm: RAII NCCL communicator; see nccl_comm.hpp.
#include "parallel/nccl_comm.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "parallel/check.hpp"

namespace toolgrpo::parallel {

namespace detail {
void nccl_fail(int code, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string("NCCL call failed: ") + call + " at " + file + ":" +
                           std::to_string(line) + ": " + ncclGetErrorString(static_cast<ncclResult_t>(code)) +
                           " (set NCCL_DEBUG=INFO for details)");
}
void cuda_fail(int code, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA call failed: ") + call + " at " + file + ":" +
                           std::to_string(line) + ": " + cudaGetErrorString(static_cast<cudaError_t>(code)));
}
}  // namespace detail

namespace {
ncclDataType_t nccl_type(DeviceDType t) {
  switch (t) {
    case DeviceDType::F32:
      return ncclFloat32;
    case DeviceDType::BF16:
      return ncclBfloat16;
    case DeviceDType::F16:
      return ncclFloat16;
    case DeviceDType::U8:
      return ncclUint8;
  }
  return ncclFloat32;
}
}  // namespace

void NcclEnds::destroy(ncclComm* c) noexcept { ncclCommDestroy(c); }

void NcclEnds::abort(ncclComm* c) noexcept {
  int rank = -1;
  ncclCommUserRank(c, &rank);
  std::fprintf(stderr, "toolgrpo: NCCL rank %d: aborting the communicator (an error is unwinding)\n", rank);
  ncclCommAbort(c);
}

NcclComm::NcclComm(const Comm& comm, int device) : device_(device) {
  TOOLGRPO_CUDA_CHECK(cudaSetDevice(device));
  ncclUniqueId id;
  if (comm.rank() == 0) TOOLGRPO_NCCL_CHECK(ncclGetUniqueId(&id));
  comm.broadcast(&id, sizeof id, 0);
  ncclComm_t c = nullptr;
  TOOLGRPO_NCCL_CHECK(ncclCommInitRank(&c, comm.size(), id, comm.rank()));
  comm_.adopt(c);
}

void NcclComm::allreduce_sum(void* data, std::size_t count, DeviceDType dtype, CUstream_st* stream) const {
  TOOLGRPO_NCCL_CHECK(ncclAllReduce(data, data, count, nccl_type(dtype), ncclSum, comm_.get(), stream));
}

void NcclComm::broadcast(void* data, std::size_t count, DeviceDType dtype, int root,
                         CUstream_st* stream) const {
  TOOLGRPO_NCCL_CHECK(ncclBroadcast(data, data, count, nccl_type(dtype), root, comm_.get(), stream));
}

void NcclComm::reduce_scatter_sum(const void* in, void* out, std::size_t block, DeviceDType dtype,
                                  CUstream_st* stream) const {
  TOOLGRPO_NCCL_CHECK(ncclReduceScatter(in, out, block, nccl_type(dtype), ncclSum, comm_.get(), stream));
}

void NcclComm::allgather(const void* in, void* out, std::size_t block, DeviceDType dtype,
                         CUstream_st* stream) const {
  TOOLGRPO_NCCL_CHECK(ncclAllGather(in, out, block, nccl_type(dtype), comm_.get(), stream));
}

}  // namespace toolgrpo::parallel
