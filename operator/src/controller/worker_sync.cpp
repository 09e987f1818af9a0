#include "controller/worker_sync.h"

#include <algorithm>
#include <vector>

#include "common/log.h"

namespace waha::controller {

WorkerSync::WorkerSync(wahaapi::WahaClient& waha, Clock& clock, Random& random,
                       WorkerSyncOptions options)
    : waha_(waha), clock_(clock), random_(random), options_(options) {}

WorkerSync::~WorkerSync() { stop(); }

void WorkerSync::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void WorkerSync::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::optional<WorkerReport> WorkerSync::report(const std::string& workerKey) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = reports_.find(workerKey);
  if (it == reports_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void WorkerSync::pokeSoon(const std::string& workerKey) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    due_[workerKey] = clock_.now();
  }
  cv_.notify_all();
}

void WorkerSync::forget(const std::string& workerKey) {
  std::lock_guard<std::mutex> lk(mu_);
  reports_.erase(workerKey);
  due_.erase(workerKey);
}

Duration WorkerSync::nextDelay() {
  double f = 1.0 + options_.jitter * (2.0 * random_.uniform() - 1.0);
  return Duration(static_cast<Duration::rep>(static_cast<double>(options_.interval.count()) * f));
}

void WorkerSync::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    lk.unlock();
    std::vector<WorkerTarget> targets = targets_ ? targets_() : std::vector<WorkerTarget>{};
    lk.lock();
    TimePoint now = clock_.now();
    std::vector<WorkerTarget> due;
    for (const auto& t : targets) {
      auto d = due_.find(t.key);
      if (d == due_.end()) {
        // New worker: first poll soon, spread so a fresh start does not poll all at once.
        due_[t.key] = now + Duration(static_cast<Duration::rep>(
                                static_cast<double>(std::chrono::milliseconds(200).count()) * 1e6 *
                                random_.uniform()));
        continue;
      }
      if (d->second <= now && !inFlight_[t.key]) {
        inFlight_[t.key] = true;
        d->second = now + nextDelay();
        due.push_back(t);
      }
    }
    lk.unlock();
    for (const auto& t : due) {
      poll(t);
    }
    lk.lock();
    clock_.waitUntil(lk, cv_, clock_.now() + std::chrono::milliseconds(100),
                     [this] { return stopping_; });
  }
}

void WorkerSync::poll(const WorkerTarget& t) {
  waha_.list(t.endpoint, [this, t](Result<std::vector<wahaapi::SessionInfo>> r) {
    WorkerReport rep;
    rep.at = clock_.now();
    std::optional<WorkerReport> old;
    {
      std::lock_guard<std::mutex> lk(mu_);
      inFlight_[t.key] = false;
      auto it = reports_.find(t.key);
      if (it != reports_.end()) {
        old = it->second;
      }
    }
    if (r.ok()) {
      rep.ok = true;
      for (auto& s : *r) {
        rep.sessions[s.name] = std::move(s);
      }
    } else {
      rep.ok = false;
      rep.error = r.error().str();
      rep.consecutiveFailures = old ? old->consecutiveFailures + 1 : 1;
      // Keep what was last seen: a failed poll says nothing new about the sessions.
      if (old) {
        rep.sessions = old->sessions;
      }
      if (rep.consecutiveFailures == 1) {
        log::warn("worker poll failed", {{"worker", t.key}, {"error", rep.error}});
      }
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (due_.count(t.key) == 0) {
        return;  // forgotten meanwhile (pod gone)
      }
      reports_[t.key] = rep;
    }
    if (onReport_) {
      onReport_(t, old, rep);
    }
  });
}

}  // namespace waha::controller
