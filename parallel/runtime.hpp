// Runtime: the lifetime of MPI and Kokkos for one process. Construct it first in main; everything else lives
// inside its scope. MPI_Init -> Kokkos initialise ... Kokkos finalise -> MPI_Finalize. Works under
// mpirun/srun and started directly (a singleton MPI job of one rank).
//
// Kokkos' host threads (its OpenMP backend, when built with one): KOKKOS_NUM_THREADS or --kokkos-threads when
// given, else default_threads(), the rule libtorch's threads follow too (parallel.threads: 0).
// Kokkos' own start-up warnings (printed on stdout) are off unless KOKKOS_DISABLE_WARNINGS says otherwise.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "parallel/comm.hpp"

namespace Kokkos {
class ScopeGuard;
}

namespace toolgrpo::parallel {

// When MPI starts: always, or only when a launcher (mpirun, mpiexec, srun) started the process. Started
// directly, Open MPI's singleton start-up forks a helper daemon (about 0.3 s); the commands that never
// communicate skip it and run as rank 0 of 1 with no world communicator (world() is invalid).
enum class MpiStart { Always, WhenLaunched };

class Runtime {
 public:
  // Removes the --kokkos-* options (given to Kokkos) from argc/argv; the rest is left for the application.
  Runtime(int& argc, char**& argv, MpiStart mpi = MpiStart::Always);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Comm& world() { return world_; }
  // Whether a launcher's environment is present (Open MPI, PMIx, PMI/PMI2: mpirun, mpiexec, srun).
  static bool launched();
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among the processes of this node (GPU choice)
  int local_size() const { return local_size_; }
  // This rank's threads: OMP_NUM_THREADS when set, else its share of the node's cores: the CPUs of its
  // affinity mask when mpirun/srun bound it to fewer than all, else the node's cores divided by the ranks on
  // the node (at least 1).
  int default_threads() const;
  // Kokkos' host execution space: its name and thread count.
  static std::string kokkos_description();

  // Ends every rank of the job with `code` (MPI_Abort); never returns.
  [[noreturn]] void abort(int code) noexcept;

 private:
  bool owns_mpi_ = false;
  std::vector<char*> kokkos_argv_;  // argv[0] and the --kokkos-* options, as Kokkos was initialised with
  std::vector<std::string>
      kokkos_added_;  // options toolgrpo adds (threads, warnings); kokkos_argv_ points here
  std::unique_ptr<Kokkos::ScopeGuard> kokkos_;
  Comm world_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace toolgrpo::parallel
