// NcclComm on real GPUs (built with TOOLGRPO_ENABLE_CUDA): all-reduce and broadcast of device buffers whose
// results follow from the rank numbers, and the bucketed weight broadcast on CUDA tensors (the NCCL transport
// of WeightBroadcaster) against the root's values. Skipped on every rank together when this node has fewer GPUs
// than ranks (NCCL needs one device per rank), so it passes on machines without a GPU.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

#include "parallel/nccl_comm.hpp"
#include "parallel/tensor_collectives.hpp"
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

// fp32 and bf16 tensors of odd sizes whose values differ on every rank, one larger than the 64-byte buckets.
std::vector<at::Tensor> device_weights(int salt, const at::Device& device) {
  const auto vals = [&](int64_t n, at::ScalarType dtype) {
    return at::arange(n, at::kDouble).mul(0.37 * (salt + 1)).add(0.11 * salt).sin().to(dtype).to(device);
  };
  return {vals(91, at::kFloat), vals(33, at::kBFloat16), vals(1000, at::kFloat), vals(15, at::kBFloat16).view({5, 3}).t(),
          vals(257, at::kBFloat16)};
}

bool same_bits_as(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    const at::Tensor a = got[i].cpu().contiguous().view({-1}).view(at::kByte);
    const at::Tensor b = want[i].cpu().contiguous().view({-1}).view(at::kByte);
    if (!a.equal(b)) return false;
  }
  return true;
}

TEST(NcclComm, BucketedWeightBroadcastOnDevice) {
  auto& rt = testing::mpi_runtime();
  const int devices = usable_devices();
  const bool enough = devices > 0 && rt.local_size() <= devices;
  if (rt.world().allreduce_min(enough ? 1.0 : 0.0) < 1.0) GTEST_SKIP() << "needs one CUDA device per rank";
  const at::Device device(at::kCUDA, static_cast<at::DeviceIndex>(rt.local_rank()));
  const int r = rt.rank();

  WeightBroadcaster sync(rt.world(), 0, 64);
  sync.start(device);
  EXPECT_EQ(sync.transport(), WeightTransport::DeviceNccl);
  const std::vector<at::Tensor> mine = device_weights(r, device), before = device_weights(r, device);
  sync.broadcast(mine);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(same_bits_as(mine, device_weights(0, at::kCPU)));
  EXPECT_TRUE(mine[0].is_cuda());
  if (r != 0) {
    EXPECT_FALSE(same_bits_as(mine, before));
  }

  // The shared part through an NcclComm directly (at one rank too): device buckets packed, sent in place and
  // unpacked on the stream NCCL uses, the root's values left as they were.
  NcclComm nccl(rt.world(), device.index());
  const std::vector<at::Tensor> again = device_weights(r, device);
  broadcast_bucketed(again, r == 0, 64, device, [&](const at::Tensor& b) {
    EXPECT_TRUE(b.is_cuda());
    nccl.broadcast(b.data_ptr(), b.nbytes(), DeviceDType::U8, 0, nullptr);
  });
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(same_bits_as(again, device_weights(0, at::kCPU)));
}

}  // namespace
}  // namespace toolgrpo::parallel
