#pragma once
// The one way tests wait for something another thread or process does: poll a condition until
// it holds or a deadline passes. A fixed sleep followed by an assertion passes on an idle
// machine and fails on a loaded one; a condition with a generous deadline passes on both and
// costs only as long as the condition takes.
//
//   ASSERT_TRUE(wait_until(deadline_after(), [&] { return tail->followed().size() == 1; }));
//
// A test that needs a particular interleaving of threads must force it (a latch, or a hook the
// code under test exposes), not wait for it.
#include <algorithm>
#include <chrono>
#include <thread>

namespace vigil::testing {

// Long enough for a machine whose cores are all busy with other work.
inline constexpr std::chrono::seconds kWaitTimeout{60};

inline std::chrono::steady_clock::time_point deadline_after(std::chrono::steady_clock::duration timeout = kWaitTimeout) {
  return std::chrono::steady_clock::now() + timeout;
}

// Calls `done` until it returns true (then true) or `deadline` passes (then false, after one
// last call). The pause between calls grows from 1 ms to 50 ms: quick for conditions that are
// nearly met, cheap for conditions that are expensive to check (a CLI run, an HTTP request).
template <class Predicate>
bool wait_until(std::chrono::steady_clock::time_point deadline, Predicate&& done) {
  std::chrono::steady_clock::duration pause = std::chrono::milliseconds(1);
  for (;;) {
    if (done()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min(pause, deadline - now));
    pause = std::min<std::chrono::steady_clock::duration>(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace vigil::testing
