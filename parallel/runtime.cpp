// Runtime: MPI and Kokkos lifetimes; see runtime.hpp.
#include "parallel/runtime.hpp"

#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <cstring>

#include "parallel/check.hpp"
#include "parallel/comm_impl.hpp"

namespace toolgrpo::parallel {

Runtime::Runtime(int& argc, char**& argv) {
  int initialized = 0;
  TOOLGRPO_MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized) {
    int provided = 0;
    TOOLGRPO_MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided));
    owns_mpi_ = true;
  }
  world_ = comm_dup(MPI_COMM_WORLD);
  rank_ = world_.rank();
  size_ = world_.size();
  MPI_Comm node = MPI_COMM_NULL;
  TOOLGRPO_MPI_CHECK(
      MPI_Comm_split_type(world_.impl().comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  TOOLGRPO_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  TOOLGRPO_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  TOOLGRPO_MPI_CHECK(MPI_Comm_free(&node));
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
  int kokkos_argc = static_cast<int>(kokkos_argv_.size());
  kokkos_argv_.push_back(nullptr);
  kokkos_ = std::make_unique<Kokkos::ScopeGuard>(kokkos_argc, kokkos_argv_.data());
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
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this only satisfies [[noreturn]]
}

}  // namespace toolgrpo::parallel
