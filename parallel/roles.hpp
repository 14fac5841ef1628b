// Roles of the ranks in a training job. Colocated: every rank generates and trains. Split: the first
// `generation_ranks` ranks of the world generate, the others train; after each update the first trainer sends the
// new weights to the generators over a sync communicator (trainer 0 + generators, trainer 0 its root).
#pragma once

#include "parallel/comm.hpp"

namespace toolgrpo::parallel {

struct Roles {
  bool split = false;
  bool generates = true;
  bool trains = true;
  Comm generation;  // the generating ranks (invalid on a rank that does not generate)
  Comm training;    // the training ranks (invalid on a rank that does not train)
  Comm sync;        // split mode: trainer 0 (rank 0 here) and the generators; invalid elsewhere and when colocated
};

// Throws std::invalid_argument when the world cannot be split that way (split needs 1 <= generation_ranks <
// world size).
Roles roles_make(const Comm& world, bool split, int generation_ranks);

}  // namespace toolgrpo::parallel
