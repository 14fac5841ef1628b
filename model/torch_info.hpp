// What libtorch this build runs on: version and whether CUDA devices are usable.
#pragma once

#include <string>

namespace toolgrpo::model {

std::string torch_version();
bool cuda_available();
int cuda_device_count();

}  // namespace toolgrpo::model
