// The parts of the toolgrpo executable that differ from toolgrpo-torch: it links no libtorch, so its start-up
// costs milliseconds instead of a second. The commands it cannot run (they load a model, or report what
// libtorch sees) are handed over to toolgrpo-torch, next to it, by exec before MPI starts: under mpirun every
// rank becomes that process with the same arguments and environment.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli/commands.hpp"
#include "app/report/eval_outputs.hpp"

namespace toolgrpo::app {

std::vector<EvalOutput> eval_outputs_generate(parallel::Runtime&, const CliArgs&, const io::Dataset&) {
  // main hands every `eval --model` to toolgrpo-torch before a command runs, so this is never reached.
  throw std::logic_error("eval --model runs in toolgrpo-torch, not in toolgrpo");
}

int hand_over_unless_light(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--kokkos-", 9) != 0) args.emplace_back(argv[i]);
  if (!command_needs_torch(args)) return -1;
  std::string self(4096, '\0');
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::string target = "toolgrpo-torch";
  if (n > 0) {
    self.resize(static_cast<std::size_t>(n));
    target = self.substr(0, self.rfind('/') + 1) + target;
  }
  argv[0] = target.data();
  execv(target.c_str(), argv);
  std::fprintf(stderr, "toolgrpo: cannot start %s, which runs the commands that load libtorch: %s\n",
               target.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace toolgrpo::app
