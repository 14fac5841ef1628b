// A file from outside (a model directory, a tokenizer, a dataset, a checkpoint) that is not what it should be.
// The message names the file (and the tensor, key or line) and says what was wrong and what was expected; the
// executable ends with exit code 2 for it, as for any other bad input (docs/DESIGN.md section 9).
#pragma once

#include <stdexcept>

namespace toolgrpo::common {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace toolgrpo::common
