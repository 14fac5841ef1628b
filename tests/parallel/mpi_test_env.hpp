// Access to the Runtime that mpi_main.cpp creates for MPI tests.
#pragma once

#include "parallel/runtime.hpp"

namespace toolgrpo::testing {
parallel::Runtime& mpi_runtime();
}
