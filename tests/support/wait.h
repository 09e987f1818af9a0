#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace waha::test {

// Waits for a condition with a deadline (never a fixed sleep for correctness): polls `pred`
// every few milliseconds and returns true as soon as it holds, false once `timeout` passed.
inline bool waitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10),
                    std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace waha::test
