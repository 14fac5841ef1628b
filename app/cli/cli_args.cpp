// Command-line option parsing for subcommands and their --help text; see cli_args.hpp.
#include "app/cli/cli_args.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace toolgrpo::app {
namespace {

constexpr std::size_t kWidth = 100;  // help text columns

// `text` split at spaces, except inside the bracket pairs of `groups` (e.g. "[(" keeps "[--out FILE]" whole).
std::vector<std::string> split_words(const std::string& text, const std::string& groups) {
  std::vector<std::string> words;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (groups.find(c) != std::string::npos) ++depth;
    if ((c == ']' && groups.find('[') != std::string::npos) || (c == ')' && groups.find('(') != std::string::npos))
      depth = std::max(0, depth - 1);
    if (c == ' ' && depth == 0) {
      if (!cur.empty()) words.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(cur);
  return words;
}

// Words of `text` joined into lines of at most `width` columns, continuation lines indented by `indent`. With
// keep_groups, "[...]" and "(...)" groups are not broken (a "(...)" group too long for a line is broken outside
// its "[...]" groups).
std::string wrap(const std::string& text, std::size_t width, std::size_t indent, bool keep_groups) {
  std::vector<std::string> words;
  for (const auto& w : split_words(text, keep_groups ? "[(" : "")) {
    if (w.size() + indent <= width || !keep_groups) {
      words.push_back(w);
      continue;
    }
    for (const auto& part : split_words(w, "[")) words.push_back(part);
  }
  std::string out, line;
  for (const auto& w : words) {
    if (!line.empty() && line.size() + 1 + w.size() > width) {
      out += line + "\n";
      line = std::string(indent, ' ');
    }
    if (!line.empty() && line.find_first_not_of(' ') != std::string::npos) line += ' ';
    line += w;
  }
  return out + line + "\n";
}

std::string entry(const OptionSpec& o) { return o.value.empty() ? o.name : o.name + " " + o.value; }

// "--data IN.jsonl, --out OUT.jsonl, --force" for error messages.
std::string options_list(const CommandSpec& spec) {
  std::string s;
  for (const auto& o : spec.options) s += (s.empty() ? "" : ", ") + entry(o);
  return s.empty() ? "none" : s;
}

}  // namespace

std::string help_text(const CommandSpec& spec) {
  std::string s = wrap("usage: toolgrpo " + spec.usage, kWidth, 16, true) + "\n";
  s += wrap(spec.description, kWidth, 0, false);
  std::size_t col = 12;
  for (const auto* list : {&spec.arguments, &spec.options})
    for (const auto& o : *list) col = std::max(col, entry(o).size());
  col = std::min<std::size_t>(col, 30) + 4;
  const auto section = [&](const char* title, std::vector<OptionSpec> items) {
    if (items.empty()) return;
    s += std::string("\n") + title + ":\n";
    for (const auto& o : items) {
      const std::string e = "  " + entry(o);
      s += e + (e.size() + 2 <= col ? std::string(col - e.size(), ' ') : "  ") + o.help + "\n";
    }
  };
  section("arguments", spec.arguments);
  std::vector<OptionSpec> options = spec.options;
  options.push_back({"-h, --help", "", "print this help and exit"});
  section("options", options);
  if (!spec.notes.empty()) s += "\n" + wrap(spec.notes, kWidth, 0, false);
  return s;
}

CliArgs::CliArgs(const std::vector<std::string>& args, const CommandSpec& spec) : command_(spec.name) {
  for (const auto& o : spec.options) value_names_[o.name] = o.value;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") throw HelpRequested(help_text(spec));
    if (a.rfind("--", 0) != 0) {
      if (spec.arguments.empty())
        throw UsageError(command_ + ": unexpected argument '" + a + "' (see 'toolgrpo " + command_ + " --help')");
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    const std::size_t eq = a.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    const auto it = value_names_.find(name);
    if (it == value_names_.end())
      throw UsageError(command_ + ": unknown option " + name + " (options: " + options_list(spec) +
                       "; see 'toolgrpo " + command_ + " --help')");
    if (it->second.empty()) {
      if (inline_value) throw UsageError(command_ + ": option " + name + " takes no value");
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) throw UsageError(command_ + ": option " + name + " needs a value (" + it->second + ")");
      value = args[++i];
    }
    values_[name] = value;
  }
}

bool CliArgs::has(const std::string& name) const {
  return values_.count(name) != 0;
}

const std::string& CliArgs::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) {
    const auto v = value_names_.find(name);
    const std::string what = v == value_names_.end() || v->second.empty() ? name : name + " " + v->second;
    throw UsageError(command_ + ": option " + what + " is required");
  }
  return it->second;
}

std::string CliArgs::get_or(const std::string& name, const std::string& fallback) const {
  return has(name) ? get(name) : fallback;
}

int64_t CliArgs::get_int(const std::string& name, int64_t min) const {
  const std::string& v = get(name);
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError(command_ + ": option " + name + " expects an integer, got '" + v + "'");
  if (x < min)
    throw UsageError(command_ + ": option " + name + " must be >= " + std::to_string(min) + ", got " + v);
  return x;
}

double CliArgs::get_double(const std::string& name) const {
  const std::string& v = get(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0')
    throw UsageError(command_ + ": option " + name + " expects a number, got '" + v + "'");
  return x;
}

}  // namespace toolgrpo::app
