// NcclComm on real GPUs (built with TOOLGRPO_ENABLE_CUDA): all-reduce and broadcast of device buffers whose
// results follow from the rank numbers. Skipped on every rank together when this node has fewer GPUs than
// ranks (NCCL needs one device per rank), so it passes on machines without a GPU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

#include "parallel/nccl_comm.hpp"
#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::parallel {
namespace {

int usable_devices() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver/device" error
    return 0;
  }
  return n;
}

TEST(NcclComm, AllreduceAndBroadcastOnDevice) {
  auto& rt = testing::mpi_runtime();
  const int devices = usable_devices();
  const bool enough = devices > 0 && rt.local_size() <= devices;
  if (rt.world().allreduce_min(enough ? 1.0 : 0.0) < 1.0) GTEST_SKIP() << "needs one CUDA device per rank";

  NcclComm nccl(rt.world(), rt.local_rank());
  const int n = rt.size(), r = rt.rank();
  constexpr std::size_t kCount = 4096;
  void* dev = nullptr;
  ASSERT_EQ(cudaMalloc(&dev, kCount * sizeof(float)), cudaSuccess);

  std::vector<float> host(kCount, static_cast<float>(r + 1));
  ASSERT_EQ(cudaMemcpy(dev, host.data(), kCount * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  nccl.allreduce_sum(dev, kCount, DeviceDType::F32, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(host.data(), dev, kCount * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(host.front(), n * (n + 1) / 2.0f);
  EXPECT_EQ(host.back(), n * (n + 1) / 2.0f);

  std::vector<float> mine(kCount, r == 0 ? 42.0f : -1.0f);
  ASSERT_EQ(cudaMemcpy(dev, mine.data(), kCount * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  nccl.broadcast(dev, kCount, DeviceDType::F32, 0, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(mine.data(), dev, kCount * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(mine[kCount / 2], 42.0f);
  cudaFree(dev);
}

}  // namespace
}  // namespace toolgrpo::parallel
