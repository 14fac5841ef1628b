// toolgrpo ckpt info FILE [--verify] [--brief]: what an HDF5 checkpoint holds — every /meta item (one-line items
// first, then long texts such as the resolved config YAML and config.json indented under their key; a megabyte
// tokenizer.json, and with --brief every long text, only by its size) and a table of its tensors with totals; with
// --verify every tensor is read and its checksum checked. A damaged or foreign file is bad input (exit code 2).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "app/cli/cli_args.hpp"
#include "app/cli/commands.hpp"
#include "common/checked_size.hpp"
#include "io/checkpoint_file.hpp"

namespace toolgrpo::app {
namespace {

// Texts longer than this are summarised by their size instead of printed.
constexpr std::size_t kMaxShownBytes = 64 * 1024;

// The shortest %g form that reads back to the same double.
std::string double_text(double x) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}

bool is_text_block(const io::MetaItem& m) {
  const auto* s = std::get_if<std::string>(&m.value);
  return s && (s->find('\n') != std::string::npos || s->size() > 80);
}

void print_meta(const io::MetaItem& m, bool brief) {
  if (brief && is_text_block(m)) {
    const std::string& s = std::get<std::string>(m.value);
    const auto lines = std::count(s.begin(), s.end(), '\n') + (s.empty() || s.back() == '\n' ? 0 : 1);
    std::printf("  %s: (%zu bytes, %lld lines; without --brief it is printed)\n", m.key.c_str(), s.size(),
                static_cast<long long>(lines));
    return;
  }
  if (const auto* i = std::get_if<int64_t>(&m.value)) {
    std::printf("  %s: %lld\n", m.key.c_str(), static_cast<long long>(*i));
  } else if (const auto* d = std::get_if<double>(&m.value)) {
    std::printf("  %s: %s\n", m.key.c_str(), double_text(*d).c_str());
  } else {
    const std::string& s = std::get<std::string>(m.value);
    if (s.find('\n') == std::string::npos && s.size() <= 80) {
      std::printf("  %s: %s\n", m.key.c_str(), s.empty() ? "\"\"" : s.c_str());
      return;
    }
    if (s.size() > kMaxShownBytes) {  // a tokenizer.json of a real vocabulary: megabytes
      std::printf("  %s: (%zu bytes of text, not shown)\n", m.key.c_str(), s.size());
      return;
    }
    std::printf("  %s: |\n", m.key.c_str());
    std::size_t start = 0;
    while (start < s.size()) {
      std::size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      std::printf("    %s\n", s.substr(start, end - start).c_str());
      start = end + 1;
    }
  }
}

void print_info(const io::CheckpointReader& r, bool verify, bool brief) {
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(r.path(), ec);
  std::printf("checkpoint %s (%llu bytes)\n\nmeta:\n", r.path().c_str(),
              ec ? 0ull : static_cast<unsigned long long>(file_bytes));
  std::printf("  format_version: %lld\n  checksum: %u (CRC-32C over the metadata and the tensors' checksums; it matches)\n",
              static_cast<long long>(r.format_version()), static_cast<unsigned>(r.meta_checksum()));
  for (const auto& m : r.meta())  // one-line items first, then the texts
    if (!is_text_block(m)) print_meta(m, brief);
  for (const auto& m : r.meta())
    if (is_text_block(m)) print_meta(m, brief);

  std::size_t path_w = 4, shape_w = 5;
  for (const auto& t : r.tensors()) {
    path_w = std::max(path_w, t.path.size());
    shape_w = std::max(shape_w, io::shape_text(t.shape).size());
  }
  const int pw = static_cast<int>(path_w), sw = static_cast<int>(shape_w);
  std::printf("\ntensors:\n  %-*s  %-5s  %-*s  %10s\n", pw, "path", "dtype", sw, "shape", "MB");
  uint64_t total = 0;
  for (const auto& t : r.tensors()) {
    std::printf("  %-*s  %-5s  %-*s  %10.3f\n", pw, t.path.c_str(), io::elem_name(t.type), sw,
                io::shape_text(t.shape).c_str(), static_cast<double>(t.bytes) / 1e6);
    // Each tensor lies within the file (the reader checks), but a crafted file may give many tensors one block.
    total = common::checked_add(total, t.bytes).value_or(UINT64_MAX);
  }
  std::printf("  total: %zu tensors, %llu bytes (%.3f MB)\n", r.tensors().size(),
              static_cast<unsigned long long>(total), static_cast<double>(total) / 1e6);
  if (!verify) return;
  std::vector<unsigned char> buf;
  for (const auto& t : r.tensors()) {
    buf.resize(std::max<std::size_t>(1, static_cast<std::size_t>(t.bytes)));
    r.read(t.path, buf.data());
  }
  std::printf("\nall %zu tensors verified\n", r.tensors().size());
}

}  // namespace

int cmd_ckpt(parallel::Runtime& rt, const std::vector<std::string>& args) {
  static const CommandSpec spec = {
      "ckpt",
      "ckpt info FILE [--verify] [--brief]",
      "Inspects an HDF5 checkpoint of a run: 'info' prints the file, every /meta item (format version, step, "
      "data cursor, seed, the resolved configuration and config.json, world sizes at save) and a table of its "
      "tensors (path, dtype, shape, MB) with their count and total bytes. The file must be a complete toolgrpo "
      "checkpoint whose metadata checksum matches; a damaged, incomplete or foreign file is reported with exit "
      "code 2.",
      {{"--verify", "", "also read every tensor and check its CRC-32C checksum"},
       {"--brief", "", "long texts (the YAML, config.json, tokenizer.json) by their size instead of in full"}},
      {{"info", "", "the sub-command: print what the checkpoint holds"},
       {"FILE", "", "the checkpoint, e.g. runs/NAME/checkpoints/ckpt-00000040.h5"}},
      ""};
  const CliArgs cli(args, spec);
  const auto& pos = cli.positional();
  if (pos.empty() || pos[0] != "info")
    throw UsageError("ckpt: expected the sub-command 'info' (toolgrpo ckpt info FILE [--verify] [--brief]), got " +
                     (pos.empty() ? std::string("nothing") : "'" + pos[0] + "'"));
  if (pos.size() != 2)
    throw UsageError("ckpt info: expected one checkpoint FILE, got " + std::to_string(pos.size() - 1) + " arguments");
  const std::string& file = pos[1];
  if (!std::filesystem::is_regular_file(file)) throw UsageError("ckpt info: " + file + " is not a file");
  if (rt.rank() != 0) return 0;
  try {
    const io::CheckpointReader reader(file);
    print_info(reader, cli.has("--verify"), cli.has("--brief"));
  } catch (const io::CheckpointError&) {
    std::fflush(stdout);  // what was printed before the damage was found comes first
    throw;  // bad input: "toolgrpo: error: FILE: ...", exit code 2
  }
  return 0;
}

}  // namespace toolgrpo::app
