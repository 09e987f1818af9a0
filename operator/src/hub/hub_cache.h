#pragma once

// What the hub knows, kept current without an API call per request: informers on the cluster's
// WahaSessions, its worker Pods and the WahaCluster feed a RouteTable; a small thread re-reads the
// API key Secret (GET every keyRefresh; the hub's RBAC has no secret watch).

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "hub/route_table.h"
#include "kube/client.h"
#include "kube/informer.h"

namespace waha::hub {

struct CacheOptions {
  std::string cluster;
  std::string ns;
  int workerPort = 3000;
  std::chrono::seconds keyRefresh{30};
};

class HubCache {
 public:
  HubCache(kube::KubeClient& kube, Clock& clock, Random& random, CacheOptions options);
  ~HubCache();
  HubCache(const HubCache&) = delete;
  HubCache& operator=(const HubCache&) = delete;

  void start();
  void stop();
  // Informers synced and the API key read (or the cluster has none).
  bool ready() const;

  Lookup lookup(const std::string& session) const;
  std::optional<SessionEntry> session(const std::string& name) const;
  std::map<std::string, std::string> readyWorkers() const;
  int workerPort() const { return options_.workerPort; }
  // The cluster's API key; "" when the cluster sets none (then the workers need none either).
  std::shared_ptr<const std::string> apiKey() const;

  // Calls `done(true)` once `pred` holds over the table (checked at once and after every cache
  // change), or `done(false)` when `timeout` passes or the waits are released. Never blocks the
  // caller: every pending wait is kept by one thread of the cache, which also runs `pred` and
  // `done` (keep both short; `pred` must not call back into whenTrue).
  void whenTrue(std::chrono::milliseconds timeout, std::function<bool(const HubCache&)> pred,
                std::function<void(bool)> done);
  // Ends every pending wait now with done(false), and any later one at once (a stopping hub
  // answers them before it drains its connections).
  void releaseWaits();

 private:
  void onSession(const kube::ObjectPtr& oldObj, const kube::ObjectPtr& newObj);
  void onPod(const kube::ObjectPtr& obj, bool removed);
  void changed();
  void keyLoop();
  bool readKey();
  void keyProblem(const std::string& message);

  kube::KubeClient& kube_;
  Clock& clock_;
  CacheOptions options_;
  std::unique_ptr<kube::Informer> sessions_;
  std::unique_ptr<kube::Informer> pods_;
  std::unique_ptr<kube::Informer> clusters_;

  mutable std::shared_mutex tableMu_;
  RouteTable table_;

  mutable std::mutex keyMu_;
  std::shared_ptr<const std::string> key_;
  std::atomic<bool> keyRead_{false};
  std::string lastKeyProblem_;  // the key thread's only

  void waitLoop();

  struct Waiter {
    TimePoint deadline;
    std::function<bool(const HubCache&)> pred;
    std::function<void(bool)> done;
  };
  std::mutex waitMu_;
  std::condition_variable waitCv_;
  std::uint64_t generation_ = 0;  // bumped by every change and every new waiter
  std::vector<Waiter> waiters_;
  bool waitsReleased_ = false;
  std::thread waitThread_;

  std::mutex stopMu_;
  std::condition_variable stopCv_;
  bool stopping_ = false;
  bool keyWake_ = false;  // a cache change while the key is still unread
  std::thread keyThread_;
};

}  // namespace waha::hub
