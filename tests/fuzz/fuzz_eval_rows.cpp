// libFuzzer target over the evaluation data of other benchmarks (reward/eval_data.cpp, reward/bfcl_check.cpp)
// as downloaded files reach it. Input: [mode byte] then parts separated by NUL bytes. Mode bit 0 clear: the
// first part is an API-Bank file (a JSON list of {system, user, answer, other}). Set: the parts are a BFCL
// questions file, a possible-answers file (none when empty) and a model output checked against every question
// loaded. The files are memory files read through their /proc paths. A load either returns rows or throws
// std::runtime_error whose message starts with the path of the file at fault; never anything else.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "reward/eval_data.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::reward;
using toolgrpo::fuzz::require;

namespace {

// A memory file holding `text`; closed when it goes.
struct MemFile {
  explicit MemFile(std::string_view text) {
    fd = memfd_create("fuzz_eval_rows", 0);
    require(fd >= 0);
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = write(fd, text.data() + done, text.size() - done);
      require(n > 0);
      done += static_cast<std::size_t>(n);
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  ~MemFile() { close(fd); }
  int fd = -1;
  std::string path;
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> parts;
  for (std::size_t from = 0;;) {
    const std::size_t nul = rest.find('\0', from);
    parts.push_back(rest.substr(from, nul == std::string_view::npos ? std::string_view::npos : nul - from));
    if (nul == std::string_view::npos || parts.size() == 3) break;
    from = nul + 1;
  }
  if ((data[0] & 1) == 0) {
    const MemFile file(parts[0]);
    try {
      const std::vector<EvalPrompt> rows = apibank_load(file.path);
      require(!rows.empty() && rows.size() <= size);
      for (const EvalPrompt& r : rows)
        require(starts_with(r.ground_truth, "<think> </think>\n<tool_call>\n"));
    } catch (const std::runtime_error& e) {
      require(starts_with(e.what(), file.path + ": "));
    }
    return 0;
  }
  const MemFile questions(parts[0]);
  const MemFile answers(parts.size() > 1 ? parts[1] : std::string_view());
  const bool with_answers = parts.size() > 1 && !parts[1].empty();
  try {
    const std::vector<BfclQuestion> qs = bfcl_load(questions.path, with_answers ? answers.path : "");
    require(!qs.empty() && qs.size() <= size);
    const std::string_view output = parts.size() > 2 ? parts[2] : std::string_view();
    for (const BfclQuestion& q : qs) {
      require(q.check.expects_call() == (q.check.calls_expected() > 0));
      const BfclResult r = bfcl_check(output, q.check);
      require(r.valid == (r.error == BfclError::None));
      // The ground truth the loader wrote for the format reward, checked the same way.
      const BfclResult own = bfcl_check(q.prompt.ground_truth, q.check);
      require(own.valid == (own.error == BfclError::None));
    }
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    require(starts_with(msg, questions.path + ":") || (with_answers && starts_with(msg, answers.path + ":")));
  }
  return 0;
}
