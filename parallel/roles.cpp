// Role split of the world communicator; see roles.hpp.
#include "parallel/roles.hpp"

#include <stdexcept>
#include <string>

namespace toolgrpo::parallel {

Roles roles_make(const Comm& world, bool split, int generation_ranks) {
  Roles r;
  const int rank = world.rank(), size = world.size();
  r.split = split;
  if (!split) {
    r.generation = world.split(0, rank);
    r.training = world.split(0, rank);
    return r;
  }
  if (generation_ranks < 1 || generation_ranks >= size)
    throw std::invalid_argument("split mode needs 1 <= generation ranks < world size; got " +
                                std::to_string(generation_ranks) + " generation ranks of " + std::to_string(size));
  r.generates = rank < generation_ranks;
  r.trains = !r.generates;
  r.generation = world.split(r.generates ? 0 : -1, rank);
  r.training = world.split(r.trains ? 0 : -1, rank);
  const bool first_trainer = rank == generation_ranks;
  r.sync = world.split(r.generates || first_trainer ? 0 : -1, first_trainer ? -1 : rank);
  return r;
}

}  // namespace toolgrpo::parallel
