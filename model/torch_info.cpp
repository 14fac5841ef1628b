// libtorch version and CUDA availability through narrow ATen headers (no <torch/torch.h>), and the process-wide
// CPU settings of a training rank: thread pools and allocator.
#include "model/torch_info.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/Device.h>
#include <torch/version.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace toolgrpo::model {

std::string torch_version() { return TORCH_VERSION; }

bool cuda_available() { return at::hasCUDA() && at::getNumGPUs() > 0; }

int cuda_device_count() { return at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0; }

// Looked up weakly so that other BLAS libraries (or none) work unchanged.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace {
int configured_threads = 0;  // process-wide like the thread pools it describes
}  // namespace

void cpu_threads_set(int n) {
  n = n > 0 ? n : 1;
  configured_threads = n;
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  const bool passive = wait != nullptr && (std::strcmp(wait, "passive") == 0 || std::strcmp(wait, "PASSIVE") == 0);
  at::set_num_threads(passive || !openblas_set_num_threads ? n : 1);
  if (openblas_set_num_threads) openblas_set_num_threads(n);
}

int cpu_threads() { return configured_threads; }

void cpu_allocator_keep_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);  // blocks below 1 GiB come from the heap ...
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // ... and up to 1 GiB of free heap stays mapped
}

}  // namespace toolgrpo::model
