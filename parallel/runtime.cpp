// Runtime: MPI and Kokkos lifetimes; see runtime.hpp.
#include "parallel/runtime.hpp"

#include <sched.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "parallel/check.hpp"
#include "parallel/comm_impl.hpp"

namespace toolgrpo::parallel {

Runtime::Runtime(int& argc, char**& argv, MpiStart mpi) {
  int initialized = 0;
  TOOLGRPO_MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized && (mpi == MpiStart::Always || launched())) {
    int provided = 0;
    TOOLGRPO_MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided));
    owns_mpi_ = true;
    initialized = 1;
  }
  if (initialized) {
    world_ = comm_dup(MPI_COMM_WORLD);
    rank_ = world_.rank();
    size_ = world_.size();
    MPI_Comm node = MPI_COMM_NULL;
    TOOLGRPO_MPI_CHECK(
        MPI_Comm_split_type(world_.impl().comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
    TOOLGRPO_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
    TOOLGRPO_MPI_CHECK(MPI_Comm_size(node, &local_size_));
    TOOLGRPO_MPI_CHECK(MPI_Comm_free(&node));
  }
  // Kokkos also reads un-prefixed options (--help, --threads, --numa, --device-id) that belong to toolgrpo,
  // so it sees only the --kokkos-* ones, and those leave argv.
  int kept = argc > 0 ? 1 : 0;
  if (argc > 0) kokkos_argv_.push_back(argv[0]);
  for (int i = kept; i < argc; ++i) {
    if (std::strncmp(argv[i], "--kokkos-", 9) == 0)
      kokkos_argv_.push_back(argv[i]);
    else
      argv[kept++] = argv[i];
  }
  if (argc > 0) argv[kept] = nullptr;
  argc = kept;
  const auto given = [&](const char* option) {
    for (std::size_t i = 1; i < kokkos_argv_.size(); ++i)
      if (std::strncmp(kokkos_argv_[i], option, std::strlen(option)) == 0) return true;
    return false;
  };
  if (!std::getenv("KOKKOS_NUM_THREADS") && !given("--kokkos-threads") && !given("--kokkos-num-threads")) {
#if KOKKOS_VERSION >= 40000
    kokkos_added_.push_back("--kokkos-num-threads=" + std::to_string(default_threads()));
#else
    kokkos_added_.push_back("--kokkos-threads=" + std::to_string(default_threads()));
#endif
  }
  if (!std::getenv("KOKKOS_DISABLE_WARNINGS") && !given("--kokkos-disable-warnings"))
    kokkos_added_.push_back("--kokkos-disable-warnings");
  for (std::string& option : kokkos_added_) kokkos_argv_.push_back(option.data());
  int kokkos_argc = static_cast<int>(kokkos_argv_.size());
  kokkos_argv_.push_back(nullptr);
  kokkos_ = std::make_unique<Kokkos::ScopeGuard>(kokkos_argc, kokkos_argv_.data());
}

bool Runtime::launched() {
  for (const char* v :
       {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "PMI_FD", "MPI_LOCALNRANKS"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

int Runtime::default_threads() const {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && n > 0 && n < 100000) return static_cast<int>(n);
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  const int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : cores;
  if (mine > 0 && mine < cores) return mine;
  return std::max(1, cores / std::max(1, local_size_));
}

std::string Runtime::kokkos_description() {
  return std::string("Kokkos ") + std::to_string(KOKKOS_VERSION / 10000) + "." +
         std::to_string(KOKKOS_VERSION / 100 % 100) + "." + std::to_string(KOKKOS_VERSION % 100) +
         ", host space " + Kokkos::DefaultHostExecutionSpace::name() + ", " +
         std::to_string(Kokkos::DefaultHostExecutionSpace().concurrency()) + " threads";
}

Runtime::~Runtime() {
  kokkos_.reset();
  world_ = Comm();
  if (owns_mpi_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

void Runtime::abort(int code) noexcept {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this only satisfies [[noreturn]]
}

}  // namespace toolgrpo::parallel
