// CommGuard, the "destroy or abort" decision NcclComm makes when it goes away, on a fake communicator that
// counts which end it got: destroyed on a normal end, aborted when an exception thrown after it was made unwinds
// through its owner, and destroyed normally when it was made and ended inside a destructor that runs during an
// older exception's unwinding.
#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <stdexcept>

#include "parallel/comm_guard.hpp"

namespace toolgrpo::parallel {
namespace {

struct FakeComm {
  int destroyed = 0, aborted = 0;
};
struct FakeEnds {
  static void destroy(FakeComm* c) noexcept { ++c->destroyed; }
  static void abort(FakeComm* c) noexcept { ++c->aborted; }
};

// Made like NcclComm: the guard first (a member), the communicator adopted in the constructor's body.
class FakeOwner {
 public:
  explicit FakeOwner(FakeComm* c) { guard_.adopt(c); }
  bool failing() const { return guard_.failing(); }

 private:
  CommGuard<FakeComm*, FakeEnds> guard_;
};

// A failure deep in a step, as in a training run: the owner lives in an outer frame.
void step_that_fails(int depth) {
  if (depth == 0) throw std::runtime_error("out of memory");
  step_that_fails(depth - 1);
}

TEST(CommGuard, DestroysOnANormalEnd) {
  FakeComm c;
  {
    FakeOwner o(&c);
    EXPECT_FALSE(o.failing());
  }
  EXPECT_EQ(c.destroyed, 1);
  EXPECT_EQ(c.aborted, 0);
}

TEST(CommGuard, AbortsWhenAnExceptionUnwindsThroughItsOwner) {
  FakeComm c;
  bool caught = false;
  try {
    auto owner = std::make_unique<FakeOwner>(&c);
    step_that_fails(3);
  } catch (const std::runtime_error& e) {
    caught = true;
    EXPECT_STREQ(e.what(), "out of memory");
  }
  EXPECT_TRUE(caught);
  EXPECT_EQ(c.aborted, 1);
  EXPECT_EQ(c.destroyed, 0);
}

TEST(CommGuard, AnExceptionCaughtBeforeTheEndIsNoFailure) {
  FakeComm c;
  {
    FakeOwner o(&c);
    try {
      step_that_fails(1);
    } catch (const std::runtime_error&) {
    }
  }
  EXPECT_EQ(c.destroyed, 1);
  EXPECT_EQ(c.aborted, 0);
}

// A destructor that makes and ends a communicator while another exception unwinds: that older exception is not
// this communicator's failure, so it is destroyed; a new exception inside that destructor aborts it.
struct CleanupDuringUnwinding {
  FakeComm* normal;
  FakeComm* failing;
  ~CleanupDuringUnwinding() {
    EXPECT_EQ(std::uncaught_exceptions(), 1);
    { FakeOwner o(normal); }
    try {
      FakeOwner o(failing);
      step_that_fails(0);
    } catch (const std::runtime_error&) {
    }
  }
};

TEST(CommGuard, ComparesWithTheUnwindingAtItsConstruction) {
  FakeComm normal, failing;
  try {
    CleanupDuringUnwinding k{&normal, &failing};
    step_that_fails(2);
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(normal.destroyed, 1);
  EXPECT_EQ(normal.aborted, 0);
  EXPECT_EQ(failing.aborted, 1);
  EXPECT_EQ(failing.destroyed, 0);
}

TEST(CommGuard, EndsEachCommunicatorOnce) {
  FakeComm a, b;
  {
    CommGuard<FakeComm*, FakeEnds> g;  // empty: ending it ends nothing
  }
  {
    CommGuard<FakeComm*, FakeEnds> g;
    g.adopt(&a);
    g.adopt(&b);  // the first one is ended when another is adopted
    EXPECT_EQ(g.get(), &b);
    EXPECT_EQ(a.destroyed, 1);
  }
  EXPECT_EQ(a.destroyed + a.aborted, 1);
  EXPECT_EQ(b.destroyed, 1);
  EXPECT_EQ(b.aborted, 0);
}

}  // namespace
}  // namespace toolgrpo::parallel
