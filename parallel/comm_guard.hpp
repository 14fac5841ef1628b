// CommGuard: how a collective communicator ends when its owner goes away. Destroying a communicator is itself
// collective (it waits for the other ranks), so when the owner is destroyed by an exception unwinding through it
// (this rank failed; the others may be inside a collective or still computing), destroying could wait for the
// rest of the allocation. The guard aborts the communicator instead (it returns at once) and leaves ending the
// job to main's handler. Header-only and free of MPI/NCCL, so the decision is tested on any machine with a fake
// communicator (tests/parallel/test_comm_guard.cpp); NcclComm holds its ncclComm in one.
#pragma once

#include <exception>

namespace toolgrpo::parallel {

// `Ends` provides `static void destroy(Handle) noexcept` and `static void abort(Handle) noexcept`; a
// value-initialised Handle (nullptr) means "no communicator".
template <typename Handle, typename Ends>
class CommGuard {
 public:
  // Remembers how many exceptions are unwinding now: more at destruction means an exception thrown after this
  // point is unwinding through the owner (a guard made inside a destructor that runs during unwinding still
  // destroys normally when that destructor ends it).
  CommGuard() noexcept : unwinding_at_start_(std::uncaught_exceptions()) {}
  ~CommGuard() { end(); }
  CommGuard(const CommGuard&) = delete;
  CommGuard& operator=(const CommGuard&) = delete;

  // Takes ownership of a communicator made after the guard (the owner's constructor made the guard first).
  void adopt(Handle h) noexcept {
    end();
    handle_ = h;
  }
  Handle get() const noexcept { return handle_; }
  // True while an exception thrown after the guard was made unwinds: ending now would abort.
  bool failing() const noexcept { return std::uncaught_exceptions() > unwinding_at_start_; }

 private:
  void end() noexcept {
    if (handle_ == Handle{}) return;
    const Handle h = handle_;
    handle_ = Handle{};
    if (failing())
      Ends::abort(h);
    else
      Ends::destroy(h);
  }

  Handle handle_{};
  int unwinding_at_start_ = 0;
};

}  // namespace toolgrpo::parallel
