// What libtorch this build runs on: version and whether CUDA devices are usable.
#pragma once

#include <string>

namespace toolgrpo::model {

std::string torch_version();
bool cuda_available();
int cuda_device_count();

// CPU threads of this process: ATen's intra-op pool and OpenBLAS's own pool (which at::set_num_threads leaves
// alone), so that ranks sharing a node do not oversubscribe its cores.
void cpu_threads_set(int n);

}  // namespace toolgrpo::model
