// Runtime: MPI and Kokkos lifetimes; see runtime.hpp.
#include "parallel/runtime.hpp"

#include <Kokkos_Core.hpp>
#include <cstdlib>

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
  kokkos_ = std::make_unique<Kokkos::ScopeGuard>(argc, argv);
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
