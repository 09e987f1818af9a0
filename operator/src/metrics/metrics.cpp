#include "metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <map>
#include <mutex>
#include <vector>

namespace waha::metrics {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// controller-runtime's reconcile_time_seconds buckets.
const Histogram::BucketBoundaries kReconcileBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
    0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
    6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};

// client-go workqueue: ExponentialBuckets(10e-9, 10, 12).
Histogram::BucketBoundaries queueBuckets() {
  Histogram::BucketBoundaries b;
  double v = 10e-9;
  for (int i = 0; i < 12; ++i) {
    b.push_back(v);
    v *= 10;
  }
  return b;
}

const char* resultLabel(ReconcileResult r) {
  switch (r) {
    case ReconcileResult::Success:
      return "success";
    case ReconcileResult::Error:
      return "error";
    case ReconcileResult::Requeue:
      return "requeue";
    case ReconcileResult::RequeueAfter:
      return "requeue_after";
  }
  return "error";
}

struct Families {
  explicit Families(prometheus::Registry& r)
      : reconcileTotal(prometheus::BuildCounter()
                           .Name("controller_runtime_reconcile_total")
                           .Help("Total number of reconciliations per controller")
                           .Register(r)),
        reconcileErrors(prometheus::BuildCounter()
                            .Name("controller_runtime_reconcile_errors_total")
                            .Help("Total number of reconciliation errors per controller")
                            .Register(r)),
        reconcileTime(prometheus::BuildHistogram()
                          .Name("controller_runtime_reconcile_time_seconds")
                          .Help("Length of time per reconciliation per controller")
                          .Register(r)),
        maxConcurrent(prometheus::BuildGauge()
                          .Name("controller_runtime_max_concurrent_reconciles")
                          .Help("Maximum number of concurrent reconciles per controller")
                          .Register(r)),
        activeWorkers(prometheus::BuildGauge()
                          .Name("controller_runtime_active_workers")
                          .Help("Number of currently used workers per controller")
                          .Register(r)),
        depth(prometheus::BuildGauge()
                  .Name("workqueue_depth")
                  .Help("Current depth of workqueue")
                  .Register(r)),
        adds(prometheus::BuildCounter()
                 .Name("workqueue_adds_total")
                 .Help("Total number of adds handled by workqueue")
                 .Register(r)),
        retries(prometheus::BuildCounter()
                    .Name("workqueue_retries_total")
                    .Help("Total number of retries handled by workqueue")
                    .Register(r)),
        queueDuration(prometheus::BuildHistogram()
                          .Name("workqueue_queue_duration_seconds")
                          .Help("How long in seconds an item stays in workqueue before being "
                                "requested")
                          .Register(r)),
        workDuration(prometheus::BuildHistogram()
                         .Name("workqueue_work_duration_seconds")
                         .Help("How long in seconds processing an item from workqueue takes")
                         .Register(r)),
        unfinished(prometheus::BuildGauge()
                       .Name("workqueue_unfinished_work_seconds")
                       .Help("How many seconds of work has been done that is in progress and "
                             "hasn't been observed by work_duration")
                       .Register(r)),
        longest(prometheus::BuildGauge()
                    .Name("workqueue_longest_running_processor_seconds")
                    .Help("How many seconds has the longest running processor for workqueue "
                          "been running")
                    .Register(r)),
        restRequests(prometheus::BuildCounter()
                         .Name("rest_client_requests_total")
                         .Help("Number of HTTP requests, partitioned by status code, method, and "
                               "host")
                         .Register(r)),
        leader(prometheus::BuildGauge()
                   .Name("leader_election_master_status")
                   .Help("Gauge of if the reporting system is master of the relevant lease, 0 "
                         "indicates backup, 1 indicates master. 'name' is the string used to "
                         "identify the lease")
                   .Register(r)) {}

  Family<Counter>& reconcileTotal;
  Family<Counter>& reconcileErrors;
  Family<Histogram>& reconcileTime;
  Family<Gauge>& maxConcurrent;
  Family<Gauge>& activeWorkers;
  Family<Gauge>& depth;
  Family<Counter>& adds;
  Family<Counter>& retries;
  Family<Histogram>& queueDuration;
  Family<Histogram>& workDuration;
  Family<Gauge>& unfinished;
  Family<Gauge>& longest;
  Family<Counter>& restRequests;
  Family<Gauge>& leader;
};

class PromQueueMetrics final : public kube::QueueMetrics {
 public:
  PromQueueMetrics(Families& f, const std::string& name) {
    prometheus::Labels l{{"name", name}};
    depth_ = &f.depth.Add(l);
    adds_ = &f.adds.Add(l);
    retries_ = &f.retries.Add(l);
    queueDuration_ = &f.queueDuration.Add(l, queueBuckets());
    workDuration_ = &f.workDuration.Add(l, queueBuckets());
    unfinished_ = &f.unfinished.Add(l);
    longest_ = &f.longest.Add(l);
  }
  void added() override { adds_->Increment(); }
  void depth(std::size_t n) override { depth_->Set(static_cast<double>(n)); }
  void retried() override { retries_->Increment(); }
  void queueLatency(double s) override { queueDuration_->Observe(s); }
  void workDuration(double s) override { workDuration_->Observe(s); }
  void unfinished(double total, double longest) override {
    unfinished_->Set(total);
    longest_->Set(longest);
  }

 private:
  Gauge* depth_;
  Counter* adds_;
  Counter* retries_;
  Histogram* queueDuration_;
  Histogram* workDuration_;
  Gauge* unfinished_;
  Gauge* longest_;
};

class PromControllerMetrics final : public ControllerMetrics {
 public:
  PromControllerMetrics(Families& f, const std::string& name, int maxConcurrent) : queue_(f, name) {
    prometheus::Labels l{{"controller", name}};
    for (auto r : {ReconcileResult::Success, ReconcileResult::Error, ReconcileResult::Requeue,
                   ReconcileResult::RequeueAfter}) {
      totals_[static_cast<int>(r)] =
          &f.reconcileTotal.Add({{"controller", name}, {"result", resultLabel(r)}});
    }
    errors_ = &f.reconcileErrors.Add(l);
    time_ = &f.reconcileTime.Add(l, kReconcileBuckets);
    f.maxConcurrent.Add(l).Set(maxConcurrent);
    active_ = &f.activeWorkers.Add(l);
  }
  void reconciled(ReconcileResult r, double seconds) override {
    totals_[static_cast<int>(r)]->Increment();
    if (r == ReconcileResult::Error) {
      errors_->Increment();
    }
    time_->Observe(seconds);
  }
  void activeWorkers(int delta) override { active_->Increment(delta); }
  kube::QueueMetrics& queue() override { return queue_; }

 private:
  PromQueueMetrics queue_;
  Counter* totals_[4] = {};
  Counter* errors_;
  Histogram* time_;
  Gauge* active_;
};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  Families families{*registry};
  std::mutex mu;
  std::map<std::string, std::unique_ptr<PromControllerMetrics>> controllers;
  std::vector<std::function<void()>> hooks;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

ControllerMetrics& Metrics::controller(const std::string& name, int maxConcurrentReconciles) {
  std::lock_guard lk(impl_->mu);
  auto& slot = impl_->controllers[name];
  if (!slot) {
    slot = std::make_unique<PromControllerMetrics>(impl_->families, name, maxConcurrentReconciles);
  }
  return *slot;
}

void Metrics::restClientRequest(int code, std::string_view method, std::string_view host) {
  // client-go labels transport failures "<error>".
  std::string c = code > 0 ? std::to_string(code) : "<error>";
  impl_->families.restRequests
      .Add({{"code", c}, {"method", std::string(method)}, {"host", std::string(host)}})
      .Increment();
}

void Metrics::registerRestHost(std::string_view host) {
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    for (const char* code : {"200", "201", "404", "409", "500"}) {
      impl_->families.restRequests.Add(
          {{"code", code}, {"method", method}, {"host", std::string(host)}});
    }
  }
}

std::function<void(const std::string&, int, const std::string&)> Metrics::restClientHook() {
  return [this](const std::string& method, int code, const std::string& host) {
    restClientRequest(code, method, host);
  };
}

void Metrics::registerLeaderElection(const std::string& name) {
  impl_->families.leader.Add({{"name", name}});
}

void Metrics::setLeader(const std::string& name, bool leading) {
  impl_->families.leader.Add({{"name", name}}).Set(leading ? 1 : 0);
}

void Metrics::addCollectHook(std::function<void()> hook) {
  std::lock_guard lk(impl_->mu);
  impl_->hooks.push_back(std::move(hook));
}

std::string Metrics::render() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lk(impl_->mu);
    hooks = impl_->hooks;
  }
  for (const auto& h : hooks) {
    h();
  }
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace waha::metrics
