// Runtime: the lifetime of MPI and Kokkos for one process. Construct it first in main; everything else lives
// inside its scope. MPI_Init -> Kokkos initialise ... Kokkos finalise -> MPI_Finalize. Works under
// mpirun/srun and started directly (a singleton MPI job of one rank).
#pragma once

#include <memory>
#include <vector>

#include "parallel/comm.hpp"

namespace Kokkos {
class ScopeGuard;
}

namespace toolgrpo::parallel {

class Runtime {
 public:
  // Removes the --kokkos-* options (given to Kokkos) from argc/argv; the rest is left for the application.
  Runtime(int& argc, char**& argv);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Comm& world() { return world_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among the processes of this node (GPU choice)
  int local_size() const { return local_size_; }

  // Ends every rank of the job with `code` (MPI_Abort); never returns.
  [[noreturn]] void abort(int code) noexcept;

 private:
  bool owns_mpi_ = false;
  std::vector<char*> kokkos_argv_;  // argv[0] and the --kokkos-* options, as Kokkos was initialised with
  std::unique_ptr<Kokkos::ScopeGuard> kokkos_;
  Comm world_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace toolgrpo::parallel
