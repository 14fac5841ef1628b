// Running the toolgrpo executable from a test as a user would (directly or under mpirun) and reading what it
// left behind. TOOLGRPO_BIN, TOOLGRPO_MPIEXEC and TOOLGRPO_DEFAULT_SHARED_DATA come from CMake.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace toolgrpo::testing {

namespace fs = std::filesystem;

struct RunResult {
  int code = -1;
  std::string out;
};

inline RunResult run_command(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline RunResult run(const std::string& args) { return run_command(std::string(TOOLGRPO_BIN) + " " + args); }

inline std::string shared() {
  const char* env = std::getenv("TOOLGRPO_SHARED_DATA");
  return env ? env : TOOLGRPO_DEFAULT_SHARED_DATA;
}

inline fs::path scratch() {
  const fs::path d = fs::temp_directory_path() / ("toolgrpo_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

inline std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

inline RunResult mpirun(int np, const std::string& env, const std::string& args) {
  return run_command(env + " " + std::string(TOOLGRPO_MPIEXEC) + " -np " + std::to_string(np) + " --oversubscribe " +
                     TOOLGRPO_BIN + " " + args);
}

}  // namespace toolgrpo::testing
