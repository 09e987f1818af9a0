#pragma once

// client-go's rate-limiting work queue, for keys "ns/name".
//  - Dedupe: a key waiting in the queue is there once, however often it is added.
//  - A key being processed is never handed to a second worker: an add meanwhile marks it dirty
//    and it is queued again (once) when done() is called.
//  - addRateLimited: per-key exponential backoff (5 ms -> 1000 s) combined with an overall token
//    bucket (10 qps, burst 100); the delay is the larger of the two (client-go's
//    DefaultControllerRateLimiter). forget() resets a key's backoff after a success.
//  - Two lanes: keys from a LIST (initial sync, re-list) go to the `Initial` lane, everything else
//    to `Fresh`. Workers take Fresh first, but every kInitialEvery-th pick takes from Initial when
//    it has work, so a big initial sync cannot starve fresh events and is not starved by them.
//    A key added Fresh while waiting in Initial moves to Fresh.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace waha::kube {

// Hooks for workqueue_* metrics (implemented in metrics/, so kube/ does not depend on it).
class QueueMetrics {
 public:
  virtual ~QueueMetrics() = default;
  virtual void added() = 0;
  virtual void depth(std::size_t n) = 0;
  virtual void retried() = 0;
  virtual void queueLatency(double seconds) = 0;
  virtual void workDuration(double seconds) = 0;
  // Seconds of work in progress not yet done, and the age of the oldest item in progress.
  virtual void unfinished(double totalSeconds, double longestSeconds) = 0;
};

enum class Lane { Fresh, Initial };

struct WorkQueueOptions {
  Duration baseDelay = std::chrono::milliseconds(5);
  Duration maxDelay = std::chrono::seconds(1000);
  double qps = 10.0;
  int burst = 100;
};

class WorkQueue {
 public:
  static constexpr int kInitialEvery = 4;

  explicit WorkQueue(Clock& clock, WorkQueueOptions options = {}, QueueMetrics* metrics = nullptr);

  void add(const std::string& key, Lane lane = Lane::Fresh);
  // Adds after `delay` (an earlier pending addAfter of the same key wins).
  void addAfter(const std::string& key, Duration delay);
  // Adds after the rate limiter's delay for this key; returns that delay.
  Duration addRateLimited(const std::string& key);
  // The key succeeded: its backoff starts over.
  void forget(const std::string& key);
  int numRequeues(const std::string& key) const;

  // Blocks until a key is ready (or shutdown: nullopt). The caller must call done(key).
  std::optional<std::string> get();
  // Non-blocking get: nullopt when nothing is ready now.
  std::optional<std::string> tryGet();
  void done(const std::string& key);

  // Wakes every get(); keys already queued are dropped, later adds ignored.
  void shutDown();
  bool shuttingDown() const;
  // Keys waiting (not in progress, not delayed).
  std::size_t len() const;
  // Keys waiting for an addAfter / rate-limited delay.
  std::size_t delayed() const;
  // Pushes the in-progress gauges to the metrics hook (called before each scrape).
  void reportUnfinished() const;

 private:
  struct Entry {
    Lane lane;
    uint64_t seq;  // matches exactly one queue slot; other slots for the key are stale
    TimePoint since;
  };
  struct Slot {
    std::string key;
    uint64_t seq;
  };
  void addLocked(const std::string& key, Lane lane);
  void promoteReadyLocked();
  std::optional<std::string> popLocked();
  bool popFromLocked(std::deque<Slot>& q, std::string& out);
  std::optional<TimePoint> nextReadyLocked() const;
  void reportDepthLocked();

  Clock& clock_;
  WorkQueueOptions options_;
  QueueMetrics* metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Slot> fresh_;
  std::deque<Slot> initial_;
  std::unordered_map<std::string, Entry> dirty_;  // waiting to be processed (queued or not)
  std::unordered_map<std::string, TimePoint> processing_;
  std::multimap<TimePoint, std::string> waiting_;  // addAfter: ready time -> key
  std::unordered_map<std::string, TimePoint> waitingAt_;
  std::unordered_map<std::string, int> failures_;
  double tokens_;
  TimePoint tokensAt_;
  uint64_t seq_ = 0;
  uint64_t waitGen_ = 0;
  std::size_t queued_ = 0;
  int picks_ = 0;
  bool shutdown_ = false;
};

}  // namespace waha::kube
