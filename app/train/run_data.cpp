// Training and evaluation data of a run; see run_data.hpp.
#include "app/train/run_data.hpp"

#include "app/cli/commands.hpp"

namespace toolgrpo::app {

RunData run_data_load(const Config& c) {
  if (c.data.train.empty()) throw UsageError("data.train: a training file is required");
  io::DatasetOptions opt;
  opt.format = c.data.format;
  opt.skip_bad_rows = c.data.skip_bad_rows;
  RunData d;
  d.train = io::dataset_load(c.data.train, opt);
  if (d.train.rows.empty()) throw UsageError(c.data.train + ": no usable rows");
  if (c.log.eval_every > 0 && !c.data.eval.empty()) {
    d.eval = io::dataset_load(c.data.eval, opt);
    if (c.data.eval_prompts > 0 && static_cast<int64_t>(d.eval.rows.size()) > c.data.eval_prompts)
      d.eval.rows.resize(static_cast<std::size_t>(c.data.eval_prompts));
  }
  return d;
}

}  // namespace toolgrpo::app
