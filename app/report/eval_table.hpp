// `toolgrpo eval-table` (app/cli/cmd_eval_table.cpp): accuracy over training seeds with bootstrap intervals, from
// the per-example files of `toolgrpo eval --out`. Its statistics are in app/report/eval_table_stats.hpp.
#pragma once

#include <string>
#include <vector>

#include "parallel/runtime.hpp"

namespace toolgrpo::app {

int cmd_eval_table(parallel::Runtime& rt, const std::vector<std::string>& args);

}  // namespace toolgrpo::app
