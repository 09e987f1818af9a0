#pragma once

// The operator's Prometheus metrics, named as controller-runtime names them so existing
// dashboards work. Every series exists from start-up (controller-runtime's initMetrics): a
// controller's series are all created when it is registered, not on first use.
//
// prometheus-cpp stays inside metrics/*.cpp (pimpl), so this header is cheap to include.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kube/work_queue.h"

namespace prometheus {
class Registry;
}

namespace waha::metrics {

enum class ReconcileResult { Success, Error, Requeue, RequeueAfter };

// One controller's series: controller_runtime_* with {controller=name} and workqueue_* with
// {name=name}.
class ControllerMetrics {
 public:
  virtual ~ControllerMetrics() = default;
  // reconcile_total{result}, reconcile_time_seconds, and reconcile_errors_total on Error.
  virtual void reconciled(ReconcileResult result, double seconds) = 0;
  virtual void activeWorkers(int delta) = 0;
  // Hooks for the controller's WorkQueue (workqueue_*).
  virtual kube::QueueMetrics& queue() = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Registers (once) and returns the series of controller `name`.
  ControllerMetrics& controller(const std::string& name, int maxConcurrentReconciles = 1);

  // rest_client_requests_total{code,method,host}. The HTTP client's request hook calls this;
  // code is the HTTP status, or 0 / "<error>" for transport failures.
  void restClientRequest(int code, std::string_view method, std::string_view host);
  // Creates the usual series for `host` up front (2xx/4xx/5xx codes of every verb at 0) so they
  // exist before the first request.
  void registerRestHost(std::string_view host);
  // Shaped like kube::RestOptions::onRequest (method, code, host).
  std::function<void(const std::string&, int, const std::string&)> restClientHook();

  // leader_election_master_status{name}: 1 while leading.
  void registerLeaderElection(const std::string& name);
  void setLeader(const std::string& name, bool leading);

  // Runs before each scrape (e.g. WorkQueue::reportUnfinished).
  void addCollectHook(std::function<void()> hook);
  // The Prometheus text exposition of everything registered.
  std::string render();
  // For other folders adding their own families (hub, controller).
  prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waha::metrics
