// Comm: RAII MPI communicator and collectives; see comm.hpp.
#include "parallel/comm.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "parallel/check.hpp"
#include "parallel/comm_impl.hpp"

namespace toolgrpo::parallel {

namespace detail {
void mpi_fail(int code, const char* call, const char* file, int line) {
  char msg[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, msg, &len);
  throw std::runtime_error(std::string("MPI call failed: ") + call + " at " + file + ":" +
                           std::to_string(line) + ": " + std::string(msg, static_cast<std::size_t>(len)));
}
}  // namespace detail

Comm::Impl::~Impl() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm);
}

Comm comm_dup(MPI_Comm raw) {
  auto impl = std::make_unique<Comm::Impl>();
  TOOLGRPO_MPI_CHECK(MPI_Comm_dup(raw, &impl->comm));
  TOOLGRPO_MPI_CHECK(MPI_Comm_set_errhandler(impl->comm, MPI_ERRORS_RETURN));
  return Comm(std::move(impl));
}

Comm::Comm() = default;
Comm::Comm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Comm::~Comm() = default;
Comm::Comm(Comm&&) noexcept = default;
Comm& Comm::operator=(Comm&&) noexcept = default;

namespace {
MPI_Comm raw_of(const std::unique_ptr<Comm::Impl>& impl) {
  if (!impl) throw std::logic_error("collective on a null Comm (this rank is not a member)");
  return impl->comm;
}
}  // namespace

const void* Comm::mpi_handle() const {
  return &impl_->comm;
}

int Comm::rank() const {
  int r = 0;
  TOOLGRPO_MPI_CHECK(MPI_Comm_rank(raw_of(impl_), &r));
  return r;
}

int Comm::size() const {
  int s = 0;
  TOOLGRPO_MPI_CHECK(MPI_Comm_size(raw_of(impl_), &s));
  return s;
}

void Comm::barrier() const {
  TOOLGRPO_MPI_CHECK(MPI_Barrier(raw_of(impl_)));
}

void Comm::idle_barrier() const {
  MPI_Request req = MPI_REQUEST_NULL;
  TOOLGRPO_MPI_CHECK(MPI_Ibarrier(raw_of(impl_), &req));
  int done = 0;
  while (true) {
    TOOLGRPO_MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Comm Comm::split(int color, int key) const {
  MPI_Comm out = MPI_COMM_NULL;
  TOOLGRPO_MPI_CHECK(MPI_Comm_split(raw_of(impl_), color < 0 ? MPI_UNDEFINED : color, key, &out));
  if (out == MPI_COMM_NULL) return Comm();
  auto impl = std::make_unique<Impl>();
  impl->comm = out;
  TOOLGRPO_MPI_CHECK(MPI_Comm_set_errhandler(impl->comm, MPI_ERRORS_RETURN));
  return Comm(std::move(impl));
}

namespace {
template <class T>
T reduce_scalar(T v, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  TOOLGRPO_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &v, 1, type, op, comm));
  return v;
}
}  // namespace

double Comm::allreduce_sum(double v) const {
  return reduce_scalar(v, MPI_DOUBLE, MPI_SUM, raw_of(impl_));
}
int64_t Comm::allreduce_sum(int64_t v) const {
  return reduce_scalar(v, MPI_INT64_T, MPI_SUM, raw_of(impl_));
}
double Comm::allreduce_max(double v) const {
  return reduce_scalar(v, MPI_DOUBLE, MPI_MAX, raw_of(impl_));
}
double Comm::allreduce_min(double v) const {
  return reduce_scalar(v, MPI_DOUBLE, MPI_MIN, raw_of(impl_));
}
void Comm::allreduce_sum(std::vector<double>& v) const {
  TOOLGRPO_MPI_CHECK(
      MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, raw_of(impl_)));
}
void Comm::allreduce_sum(std::vector<int64_t>& v) const {
  TOOLGRPO_MPI_CHECK(
      MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_INT64_T, MPI_SUM, raw_of(impl_)));
}
void Comm::allreduce_sum(float* data, std::size_t count) const {
  // Large buckets go in pieces below INT_MAX elements.
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  for (std::size_t off = 0; off < count; off += kPiece) {
    const int n = static_cast<int>(count - off < kPiece ? count - off : kPiece);
    TOOLGRPO_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + off, n, MPI_FLOAT, MPI_SUM, raw_of(impl_)));
  }
}

namespace {
int block_count(std::size_t block, const char* what) {
  if (block >= (std::size_t{1} << 31))
    throw std::invalid_argument(std::string(what) + ": block of 2^31 elements or more");
  return static_cast<int>(block);
}
}  // namespace

void Comm::reduce_scatter_sum(const float* in, float* out, std::size_t block) const {
  TOOLGRPO_MPI_CHECK(MPI_Reduce_scatter_block(in, out, block_count(block, "reduce_scatter_sum"), MPI_FLOAT,
                                              MPI_SUM, raw_of(impl_)));
}

void Comm::allgather(const float* in, float* out, std::size_t block) const {
  const int n = block_count(block, "allgather");
  TOOLGRPO_MPI_CHECK(MPI_Allgather(in, n, MPI_FLOAT, out, n, MPI_FLOAT, raw_of(impl_)));
}

void Comm::broadcast(void* data, std::size_t bytes, int root) const {
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  char* p = static_cast<char*>(data);
  for (std::size_t off = 0; off < bytes; off += kPiece) {
    const int n = static_cast<int>(bytes - off < kPiece ? bytes - off : kPiece);
    TOOLGRPO_MPI_CHECK(MPI_Bcast(p + off, n, MPI_BYTE, root, raw_of(impl_)));
  }
}

void Comm::broadcast(std::string& s, int root) const {
  uint64_t n = s.size();
  broadcast(&n, sizeof n, root);
  s.resize(n);
  broadcast(s.data(), n, root);
}

std::vector<std::string> Comm::gather(const std::string& s, int root) const {
  const int me = rank(), p = size();
  int len = static_cast<int>(s.size());
  std::vector<int> lens(me == root ? p : 0), displs(me == root ? p : 0);
  TOOLGRPO_MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, raw_of(impl_)));
  std::string all;
  if (me == root) {
    int total = 0;
    for (int r = 0; r < p; ++r) {
      displs[r] = total;
      total += lens[r];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  TOOLGRPO_MPI_CHECK(MPI_Gatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR,
                                 root, raw_of(impl_)));
  std::vector<std::string> out;
  if (me == root)
    for (int r = 0; r < p; ++r) out.emplace_back(all.substr(static_cast<std::size_t>(displs[r]), lens[r]));
  return out;
}

std::vector<std::string> Comm::allgather(const std::string& s) const {
  const int p = size();
  int len = static_cast<int>(s.size());
  std::vector<int> lens(static_cast<std::size_t>(p)), displs(static_cast<std::size_t>(p));
  TOOLGRPO_MPI_CHECK(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, raw_of(impl_)));
  int64_t total = 0;
  for (int r = 0; r < p; ++r) {
    displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += lens[static_cast<std::size_t>(r)];
  }
  if (total > INT32_MAX) throw std::runtime_error("allgather: more than 2 GiB in one call (" + std::to_string(total) + " bytes)");
  std::string all(static_cast<std::size_t>(total), '\0');
  TOOLGRPO_MPI_CHECK(MPI_Allgatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR,
                                    raw_of(impl_)));
  std::vector<std::string> out;
  for (int r = 0; r < p; ++r)
    out.emplace_back(all.substr(static_cast<std::size_t>(displs[static_cast<std::size_t>(r)]),
                                static_cast<std::size_t>(lens[static_cast<std::size_t>(r)])));
  return out;
}

}  // namespace toolgrpo::parallel
