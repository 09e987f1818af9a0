#include "kube/work_queue.h"

#include <algorithm>
#include <cmath>

namespace waha::kube {

namespace {

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

WorkQueue::WorkQueue(Clock& clock, WorkQueueOptions options, QueueMetrics* metrics)
    : clock_(clock),
      options_(options),
      metrics_(metrics),
      tokens_(options.burst),
      tokensAt_(clock.now()) {
  if (metrics_) {
    metrics_->depth(0);
  }
}

void WorkQueue::reportDepthLocked() {
  if (metrics_) {
    metrics_->depth(queued_);
  }
}

void WorkQueue::addLocked(const std::string& key, Lane lane) {
  if (shutdown_) {
    return;
  }
  auto it = dirty_.find(key);
  if (it != dirty_.end()) {
    // Already waiting: only a promotion from the Initial lane to Fresh changes anything.
    if (lane == Lane::Fresh && it->second.lane == Lane::Initial) {
      it->second.lane = Lane::Fresh;
      if (processing_.find(key) == processing_.end()) {
        it->second.seq = ++seq_;
        fresh_.push_back(Slot{key, it->second.seq});
        cv_.notify_one();
      }
    }
    return;
  }
  if (metrics_) {
    metrics_->added();
  }
  Entry e{lane, 0, clock_.now()};
  if (processing_.find(key) != processing_.end()) {
    // In progress: queued again by done(), never handed to a second worker now.
    dirty_.emplace(key, e);
    return;
  }
  e.seq = ++seq_;
  (lane == Lane::Fresh ? fresh_ : initial_).push_back(Slot{key, e.seq});
  dirty_.emplace(key, e);
  ++queued_;
  reportDepthLocked();
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key, Lane lane) {
  std::lock_guard lk(mu_);
  addLocked(key, lane);
}

void WorkQueue::addAfter(const std::string& key, Duration delay) {
  std::lock_guard lk(mu_);
  if (shutdown_) {
    return;
  }
  if (delay <= Duration::zero()) {
    addLocked(key, Lane::Fresh);
    return;
  }
  TimePoint at = clock_.now() + delay;
  auto it = waitingAt_.find(key);
  if (it != waitingAt_.end()) {
    if (it->second <= at) {
      return;
    }
    auto range = waiting_.equal_range(it->second);
    for (auto w = range.first; w != range.second; ++w) {
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
    }
  }
  waitingAt_[key] = at;
  waiting_.emplace(at, key);
  ++waitGen_;
  cv_.notify_all();
}

Duration WorkQueue::addRateLimited(const std::string& key) {
  Duration delay;
  {
    std::lock_guard lk(mu_);
    int n = failures_[key]++;
    double item = static_cast<double>(options_.baseDelay.count()) * std::pow(2.0, n);
    item = std::min(item, static_cast<double>(options_.maxDelay.count()));
    // Token bucket, reservation style: every retry takes a token; without one it waits for the
    // next refill.
    TimePoint now = clock_.now();
    tokens_ = std::min<double>(options_.burst, tokens_ + seconds(now - tokensAt_) * options_.qps);
    tokensAt_ = now;
    tokens_ -= 1.0;
    double bucket = tokens_ >= 0 ? 0.0 : (-tokens_ / options_.qps) * 1e9;
    delay = Duration(static_cast<Duration::rep>(std::max(item, bucket)));
    if (metrics_) {
      metrics_->retried();
    }
  }
  addAfter(key, delay);
  return delay;
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lk(mu_);
  failures_.erase(key);
}

int WorkQueue::numRequeues(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promoteReadyLocked() {
  TimePoint now = clock_.now();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waitingAt_.erase(key);
    addLocked(key, Lane::Fresh);
  }
}

bool WorkQueue::popFromLocked(std::deque<Slot>& q, std::string& out) {
  while (!q.empty()) {
    Slot slot = std::move(q.front());
    q.pop_front();
    auto it = dirty_.find(slot.key);
    if (it == dirty_.end() || it->second.seq != slot.seq) {
      continue;  // stale slot: the key moved lanes
    }
    TimePoint now = clock_.now();
    if (metrics_) {
      metrics_->queueLatency(seconds(now - it->second.since));
    }
    dirty_.erase(it);
    processing_[slot.key] = now;
    --queued_;
    reportDepthLocked();
    out = std::move(slot.key);
    return true;
  }
  return false;
}

std::optional<std::string> WorkQueue::popLocked() {
  promoteReadyLocked();
  if (queued_ == 0) {
    return std::nullopt;
  }
  std::string key;
  bool initialTurn = (++picks_ % kInitialEvery) == 0;
  auto& first = initialTurn ? initial_ : fresh_;
  auto& second = initialTurn ? fresh_ : initial_;
  if (popFromLocked(first, key) || popFromLocked(second, key)) {
    return key;
  }
  return std::nullopt;
}

std::optional<TimePoint> WorkQueue::nextReadyLocked() const {
  if (waiting_.empty()) {
    return std::nullopt;
  }
  return waiting_.begin()->first;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lk(mu_);
  for (;;) {
    if (shutdown_) {
      return std::nullopt;
    }
    if (auto key = popLocked()) {
      return key;
    }
    // Sleep until the earliest delayed key is due; an earlier addAfter (waitGen_) or any add
    // wakes us to re-plan.
    auto next = nextReadyLocked();
    TimePoint deadline = next ? *next : clock_.now() + std::chrono::seconds(1);
    uint64_t gen = waitGen_;
    clock_.waitUntil(lk, cv_, deadline,
                     [&] { return shutdown_ || queued_ > 0 || waitGen_ != gen; });
  }
}

std::optional<std::string> WorkQueue::tryGet() {
  std::lock_guard lk(mu_);
  if (shutdown_) {
    return std::nullopt;
  }
  return popLocked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lk(mu_);
  auto pt = processing_.find(key);
  if (pt == processing_.end()) {
    return;
  }
  TimePoint now = clock_.now();
  if (metrics_) {
    metrics_->workDuration(seconds(now - pt->second));
  }
  processing_.erase(pt);
  auto it = dirty_.find(key);
  if (it != dirty_.end() && !shutdown_) {
    // Changed while in progress: queued once more, now that no worker holds it.
    it->second.seq = ++seq_;
    it->second.since = now;
    (it->second.lane == Lane::Fresh ? fresh_ : initial_).push_back(Slot{key, it->second.seq});
    ++queued_;
    reportDepthLocked();
    cv_.notify_one();
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lk(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lk(mu_);
  return shutdown_;
}

std::size_t WorkQueue::len() const {
  std::lock_guard lk(mu_);
  return queued_;
}

std::size_t WorkQueue::delayed() const {
  std::lock_guard lk(mu_);
  return waiting_.size();
}

void WorkQueue::reportUnfinished() const {
  if (!metrics_) {
    return;
  }
  std::lock_guard lk(mu_);
  TimePoint now = clock_.now();
  double total = 0;
  double longest = 0;
  for (const auto& [key, start] : processing_) {
    double s = seconds(now - start);
    total += s;
    longest = std::max(longest, s);
  }
  metrics_->unfinished(total, longest);
}

}  // namespace waha::kube
