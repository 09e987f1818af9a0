#pragma once

// Wires the controller together: informers (WahaClusters, WahaSessions, worker Pods and
// Deployments, Secrets), their event-to-key mappings, the two runners, the worker sync and the
// orphan sweep. main.cpp builds the concrete clients and hands them in.

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "controller/cluster_reconciler.h"
#include "controller/context.h"
#include "controller/runner.h"
#include "controller/session_reconciler.h"
#include "controller/worker_sync.h"
#include "kube/informer.h"
#include "metrics/metrics.h"

namespace waha::controller {

struct ManagerOptions {
  std::vector<std::string> namespaces;  // empty = all namespaces
  int sessionWorkers = 8;
  int clusterWorkers = 2;
  WorkerSyncOptions sync;
  SessionReconcilerOptions session;
  ClusterReconcilerOptions cluster;
  Duration syncTimeout = std::chrono::seconds(60);
  // Session changes reach their cluster's reconcile at most this late (coalescing bursts).
  Duration clusterCoalesce = std::chrono::milliseconds(500);
};

class Manager {
 public:
  Manager(kube::KubeClient& kube, wahaapi::WahaClient& waha, Clock& clock, Random& random,
          kube::EventRecorder* events, metrics::Metrics* metrics, ManagerOptions options);
  ~Manager();

  // Starts the informers and waits for their caches; fails if they do not sync in time.
  Status startCaches();
  // Starts reconciling (call once leading).
  void startControllers();
  void stop();
  bool synced() const;

  SessionReconciler& sessions() { return *sessionReconciler_; }

 private:
  void wireHandlers();
  std::vector<WorkerTarget> syncTargets();
  void onReport(const WorkerTarget& t, const std::optional<WorkerReport>& old,
                const WorkerReport& now);
  void sweepOrphans(const WorkerTarget& t, const WorkerReport& report);
  void enqueueSessionsOf(const std::string& index, const std::string& value, bool onlyUnplaced);
  // Refreshes waha_operator_sessions / waha_operator_workers from the caches (before a scrape).
  void collectGauges();

  kube::KubeClient& kube_;
  wahaapi::WahaClient& waha_;
  Clock& clock_;
  ManagerOptions options_;
  std::unique_ptr<kube::Informer> clusters_;
  std::unique_ptr<kube::Informer> sessionsInf_;
  std::unique_ptr<kube::Informer> pods_;
  std::unique_ptr<kube::Informer> deployments_;
  std::unique_ptr<kube::Informer> secrets_;
  std::unique_ptr<WorkerSync> sync_;
  std::unique_ptr<metrics::OperatorMetrics> opMetrics_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<SessionReconciler> sessionReconciler_;
  std::unique_ptr<ClusterReconciler> clusterReconciler_;
  std::unique_ptr<Runner> sessionRunner_;
  std::unique_ptr<Runner> clusterRunner_;
  std::mutex orphanMu_;
  std::set<std::string> orphanStops_;  // "ns/pod/session" in flight
  std::atomic<bool> controllersStarted_{false};
};

}  // namespace waha::controller
