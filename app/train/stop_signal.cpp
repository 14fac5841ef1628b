// Stop-signal handlers; see stop_signal.hpp.
#include "app/train/stop_signal.hpp"

#include <csignal>

namespace toolgrpo::app {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig, std::memory_order_relaxed);
  g_stop.store(true, std::memory_order_relaxed);
}

struct sigaction g_previous[2];
constexpr int kSignals[2] = {SIGUSR1, SIGTERM};

}  // namespace

StopSignals::StopSignals() {
  g_stop.store(false);
  g_signal.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int i = 0; i < 2; ++i) sigaction(kSignals[i], &sa, &g_previous[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 2; ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
}

const std::atomic<bool>& StopSignals::flag() const { return g_stop; }
int StopSignals::signal_number() const { return g_signal.load(std::memory_order_relaxed); }

}  // namespace toolgrpo::app
