// toolgrpo: the table of contents. Start MPI and Kokkos, run one subcommand, and decide how errors end the
// job: bad input (UsageError, or common::InputError for a file from outside) exits 2, anything else 1; with several ranks the whole job is aborted, never one rank alone.
// "COMMAND --help" (or "help COMMAND") prints the command's help on rank 0 and exits 0. Built twice: toolgrpo
// (TOOLGRPO_LIGHT: no libtorch; hands the model commands over to toolgrpo-torch) and toolgrpo-torch (all).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/cli/commands.hpp"
#include "common/input_error.hpp"
#include "parallel/runtime.hpp"

using namespace toolgrpo;

namespace {

int finish(parallel::Runtime& rt, int code, const char* what, const char* kind) {
  std::fprintf(stderr, "toolgrpo: %s%s\n", kind, what);
  if (rt.size() > 1) rt.abort(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef TOOLGRPO_LIGHT
  if (const int rc = app::hand_over_unless_light(argc, argv); rc >= 0) return rc;  // before MPI starts
  // Its commands never communicate: MPI only gives each rank its number under a launcher.
  parallel::Runtime rt(argc, argv, parallel::MpiStart::WhenLaunched);
#else
  parallel::Runtime rt(argc, argv);
#endif
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "help") args = {args[1], "--help"};
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    if (rt.rank() == 0) std::fputs(app::usage_text().c_str(), stdout);
    return args.empty() ? 2 : 0;
  }
  const app::Command* cmd = app::find_command(args[0]);
  try {
    if (cmd == nullptr) throw app::UsageError("unknown command '" + args[0] + "'\n" + app::usage_text());
    return cmd->run(rt, std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const app::HelpRequested& h) {
    if (rt.rank() == 0) std::fputs(h.text(), stdout);
    return 0;
  } catch (const app::UsageError& e) {
    return finish(rt, 2, e.what(), "");
  } catch (const common::InputError& e) {  // a file from outside that is not what it should be: bad input too
    return finish(rt, 2, e.what(), "error: ");
  } catch (const std::exception& e) {
    return finish(rt, 1, e.what(), "error: ");
  }
}
