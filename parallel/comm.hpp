// Comm: an owned MPI communicator (duplicated on creation, freed on destruction) with the few collectives the
// application needs. The header hides <mpi.h>: only parallel/ sees the handle.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace toolgrpo::parallel {

class Comm {
 public:
  struct Impl;  // holds the MPI_Comm; defined in comm_impl.hpp (parallel/ only)

  Comm();  // a null communicator: valid() is false
  explicit Comm(std::unique_ptr<Impl> impl);
  ~Comm();
  Comm(Comm&&) noexcept;
  Comm& operator=(Comm&&) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  bool valid() const { return impl_ != nullptr; }
  int rank() const;
  int size() const;
  void barrier() const;
  // A barrier for long waits (split mode: generators while trainers train, and back): polls every millisecond
  // and sleeps in between, so a waiting rank leaves its core to ranks that compute.
  void idle_barrier() const;

  // MPI_Comm_split; a negative color leaves this rank out (the result is invalid()).
  Comm split(int color, int key) const;

  double allreduce_sum(double v) const;
  int64_t allreduce_sum(int64_t v) const;
  double allreduce_max(double v) const;
  double allreduce_min(double v) const;
  void allreduce_sum(std::vector<double>& v) const;          // in place, element-wise
  void allreduce_sum(std::vector<int64_t>& v) const;         // in place, element-wise
  void allreduce_sum(float* data, std::size_t count) const;  // in place; a flat gradient bucket
  // `in` holds size() blocks of `block` floats; their element-wise sum over the ranks is scattered so that
  // rank r receives block r in `out` (MPI_Reduce_scatter_block). block < 2^31.
  void reduce_scatter_sum(const float* in, float* out, std::size_t block) const;
  // Every rank's `block` floats of `in`, in rank order, into `out` (size() x block floats). block < 2^31.
  void allgather(const float* in, float* out, std::size_t block) const;
  void broadcast(std::string& s, int root) const;
  void broadcast(void* data, std::size_t bytes, int root) const;
  std::vector<std::string> gather(const std::string& s, int root) const;  // filled on root only
  std::vector<std::string> allgather(const std::string& s) const;        // every rank's s, in rank order

  // The address of the MPI_Comm, for a library that takes one (HDF5's MPI-IO driver in a collective
  // checkpoint write); valid while this Comm lives.
  const void* mpi_handle() const;

  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace toolgrpo::parallel
