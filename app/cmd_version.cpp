// toolgrpo version: versions of toolgrpo and the libraries it runs on.
#include <Kokkos_Core.hpp>
#include <cstdio>

#include "app/cli_args.hpp"
#include "app/commands.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {

int cmd_version(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "version", "version",
      "Prints the versions of toolgrpo, libtorch (and the CUDA devices it sees), the MPI world size and the "
      "Kokkos host execution space with its concurrency.",
      {},
      {},
      ""};
  (void)CliArgs(args, spec);  // --help, or a UsageError for any argument
  if (rt.rank() != 0) return 0;
  std::printf("toolgrpo %s\n", TOOLGRPO_VERSION);
  std::printf("libtorch %s (CUDA devices: %d)\n", model::torch_version().c_str(), model::cuda_device_count());
  std::printf("MPI world size %d\n", rt.size());
  std::printf("Kokkos host execution space %s, concurrency %d\n", Kokkos::DefaultHostExecutionSpace::name(),
              Kokkos::DefaultHostExecutionSpace().concurrency());
  return 0;
}

}  // namespace toolgrpo::app
