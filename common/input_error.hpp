// A file from outside (a model directory, a tokenizer, a dataset, a checkpoint) that is not what it should be.
// The message names the file (and the tensor, key or line) and says what was wrong and what was expected; the
// executable ends with exit code 2 for it, as for any other bad input (docs/DESIGN.md section 9).
#pragma once

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace toolgrpo::common {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Whether the user asked for the libraries' own error detail: the environment variable TOOLGRPO_VERBOSE set to
// anything but "" or "0" (`toolgrpo --verbose COMMAND` sets it). Without it, errors are the project's one-line
// messages: no libtorch (c10) backtrace and no HDF5 error stack.
inline bool verbose_errors() {
  const char* v = std::getenv("TOOLGRPO_VERBOSE");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

}  // namespace toolgrpo::common
