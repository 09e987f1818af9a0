#pragma once

// One thread running timed tasks: session transitions, delayed answers (latency, WAHA's slow
// stop), conflict polling. Time comes from a Clock so tests may drive it.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "common/clock.h"

namespace waha::sim {

class Scheduler {
 public:
  explicit Scheduler(Clock& clock);
  ~Scheduler();
  void start();
  // Drops pending tasks and joins the thread; tasks already running finish first.
  void stop();
  void after(Duration delay, std::function<void()> task);
  Clock& clock() { return clock_; }

 private:
  void run();
  Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::pair<TimePoint, std::uint64_t>, std::function<void()>> tasks_;
  std::uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace waha::sim
