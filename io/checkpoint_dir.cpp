// The checkpoint directory of a run: ckpt-<step>.h5 names, listing them newest first, the durable "latest"
// pointer file, and pruning old checkpoints and stale .tmp files; see checkpoint_file.hpp.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint_file.hpp"
#include "io/durable_file.hpp"

namespace toolgrpo::io {
using namespace detail;  // Fd, TOOLGRPO_SYS_CHECK and the durable-file helpers
namespace {

namespace fs = std::filesystem;

// ----------------------------------------------------------------------------------------------------------
// Checkpoint directory names.

constexpr const char* kLatest = "latest";

// The step of a "ckpt-<8 or more digits>.h5" name, or -1.
int64_t step_of(const std::string& name) {
  const std::string pre = "ckpt-", post = ".h5";
  if (name.size() < pre.size() + 8 + post.size() || name.compare(0, pre.size(), pre) != 0 ||
      name.compare(name.size() - post.size(), post.size(), post) != 0)
    return -1;
  const std::string digits = name.substr(pre.size(), name.size() - pre.size() - post.size());
  if (digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(digits);
}

bool is_stale_tmp(const std::string& name) {
  const std::string suffix = ".tmp";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string base = name.substr(0, name.size() - suffix.size());
  return base == kLatest || step_of(base) >= 0;
}

}  // namespace

// ----------------------------------------------------------------------------------------------------------

std::string checkpoint_file_name(int64_t step) {
  if (step < 0) throw std::invalid_argument("checkpoint_file_name: negative step " + std::to_string(step));
  char buf[40];
  std::snprintf(buf, sizeof buf, "ckpt-%08lld.h5", static_cast<long long>(step));
  return buf;
}

std::vector<std::string> checkpoint_list(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  std::vector<std::pair<int64_t, std::string>> found;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const int64_t step = step_of(name);
    if (step >= 0 && e.is_regular_file(ec)) found.emplace_back(step, name);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a > b; });
  std::vector<std::string> out;
  for (const auto& [step, name] : found) out.push_back((fs::path(dir) / name).string());
  return out;
}

void checkpoint_latest_set(const std::string& dir, const std::string& file_name) {
  const std::string target = (fs::path(dir) / kLatest).string();
  const std::string tmp = target + ".tmp";
  if (file_name.empty() || file_name.find_first_of("/\n\r") != std::string::npos || file_name == "." ||
      file_name == "..")
    throw CheckpointWriteError(target + ": '" + file_name + "' is not a file name");
  try {
    const std::string text = file_name + "\n";
    Fd fd(TOOLGRPO_SYS_CHECK(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644),
                             "create " + tmp));
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n =
          TOOLGRPO_SYS_CHECK(::write(fd.get(), text.data() + done, text.size() - done), "write " + tmp);
      done += static_cast<std::size_t>(n);
    }
    TOOLGRPO_SYS_CHECK(::fsync(fd.get()), "fsync " + tmp);
    TOOLGRPO_SYS_CHECK(fd.close(), "close " + tmp);
    rename_file(tmp, target);
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw CheckpointWriteError(target + ": cannot point it at " + file_name + ": " + e.what());
  }
  try {
    fsync_dir(dir);
  } catch (const std::exception& e) {
    throw CheckpointWriteError(target + ": written, but its directory could not be synced: " + e.what());
  }
}

std::string checkpoint_latest(const std::string& dir) {
  const fs::path p = fs::path(dir) / kLatest;
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(p, ec)) return "";
    throw CheckpointError(p.string() + ": cannot read it");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string name = ss.str();
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) name.pop_back();
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos || name.find('\n') != std::string::npos)
    throw CheckpointError(p.string() + ": holds '" + name + "', not a checkpoint file name");
  return (fs::path(dir) / name).string();
}

void checkpoint_prune(const std::string& dir, int64_t keep) {
  if (keep < 1)
    throw std::invalid_argument("checkpoint_prune: keep must be at least 1, got " + std::to_string(keep));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  const std::string latest = checkpoint_latest(dir);
  const std::string latest_name = latest.empty() ? "" : fs::path(latest).filename().string();
  std::vector<std::string> doomed;
  const std::vector<std::string> all = checkpoint_list(dir);
  for (std::size_t i = static_cast<std::size_t>(keep); i < all.size(); ++i)
    if (fs::path(all[i]).filename().string() != latest_name) doomed.push_back(all[i]);
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (is_stale_tmp(e.path().filename().string())) doomed.push_back(e.path().string());
  for (const std::string& f : doomed) {
    fs::remove(f, ec);
    if (ec) throw CheckpointWriteError(f + ": cannot remove it while pruning " + dir + ": " + ec.message());
  }
}

}  // namespace toolgrpo::io
