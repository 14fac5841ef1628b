// libtorch version and CUDA availability through narrow ATen headers (no <torch/torch.h>), and the process-wide
// CPU settings of a training rank: thread pools and allocator.
#include "model/torch_info.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/Device.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/version.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace toolgrpo::model {

std::string torch_version() { return TORCH_VERSION; }

bool cuda_available() { return at::hasCUDA() && at::getNumGPUs() > 0; }

int cuda_device_count() { return at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0; }

void cuda_allow_tf32(bool allow) {
  at::globalContext().setAllowTF32CuBLAS(allow);
  at::globalContext().setAllowTF32CuDNN(allow);
}

void cuda_set_device(int index) {
  c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)
      ->setDevice(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index)));
}

// Looked up weakly so that other BLAS libraries (or none) work unchanged.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" char* openblas_get_config() __attribute__((weak));
extern "C" char* openblas_get_corename() __attribute__((weak));
extern "C" int openblas_get_num_threads() __attribute__((weak));

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

namespace {

// The "flags" and "vendor_id" lines of the first processor in /proc/cpuinfo.
std::string cpuinfo_field(const char* key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) {
      const std::size_t colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 1) + " ";
    }
  return "";
}

bool has_flag(const std::string& flags, const char* f) {
  return (" " + flags + " ").find(std::string(" ") + f + " ") != std::string::npos;
}

// OpenBLAS's fallback kernels for x86-64 CPUs it does not recognise.
bool generic_core(const std::string& core) {
  for (const char* g : {"Prescott", "Core2", "Katmai", "Coppermine", "Northwood", "Penryn", "Dunnington", "Atom",
                        "Nehalem", "Athlon", "Opteron", "Barcelona", "Generic"})
    if (core == g) return true;
  return false;
}

}  // namespace

std::string blas_coretype_for_cpu() { return blas_coretype_for(cpuinfo_field("flags"), cpuinfo_field("vendor_id")); }

std::string blas_coretype_for(const std::string& flags, const std::string& vendor) {
  const bool amd = vendor.find("AMD") != std::string::npos;
  if (has_flag(flags, "avx512f") && has_flag(flags, "avx512bw") && has_flag(flags, "avx512vl"))
    return amd ? "Zen" : "SkylakeX";  // OpenBLAS 0.3.21 has no AVX-512 kernels for Zen 4
  if (has_flag(flags, "avx2") && has_flag(flags, "fma")) return amd ? "Zen" : "Haswell";
  return "";
}

std::string blas_description() {
  if (!openblas_get_config) return "BLAS: not OpenBLAS (core and threads unknown)";
  std::string s = std::string("BLAS: ") + openblas_get_config();
  if (openblas_get_corename) s += std::string(", core ") + openblas_get_corename();
  if (openblas_get_num_threads) s += ", " + std::to_string(openblas_get_num_threads()) + " threads";
  return s;
}

std::string blas_warning() {
  if (!openblas_get_corename) return "";
  return blas_warning_for(openblas_get_corename(), cpuinfo_field("flags"), cpuinfo_field("vendor_id"));
}

std::string blas_warning_for(const std::string& core, const std::string& flags, const std::string& vendor) {
  const std::string fit = blas_coretype_for(flags, vendor);
  if (!generic_core(core) || fit.empty()) return "";
  return "warning: OpenBLAS runs its generic " + core + " kernels on this CPU, which has " +
         (fit == "SkylakeX" ? "AVX-512" : "AVX2") + ": fp32 matrix products run several times slower (about 9x "
         "measured on a recent Xeon). Set OPENBLAS_CORETYPE=" + fit + " (or TOOLGRPO_BLAS_CORETYPE=auto for the "
         "job scripts), or install an OpenBLAS that knows this CPU.";
}

void cpu_allocator_keep_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);  // blocks below 1 GiB come from the heap ...
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // ... and up to 1 GiB of free heap stays mapped
}

}  // namespace toolgrpo::model
