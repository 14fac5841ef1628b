// GoogleTest main for MPI tests: every rank runs every test inside one Runtime; the job fails if any rank
// fails, and only rank 0 prints the per-test lines.
#include <gtest/gtest.h>

#include "tests/parallel/mpi_test_env.hpp"

namespace toolgrpo::testing {
namespace {
parallel::Runtime* g_runtime = nullptr;
}
parallel::Runtime& mpi_runtime() {
  return *g_runtime;
}
}  // namespace toolgrpo::testing

int main(int argc, char** argv) {
  toolgrpo::parallel::Runtime rt(argc, argv);
  toolgrpo::testing::g_runtime = &rt;
  ::testing::InitGoogleTest(&argc, argv);
  if (rt.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  const double any = rt.world().allreduce_max(static_cast<double>(failed));
  return any > 0 ? 1 : 0;
}
