#include "controller/manager.h"

#include "api/defaults.h"
#include "common/log.h"
#include "controller/kinds.h"
#include "controller/views.h"
#include "controller/worker_template.h"

namespace waha::controller {
namespace {

const std::string kWorkerPodSelector =
    "app.kubernetes.io/managed-by=waha-operator,app.kubernetes.io/component=worker";

bool isLive(const std::string& s) {
  return s == "STARTING" || s == "SCAN_QR_CODE" || s == "WORKING";
}

// A 409 means the cache was behind the API server: expected under load, not an error worth a
// log line. The key comes back (rate-limited) and is reconciled against the fresher cache.
Result<Action> quietConflicts(Result<Action> r) {
  if (!r.ok() && r.error().code == 409) {
    return Action::requeue();
  }
  return r;
}

std::string clusterKeyOfSession(const Json& obj) {
  auto v = sessionClusterIndex(obj);
  return v.empty() ? "" : v.front();
}

}  // namespace

Manager::Manager(kube::KubeClient& kube, wahaapi::WahaClient& waha, Clock& clock, Random& random,
                 kube::EventRecorder* events, metrics::Metrics* metrics, ManagerOptions options)
    : kube_(kube), waha_(waha), clock_(clock), options_(std::move(options)) {
  const auto& ns = options_.namespaces;
  clusters_ = std::make_unique<kube::Informer>(kube, kClusters, ns, clock, random);
  sessionsInf_ = std::make_unique<kube::Informer>(kube, kSessions, ns, clock, random);
  kube::WatcherOptions workerOpts;
  workerOpts.labelSelector = kWorkerPodSelector;
  pods_ = std::make_unique<kube::Informer>(kube, kPods, ns, clock, random, workerOpts);
  deployments_ =
      std::make_unique<kube::Informer>(kube, kDeployments, ns, clock, random, workerOpts);
  secrets_ = std::make_unique<kube::Informer>(kube, kSecrets, ns, clock, random);

  for (auto& [name, fn] : sessionIndexes()) {
    sessionsInf_->addIndex(name, fn);
  }
  for (auto& [name, fn] : podIndexes()) {
    pods_->addIndex(name, fn);
  }

  sync_ = std::make_unique<WorkerSync>(waha, clock, random, options_.sync);
  Caches caches{&clusters_->store(), &sessionsInf_->store(), &pods_->store(), &secrets_->store(),
                &deployments_->store()};
  ctx_ = std::make_unique<Context>(kube, waha, clock, caches, *sync_, events);
  if (metrics) {
    opMetrics_ = std::make_unique<metrics::OperatorMetrics>(*metrics);
    ctx_->metrics = opMetrics_.get();
    metrics->addCollectHook([this] { collectGauges(); });
  }
  sessionReconciler_ = std::make_unique<SessionReconciler>(*ctx_, options_.session);
  clusterReconciler_ = std::make_unique<ClusterReconciler>(*ctx_, options_.cluster);

  sessionRunner_ = std::make_unique<Runner>(
      RunnerOptions{"wahasession", options_.sessionWorkers, {}}, clock,
      [this](const std::string& key) { return quietConflicts(sessionReconciler_->reconcile(key)); },
      metrics);
  clusterRunner_ = std::make_unique<Runner>(
      RunnerOptions{"wahacluster", options_.clusterWorkers, {}}, clock,
      [this](const std::string& key) { return quietConflicts(clusterReconciler_->reconcile(key)); },
      metrics);
  ctx_->enqueueCluster = [this](const std::string& k) { clusterRunner_->queue().add(k); };
  ctx_->enqueueSession = [this](const std::string& k) { sessionRunner_->queue().add(k); };
  wireHandlers();
  sync_->setTargets([this] { return syncTargets(); });
  sync_->setOnReport([this](const WorkerTarget& t, const std::optional<WorkerReport>& old,
                            const WorkerReport& now) { onReport(t, old, now); });
}

Manager::~Manager() { stop(); }

void Manager::collectGauges() {
  metrics::OperatorMetrics::Counts sessions;
  metrics::OperatorMetrics::Counts workers;
  for (const auto& c : clusters_->store().list()) {
    // Every phase and state of every cluster, zeros included, so a series drops to 0 rather
    // than vanishing while its cluster exists.
    std::string ns = c->value("/metadata/namespace"_json_pointer, std::string());
    std::string name = c->value("/metadata/name"_json_pointer, std::string());
    for (auto phase :
         {api::SessionPhase::Pending, api::SessionPhase::Scheduled, api::SessionPhase::Starting,
          api::SessionPhase::Running, api::SessionPhase::Stopped, api::SessionPhase::Migrating,
          api::SessionPhase::Failed, api::SessionPhase::Terminating}) {
      sessions[{ns, name, std::string(api::toString(phase))}] = 0;
    }
    for (const char* state : {"Ready", "NotReady", "Terminating"}) {
      workers[{ns, name, state}] = 0;
    }
  }
  for (const auto& s : sessionsInf_->store().list()) {
    std::string phase = s->value("/status/phase"_json_pointer, std::string());
    sessions[{s->value("/metadata/namespace"_json_pointer, std::string()),
              s->value("/spec/clusterRef/name"_json_pointer, std::string()),
              phase.empty() ? "Pending" : phase}] += 1;
  }
  for (const auto& p : pods_->store().list()) {
    auto w = workerPodFrom(*p);
    const char* state = w.terminating ? "Terminating" : w.ready ? "Ready" : "NotReady";
    workers[{w.ns, w.cluster, state}] += 1;
  }
  opMetrics_->setSessions(sessions);
  opMetrics_->setWorkers(workers);
}

void Manager::enqueueSessionsOf(const std::string& index, const std::string& value,
                                bool onlyUnplaced) {
  for (const auto& s : sessionsInf_->store().byIndex(index, value)) {
    if (onlyUnplaced && !sessionWorkerIndex(*s).empty()) {
      continue;
    }
    sessionRunner_->queue().add(kube::objectKey(*s));
  }
}

void Manager::wireHandlers() {
  sessionsInf_->enqueueTo(sessionRunner_->queue());
  clusters_->enqueueTo(clusterRunner_->queue());

  // A session's change changes its cluster's load; a deleted one may free its name for a
  // refused duplicate.
  kube::EventHandler sessionToCluster;
  // Coalesced: a burst of N session changes makes a handful of cluster reconciles (each reads
  // every session of the cluster), not N. Scale-up for a session with no room is immediate
  // (the session reconciler enqueues its cluster directly).
  auto toCluster = [this](const kube::ObjectPtr& o) {
    auto k = clusterKeyOfSession(*o);
    if (!k.empty()) {
      clusterRunner_->queue().addAfter(k, options_.clusterCoalesce);
    }
  };
  sessionToCluster.onAdd = [toCluster](const kube::ObjectPtr& o, bool) { toCluster(o); };
  sessionToCluster.onUpdate = [toCluster](const kube::ObjectPtr& a, const kube::ObjectPtr& b,
                                          bool) {
    if (sessionWorkerIndex(*a) != sessionWorkerIndex(*b) || (*a)["spec"] != (*b)["spec"]) {
      toCluster(b);
    }
  };
  sessionToCluster.onDelete = [this, toCluster](const kube::ObjectPtr& o, bool) {
    toCluster(o);
    for (const auto& v : sessionNameIndex(*o)) {
      enqueueSessionsOf(kBySessionName, v, false);
    }
  };
  sessionsInf_->addHandler(sessionToCluster);

  // A cluster appearing or going concerns all its sessions (ClusterNotFound, and back).
  kube::EventHandler clusterToSessions;
  auto all = [this](const kube::ObjectPtr& o) {
    enqueueSessionsOf(kByCluster, kube::objectKey(*o), false);
  };
  clusterToSessions.onAdd = [all](const kube::ObjectPtr& o, bool fromList) {
    if (!fromList) {
      all(o);
    }
  };
  clusterToSessions.onDelete = [all](const kube::ObjectPtr& o, bool) { all(o); };
  clusters_->addHandler(clusterToSessions);

  // Worker pods: their cluster's status, the sessions they hold (failover, fencing) and, when
  // one becomes Ready, the sessions waiting for room.
  kube::EventHandler podHandler;
  auto podChanged = [this](const kube::ObjectPtr& before, const kube::ObjectPtr& after, bool gone) {
    const Json& o = after ? *after : *before;
    for (const auto& k : podClusterIndex(o)) {
      clusterRunner_->queue().add(k);
    }
    WorkerPod b = before ? workerPodFrom(*before) : WorkerPod{};
    WorkerPod a = after ? workerPodFrom(*after) : WorkerPod{};
    std::string podKey = kube::objectKey(o);
    if (gone || b.ready != a.ready || b.terminating != a.terminating || b.ip != a.ip) {
      enqueueSessionsOf(kByWorker, podKey, false);
    }
    if (!gone && a.ready && !b.ready) {
      for (const auto& k : podClusterIndex(o)) {
        enqueueSessionsOf(kByCluster, k, true);
      }
    }
    if (gone) {
      sync_->forget(podKey);
    }
  };
  podHandler.onAdd = [podChanged](const kube::ObjectPtr& o, bool) {
    podChanged(nullptr, o, false);
  };
  podHandler.onUpdate = [podChanged](const kube::ObjectPtr& a, const kube::ObjectPtr& b, bool) {
    podChanged(a, b, false);
  };
  podHandler.onDelete = [podChanged](const kube::ObjectPtr& o, bool) {
    podChanged(o, nullptr, true);
  };
  pods_->addHandler(podHandler);

  deployments_->enqueueMappedTo(
      clusterRunner_->queue(), [](const Json& o) { return kube::ownerKeys(o, api::kClusterKind); });

  // A Secret's change may be a cluster's API key arriving.
  kube::EventHandler secretHandler;
  auto toClusters = [this](const kube::ObjectPtr& o) {
    auto ns = (*o)["metadata"].value("namespace", "");
    for (const auto& c : clusters_->store().byNamespace(ns)) {
      clusterRunner_->queue().add(kube::objectKey(*c));
    }
  };
  secretHandler.onAdd = [toClusters](const kube::ObjectPtr& o, bool fromList) {
    if (!fromList) {
      toClusters(o);
    }
  };
  secretHandler.onUpdate = [toClusters](const kube::ObjectPtr&, const kube::ObjectPtr& b, bool) {
    toClusters(b);
  };
  secrets_->addHandler(secretHandler);
}

std::vector<WorkerTarget> Manager::syncTargets() {
  std::vector<WorkerTarget> out;
  for (const auto& p : pods_->store().list()) {
    WorkerPod w = workerPodFrom(*p);
    if (w.ip.empty() || !w.ready || w.cluster.empty()) {
      continue;
    }
    auto cluster = clusters_->store().get(kube::objectKey(w.ns, w.cluster));
    if (!cluster) {
      continue;
    }
    auto key = clusterApiKey(*ctx_, *cluster);
    if (!key) {
      continue;
    }
    out.push_back({kube::objectKey(w.ns, w.name), w.name, w.ns, w.cluster,
                   wahaapi::Endpoint{workerBaseUrl(w), *key}});
  }
  return out;
}

void Manager::onReport(const WorkerTarget& t, const std::optional<WorkerReport>& old,
                       const WorkerReport& now) {
  if (!controllersStarted_) {
    return;
  }
  // Enqueue the sessions whose WAHA status changed on this worker (or appeared, or went).
  std::set<std::string> names;
  for (const auto& [name, info] : now.sessions) {
    const wahaapi::SessionInfo* before = nullptr;
    if (old) {
      auto it = old->sessions.find(name);
      before = it == old->sessions.end() ? nullptr : &it->second;
    }
    bool meChanged = before && ((before->me.has_value() != info.me.has_value()) ||
                                (before->me && info.me && before->me->id != info.me->id));
    if (!before || before->status != info.status || meChanged) {
      names.insert(name);
    }
  }
  if (old) {
    for (const auto& [name, info] : old->sessions) {
      if (now.sessions.count(name) == 0) {
        names.insert(name);
      }
    }
  }
  if (old && old->ok != now.ok) {
    enqueueSessionsOf(kByWorker, t.key, false);
  }
  for (const auto& name : names) {
    enqueueSessionsOf(kBySessionName, t.ns + "/" + t.cluster + "/" + name, false);
  }
  if (now.ok) {
    sweepOrphans(t, now);
  }
}

void Manager::sweepOrphans(const WorkerTarget& t, const WorkerReport& report) {
  for (const auto& [name, info] : report.sessions) {
    if (!isLive(info.status)) {
      continue;
    }
    auto owners =
        sessionsInf_->store().byIndex(kBySessionName, t.ns + "/" + t.cluster + "/" + name);
    bool owned = false;
    for (const auto& o : owners) {
      auto worker = sessionWorkerIndex(*o);
      if ((!worker.empty() && worker.front() == t.key) ||
          sessionReconciler_->busy(kube::objectKey(*o))) {
        owned = true;
      }
    }
    if (owned) {
      continue;
    }
    std::string id = t.key + "/" + name;
    {
      std::lock_guard<std::mutex> lk(orphanMu_);
      if (!orphanStops_.insert(id).second) {
        continue;
      }
    }
    std::string why =
        owners.empty() ? "no WahaSession owns it" : "its WahaSession is assigned to another worker";
    log::warn("stopping orphan session", {{"worker", t.key}, {"session", name}, {"reason", why}});
    auto cluster = clusters_->store().get(kube::objectKey(t.ns, t.cluster));
    if (cluster) {
      ctx_->event(*cluster, kube::EventType::Warning, "OrphanStopped",
                  "stopping session " + name + " on worker " + t.pod + ": " + why);
    }
    waha_.stop(t.endpoint, name, [this, id, key = t.key](Status st) {
      if (!st.ok()) {
        log::warn("orphan stop failed", {{"id", id}, {"error", st.error().str()}});
      }
      {
        std::lock_guard<std::mutex> lk(orphanMu_);
        orphanStops_.erase(id);
      }
      sync_->pokeSoon(key);
    });
  }
}

Status Manager::startCaches() {
  for (auto* inf :
       {clusters_.get(), sessionsInf_.get(), pods_.get(), deployments_.get(), secrets_.get()}) {
    inf->start();
  }
  for (auto* inf :
       {clusters_.get(), sessionsInf_.get(), pods_.get(), deployments_.get(), secrets_.get()}) {
    if (!inf->waitForSync(options_.syncTimeout)) {
      return Error::make(0, "CacheSyncTimeout",
                         "cache of " + inf->resource().resource + " did not sync", true);
    }
  }
  log::info("caches synced", {{"sessions", std::to_string(sessionsInf_->store().size())},
                              {"clusters", std::to_string(clusters_->store().size())},
                              {"workers", std::to_string(pods_->store().size())}});
  return {};
}

void Manager::startControllers() {
  if (controllersStarted_.exchange(true)) {
    return;
  }
  sync_->start();
  clusterRunner_->start();
  sessionRunner_->start();
}

void Manager::stop() {
  if (sessionRunner_) {
    sessionRunner_->stop();
  }
  if (clusterRunner_) {
    clusterRunner_->stop();
  }
  if (sync_) {
    sync_->stop();
  }
  for (auto* inf :
       {clusters_.get(), sessionsInf_.get(), pods_.get(), deployments_.get(), secrets_.get()}) {
    if (inf != nullptr) {
      inf->stop();
    }
  }
}

bool Manager::synced() const {
  for (auto* inf :
       {clusters_.get(), sessionsInf_.get(), pods_.get(), deployments_.get(), secrets_.get()}) {
    if (!inf->hasSynced()) {
      return false;
    }
  }
  return true;
}

}  // namespace waha::controller
