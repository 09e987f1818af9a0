#pragma once

// The live WAHA status of every worker, from one `GET /api/sessions?all=true` per worker per sync
// interval (jittered), never one call per session. Reconcilers read the cached reports; a change
// of a session's status on a worker enqueues that session.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/random.h"
#include "waha/client.h"

namespace waha::controller {

struct WorkerReport {
  TimePoint at{};   // when the answer arrived
  bool ok = false;  // false: the last poll failed (see error)
  std::string error;
  int consecutiveFailures = 0;
  std::map<std::string, wahaapi::SessionInfo> sessions;  // by WAHA session name
};

struct WorkerTarget {
  std::string key;  // "ns/pod"
  std::string pod;
  std::string ns;
  std::string cluster;
  wahaapi::Endpoint endpoint;
};

struct WorkerSyncOptions {
  Duration interval = std::chrono::seconds(5);
  double jitter = 0.2;  // each poll comes after interval * (1 +- jitter)
};

class WorkerSync {
 public:
  // `targets` lists the workers to poll now (Ready pods with an IP and a known key);
  // `onReport` runs after each poll, on a WAHA client thread, with the previous and new report.
  using Targets = std::function<std::vector<WorkerTarget>()>;
  using OnReport = std::function<void(const WorkerTarget&, const std::optional<WorkerReport>& old,
                                      const WorkerReport& now)>;

  WorkerSync(wahaapi::WahaClient& waha, Clock& clock, Random& random, WorkerSyncOptions options);
  ~WorkerSync();

  void setTargets(Targets targets) { targets_ = std::move(targets); }
  void setOnReport(OnReport fn) { onReport_ = std::move(fn); }
  void start();
  void stop();

  std::optional<WorkerReport> report(const std::string& workerKey) const;
  // Polls this worker as soon as possible (after a start or stop, to see its effect quickly).
  void pokeSoon(const std::string& workerKey);
  // Forgets a worker (pod gone).
  void forget(const std::string& workerKey);

 private:
  void loop();
  void poll(const WorkerTarget& t);
  Duration nextDelay();

  wahaapi::WahaClient& waha_;
  Clock& clock_;
  Random& random_;
  WorkerSyncOptions options_;
  Targets targets_;
  OnReport onReport_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, WorkerReport> reports_;
  std::map<std::string, TimePoint> due_;
  std::map<std::string, bool> inFlight_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace waha::controller
