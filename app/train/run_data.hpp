// The data of a training run, as the `data` section names it: the training rows (at least one) and, when
// evaluation is on, the first `eval_prompts` rows of the evaluation file.
#pragma once

#include "app/config/config.hpp"
#include "io/dataset.hpp"

namespace toolgrpo::app {

struct RunData {
  io::Dataset train;
  io::Dataset eval;  // empty when evaluation is off (log.eval_every 0 or no data.eval)
};

// Throws UsageError when data.train is missing or has no usable rows; dataset errors name file and line.
RunData run_data_load(const Config& c);

}  // namespace toolgrpo::app
