// libFuzzer target over the whole reward path: chat-template extraction, Python-JSON parsing, ground-truth
// preparation and scoring under any variant. Input: [flags byte][step byte] output '\0' ground_truth (without
// '\0' the output is also the ground truth). Properties checked besides "no crash, no sanitizer report":
// scores are finite and within their ranges, the batch-free scalar path is deterministic, the Kokkos batch
// scorer on several threads (TOOLGRPO_FUZZ_THREADS, default 4, on an OpenMP Kokkos) gives the scalar results
// bit for bit, and JSON round-trips.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "reward/batch.hpp"
#include "reward/extract.hpp"
#include "reward/json.hpp"
#include "reward/pystr.hpp"
#include "reward/score.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::reward;
using toolgrpo::fuzz::require;

namespace {

RewardConfig config_from_flags(uint8_t f) {
  RewardConfig c;
  c.with_length = f & 1;
  c.schedule_length = f & 2;
  c.correct_max1 = f & 4;
  c.max1_step30_max3 = f & 8;
  c.schedule_reward = f & 16;
  c.refined = f & 32;
  c.intermediate = f & 64;
  c.coarse = f & 128;
  return c;
}

void check_scores(const RewardScores& s, const RewardConfig& cfg, int64_t step) {
  if (!s.ok) return;
  const RewardRange fr = format_range(cfg, step), cr = correctness_range(cfg, step);
  require(s.format == fr.max || s.format == fr.min);
  // Combined schedules can invert the range (the reference does the same), so test against both ends.
  const double lo = std::fmin(cr.min, cr.max), hi = std::fmax(cr.min, cr.max);
  require((std::isfinite(s.correctness) && s.correctness >= lo - 1e-9 && s.correctness <= hi + 1e-9) ||
          s.correctness == 0.0);
  require(std::isfinite(s.length) && s.length >= 0.0 && s.length <= 1.0);
  require(s.total == s.format + s.correctness + s.length);
}


}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("TOOLGRPO_FUZZ_THREADS");
  static std::string threads = std::string("--kokkos-threads=") + (env ? env : "4");
  static std::string quiet = "--kokkos-disable-warnings";
  static char name[] = "fuzz_reward";
  static char* argv[] = {name, threads.data(), quiet.data(), nullptr};
  int argc = 3;
  Kokkos::initialize(argc, argv);
  std::atexit([] { Kokkos::finalize(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const RewardConfig cfg = config_from_flags(data[0]);
  const int64_t step = static_cast<int64_t>(data[1]) * 2;
  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t sep = rest.find('\0');
  const std::string_view output = sep == std::string_view::npos ? rest : rest.substr(0, sep);
  const std::string_view gt_text = sep == std::string_view::npos ? rest : rest.substr(sep + 1);

  static ScoreScratch scratch;
  std::vector<GroundTruth> gts;
  gts.emplace_back(std::string(gt_text));
  const GroundTruth& gt = gts.front();
  BatchInput batch;
  std::vector<RewardScores> scalar;
  for (ChatTemplate t : {ChatTemplate::Qwen, ChatTemplate::Llama}) {
    const std::string_view predict = extract_prediction(output, t);
    require(predict.size() <= output.size());
    const RewardScores a = score_output(predict, gt, cfg, step, scratch);
    const RewardScores b = score_output(predict, gt, cfg, step);  // fresh scratch: same answer
    require(a.ok == b.ok && (!a.ok || (a.total == b.total && a.correctness == b.correctness)));
    check_scores(a, cfg, step);
    batch.outputs.push_back(predict);
    scalar.push_back(a);
  }

  // The same outputs (and the raw text) many times over in one batch, scored on every thread at once.
  batch.outputs.push_back(output);
  scalar.push_back(score_output(output, gt, cfg, step));
  const std::size_t distinct = batch.outputs.size();
  for (int copy = 1; copy < 8; ++copy)
    for (std::size_t i = 0; i < distinct; ++i) batch.outputs.push_back(batch.outputs[i]);
  batch.gt_index.assign(batch.outputs.size(), 0);
  batch.step = step;
  const std::vector<RewardScores> batched = score_batch(batch, gts, cfg);
  require(batched.size() == batch.outputs.size());
  for (std::size_t i = 0; i < batched.size(); ++i) {
    const RewardScores& want = scalar[i % distinct];
    require(batched[i].ok == want.ok && batched[i].format == want.format &&
            batched[i].correctness == want.correctness && batched[i].length == want.length &&
            batched[i].total == want.total);
  }

  // JSON: whatever well-formed text parses must serialise and parse back to an equal value.
  Arena arena;
  JsonParser parser;
  const Value* v = parser.parse(output, arena);
  if (v != nullptr && toolgrpo::fuzz::utf8_well_formed(output, true)) {
    const std::string dumped = json_dumps(*v);
    Arena arena2;
    const Value* back = parser.parse(dumped, arena2);
    require(back != nullptr);
    require(py_item_equal(*v, *back) || dumped.find("NaN") != std::string::npos);
  }
  require(py_strip(output).size() <= output.size());
  require(py_split_count(output) <= output.size());
  return 0;
}
