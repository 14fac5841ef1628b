// Builds without CUDA/NCCL still need the failure reporters that check.hpp declares.
#include <stdexcept>
#include <string>

#include "parallel/check.hpp"

namespace toolgrpo::parallel::detail {
void nccl_fail(int code, const char* call, const char*, int) {
  throw std::runtime_error(std::string("NCCL call ") + call + " failed (" + std::to_string(code) +
                           ") in a build without NCCL");
}
void cuda_fail(int code, const char* call, const char*, int) {
  throw std::runtime_error(std::string("CUDA call ") + call + " failed (" + std::to_string(code) +
                           ") in a build without CUDA");
}
}  // namespace toolgrpo::parallel::detail
