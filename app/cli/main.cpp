// toolgrpo: the table of contents. Start MPI and Kokkos, run one subcommand, and decide how errors end the
// job: bad input (UsageError, or common::InputError for a file from outside: a damaged checkpoint, model file,
// tokenizer or dataset) exits 2, anything else (a failed write, a library's error) 1; with several ranks the whole
// job is aborted, never one rank alone. No library's own detail reaches the user unless asked for: "toolgrpo
// --verbose COMMAND ..." (or TOOLGRPO_VERBOSE=1) adds libtorch's C++ backtrace and HDF5's error stack.
// "COMMAND --help" (or "help COMMAND") prints the command's help on rank 0 and exits 0. Built twice: toolgrpo
// (TOOLGRPO_LIGHT: no libtorch; hands the model commands over to toolgrpo-torch) and toolgrpo-torch (all).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#ifndef TOOLGRPO_LIGHT
#include <c10/util/Exception.h>
#endif

#include "app/cli/commands.hpp"
#include "common/input_error.hpp"
#include "parallel/runtime.hpp"

using namespace toolgrpo;

namespace {

int finish(parallel::Runtime& rt, int code, const std::string& what, const char* kind) {
  std::fprintf(stderr, "toolgrpo: %s%s\n", kind, what.c_str());
  if (rt.size() > 1) rt.abort(code);
  return code;
}

// A message without the C++ backtrace libtorch appends to its errors ("Exception raised from ... frame #0: ..."),
// also where another exception's message took in a libtorch error's text; whole with --verbose.
std::string without_backtrace(const char* what) {
  std::string s = what;
  if (common::verbose_errors()) return s;
  const std::size_t at = s.find("Exception raised from ");
  if (at == std::string::npos) return s;
  s.erase(at);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Takes the global options before the command name out of argv (in place; argc shrinks): --verbose sets
// TOOLGRPO_VERBOSE=1, which the libraries' error paths read and toolgrpo-torch inherits when toolgrpo hands a
// command over.
void take_global_options(int& argc, char** argv) {
  int first = 1;
  while (first < argc && std::strcmp(argv[first], "--verbose") == 0) {
    setenv("TOOLGRPO_VERBOSE", "1", 1);
    ++first;
  }
  if (first == 1) return;
  const int taken = first - 1;
  for (int i = first; i <= argc; ++i) argv[i - taken] = argv[i];  // argv[argc] is the null pointer
  argc -= taken;
}

}  // namespace

int main(int argc, char** argv) {
  take_global_options(argc, argv);
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
    return finish(rt, 2, without_backtrace(e.what()), "");
  } catch (const common::InputError& e) {  // a file from outside that is not what it should be: bad input too
    return finish(rt, 2, without_backtrace(e.what()), "error: ");
#ifndef TOOLGRPO_LIGHT
  } catch (const c10::Error& e) {  // libtorch's own check: its message, without the C++ backtrace
    return finish(rt, 1, common::verbose_errors() ? e.what() : e.what_without_backtrace(), "error: ");
#endif
  } catch (const std::exception& e) {
    return finish(rt, 1, without_backtrace(e.what()), "error: ");
  }
}
