// What libtorch this build runs on: version and whether CUDA devices are usable.
#pragma once

#include <string>

namespace toolgrpo::model {

std::string torch_version();
bool cuda_available();
int cuda_device_count();

// CPU threads of this process (ranks sharing a node each get their share of its cores). Matrix products, most
// of the time, run on OpenBLAS's own pool of n threads (at::set_num_threads leaves it alone). ATen's OpenMP pool
// gets n threads only when OMP_WAIT_POLICY=passive: otherwise its threads spin after each parallel loop and take
// the cores OpenBLAS's threads need (training was 25% slower on 2 cores), so it is kept at one thread.
void cpu_threads_set(int n);
// The n of the last cpu_threads_set (0 before any call).
int cpu_threads();

// Lets glibc keep freed large blocks instead of returning them to the OS: a training step frees and reallocates
// the same activation buffers each micro-batch, and page-faulting them back cost 5-10% of a step on CPU.
void cpu_allocator_keep_memory();

}  // namespace toolgrpo::model
