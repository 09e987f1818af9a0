#pragma once

// What the reconcilers share: the API client, the caches (read handles only: the informers are
// the single writers), the WAHA client, the worker status cache, events and time.

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "kube/store.h"
#include "metrics/operator_metrics.h"
#include "waha/client.h"

namespace waha::controller {

using Json = nlohmann::json;

class WorkerSync;

struct Caches {
  const kube::Store* clusters = nullptr;
  const kube::Store* sessions = nullptr;
  const kube::Store* pods = nullptr;  // worker pods only (label-filtered informer)
  const kube::Store* secrets = nullptr;
  const kube::Store* deployments = nullptr;  // worker Deployments only
};

// Claims written moments ago that the session cache may not show yet. Placement counts them so a
// burst never overfills a worker; an entry goes once the cache shows the claim (or it expires).
class ClaimLedger {
 public:
  void add(const std::string& workerKey, const std::string& sessionKey, TimePoint at);
  void remove(const std::string& workerKey, const std::string& sessionKey);
  // Sessions claimed on `workerKey`, younger than `ttl`, that the cache does not show there yet
  // (`cached(sessionKey)` false). Claims the cache shows, or older than `ttl`, are dropped here:
  // the index counts them from then on, so the ledger only holds claims in flight.
  int extraLoad(const std::string& workerKey,
                const std::function<bool(const std::string& sessionKey)>& cached, TimePoint now,
                Duration ttl);
  // Serialises choose-and-claim within one cluster across reconcile workers.
  std::mutex& clusterLock(const std::string& clusterKey);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, TimePoint>> claims_;
  std::map<std::string, std::unique_ptr<std::mutex>> clusterLocks_;
};

struct Context {
  Context(kube::KubeClient& k, wahaapi::WahaClient& w, Clock& c, Caches ca, WorkerSync& s,
          kube::EventRecorder* e)
      : kube(k), waha(w), clock(c), caches(ca), sync(s), events(e) {}

  kube::KubeClient& kube;
  wahaapi::WahaClient& waha;
  Clock& clock;
  Caches caches;
  WorkerSync& sync;
  kube::EventRecorder* events = nullptr;        // may be null in tests
  metrics::OperatorMetrics* metrics = nullptr;  // may be null in tests
  ClaimLedger claims;
  std::function<void(const std::string& clusterKey)> enqueueCluster;
  std::function<void(const std::string& sessionKey)> enqueueSession;

  void event(const Json& obj, kube::EventType type, const std::string& reason,
             const std::string& message) const;
};

// The API key of a cluster's workers (from its Secret); nullopt when the Secret or key is missing.
std::optional<std::string> clusterApiKey(const Context& ctx, const Json& cluster);

}  // namespace waha::controller
