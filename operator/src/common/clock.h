#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace waha {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// Time is passed in (Envoy's TimeSource): production code takes a Clock&, tests drive ManualClock.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time: for deadlines, backoff and durations.
  virtual TimePoint now() const = 0;
  // Wall time: only for timestamps written to objects and logs.
  virtual WallTime wallNow() const = 0;
  // Waits on `cv` (with `lk` held) until `pred()` or this clock reaches `deadline`.
  // Returns pred(). Spurious wake-ups are handled here.
  virtual bool waitUntil(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                         TimePoint deadline, const std::function<bool()>& pred) = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  bool waitUntil(std::unique_lock<std::mutex>& lk, std::condition_variable& cv, TimePoint deadline,
                 const std::function<bool()>& pred) override {
    return cv.wait_until(lk, deadline, pred);
  }
  static SteadyClock& instance();
};

// A clock that only moves when told to. Waiters re-check their deadline every millisecond of real
// time, so a test's advance() is seen promptly without any registry of sleepers.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{} + std::chrono::hours(1),
                       WallTime wallStart = WallTime{} + std::chrono::hours(24 * 365 * 56))
      : mono_(start.time_since_epoch().count()),
        wallOffset_(wallStart - WallTime{}),
        start_(start) {}

  TimePoint now() const override { return TimePoint(Duration(mono_.load())); }
  WallTime wallNow() const override;
  bool waitUntil(std::unique_lock<std::mutex>& lk, std::condition_variable& cv, TimePoint deadline,
                 const std::function<bool()>& pred) override;

  void advance(Duration d) { mono_.fetch_add(d.count()); }

 private:
  std::atomic<Duration::rep> mono_;
  std::chrono::system_clock::duration wallOffset_;
  TimePoint start_;
};

// RFC 3339 UTC with seconds precision ("2026-11-28T02:11:16Z"), as Kubernetes writes timestamps.
std::string formatRfc3339(WallTime t);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm)"; returns false on malformed input.
bool parseRfc3339(const std::string& s, WallTime& out);

}  // namespace waha
