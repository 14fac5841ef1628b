// What libtorch this build runs on: version and whether CUDA devices are usable.
#pragma once

#include <string>

namespace toolgrpo::model {

std::string torch_version();
bool cuda_available();
int cuda_device_count();
// Makes GPU `index` this thread's current CUDA device (before anything allocates on a GPU, so that a rank's
// CUDA context is made on its own GPU, not on GPU 0). Throws on a build without CUDA.
void cuda_set_device(int index);
// Whether fp32 matrix products and convolutions on CUDA may use TF32 (10-bit mantissa inputs, fp32 sums).
void cuda_allow_tf32(bool allow);

// CPU threads of this process (ranks sharing a node each get their share of its cores). Matrix products, most
// of the time, run on OpenBLAS's own pool of n threads (at::set_num_threads leaves it alone). ATen's OpenMP pool
// gets n threads only when OMP_WAIT_POLICY=passive: otherwise its threads spin after each parallel loop and take
// the cores OpenBLAS's threads need (training was 25% slower on 2 cores), so it is kept at one thread.
void cpu_threads_set(int n);
// The n of the last cpu_threads_set (0 before any call).
int cpu_threads();

// The BLAS the matrix products run on: "OpenBLAS 0.3.21 ..., core Zen, 2 threads" (OpenBLAS, found at run
// time), or a note that the library is not OpenBLAS.
std::string blas_description();
// Empty, or a warning when OpenBLAS runs its generic kernels on a CPU whose flags (/proc/cpuinfo) show AVX2 or
// AVX-512: on such CPUs that was about 9x slower for fp32 matrix products, and OPENBLAS_CORETYPE (named in the
// warning, chosen from the flags) or a newer OpenBLAS that knows the CPU fixes it.
std::string blas_warning();
// The OPENBLAS_CORETYPE value for this CPU's vector flags ("SkylakeX", "Haswell", "Zen"), or "" when none fits.
std::string blas_coretype_for_cpu();
// The same from a /proc/cpuinfo "flags" value (space separated) and "vendor_id", and the warning for a core name.
std::string blas_coretype_for(const std::string& flags, const std::string& vendor);
std::string blas_warning_for(const std::string& core, const std::string& flags, const std::string& vendor);

// Lets glibc keep freed large blocks instead of returning them to the OS: a training step frees and reallocates
// the same activation buffers each micro-batch, and page-faulting them back cost 5-10% of a step on CPU.
void cpu_allocator_keep_memory();

}  // namespace toolgrpo::model
