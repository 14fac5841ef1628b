// toolgrpo version: versions of toolgrpo and the libraries it runs on.
#include <cstdio>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {

int cmd_version(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "version",
      "version [--blas-coretype]",
      "Prints the versions of toolgrpo, libtorch (and the CUDA devices it sees), the BLAS library with its "
      "core "
      "and threads (and a warning when OpenBLAS runs generic kernels on a CPU with AVX2 or AVX-512), the MPI "
      "world size and Kokkos (version, host execution space and its threads).",
      {{"--blas-coretype", "",
        "print only the OPENBLAS_CORETYPE this CPU should get (an empty line when OpenBLAS "
        "already runs kernels for it, or none fits): what TOOLGRPO_BLAS_CORETYPE=auto uses"}},
      {},
      ""};
  const CliArgs cli(args, spec);  // --help, or a UsageError for any other argument
  if (rt.rank() != 0) return 0;
  if (cli.has("--blas-coretype")) {
    std::printf("%s\n", model::blas_warning().empty() ? "" : model::blas_coretype_for_cpu().c_str());
    return 0;
  }
  std::printf("toolgrpo %s\n", TOOLGRPO_VERSION);
  std::printf("libtorch %s (CUDA devices: %d)\n", model::torch_version().c_str(), model::cuda_device_count());
  std::printf("%s\n", model::blas_description().c_str());
  if (const std::string w = model::blas_warning(); !w.empty()) std::printf("%s\n", w.c_str());
  std::printf("MPI world size %d\n", rt.size());
  std::printf("%s\n", parallel::Runtime::kokkos_description().c_str());
  return 0;
}

}  // namespace toolgrpo::app
