// Checks of C-API return codes at the call site: a failure throws std::runtime_error naming the call, its
// file:line and the library's own message. Used inside parallel/ only (the one place that talks to MPI/NCCL).
#pragma once

namespace toolgrpo::parallel::detail {
[[noreturn]] void mpi_fail(int code, const char* call, const char* file, int line);
#ifdef TOOLGRPO_HAVE_NCCL
[[noreturn]] void nccl_fail(int code, const char* call, const char* file, int line);
[[noreturn]] void cuda_fail(int code, const char* call, const char* file, int line);
#endif
}  // namespace toolgrpo::parallel::detail

#define TOOLGRPO_MPI_CHECK(call)                                                                            \
  do {                                                                                                      \
    const int toolgrpo_rc_ = (call);                                                                        \
    if (toolgrpo_rc_ != 0) ::toolgrpo::parallel::detail::mpi_fail(toolgrpo_rc_, #call, __FILE__, __LINE__); \
  } while (0)

#ifdef TOOLGRPO_HAVE_NCCL
#define TOOLGRPO_NCCL_CHECK(call)                                                                            \
  do {                                                                                                       \
    const int toolgrpo_rc_ = static_cast<int>(call);                                                         \
    if (toolgrpo_rc_ != 0) ::toolgrpo::parallel::detail::nccl_fail(toolgrpo_rc_, #call, __FILE__, __LINE__); \
  } while (0)

#define TOOLGRPO_CUDA_CHECK(call)                                                                            \
  do {                                                                                                       \
    const int toolgrpo_rc_ = static_cast<int>(call);                                                         \
    if (toolgrpo_rc_ != 0) ::toolgrpo::parallel::detail::cuda_fail(toolgrpo_rc_, #call, __FILE__, __LINE__); \
  } while (0)
#endif
