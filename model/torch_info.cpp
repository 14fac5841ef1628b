// libtorch version and CUDA availability through narrow ATen headers (no <torch/torch.h>).
#include "model/torch_info.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/Device.h>
#include <torch/version.h>

namespace toolgrpo::model {

std::string torch_version() { return TORCH_VERSION; }

bool cuda_available() { return at::hasCUDA() && at::getNumGPUs() > 0; }

int cuda_device_count() { return at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0; }

// Looked up weakly so that other BLAS libraries (or none) work unchanged.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

void cpu_threads_set(int n) {
  n = n > 0 ? n : 1;
  at::set_num_threads(n);
  if (openblas_set_num_threads) openblas_set_num_threads(n);
}

}  // namespace toolgrpo::model
