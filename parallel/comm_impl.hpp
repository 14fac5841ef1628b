// The MPI handle behind Comm; included by parallel/ sources only.
#pragma once

#include <mpi.h>

#include "parallel/comm.hpp"

namespace toolgrpo::parallel {

struct Comm::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  ~Impl();
};

// Duplicates `raw` (errors returned, not fatal) into a new owned Comm.
Comm comm_dup(MPI_Comm raw);

}  // namespace toolgrpo::parallel
