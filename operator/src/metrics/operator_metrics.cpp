#include "metrics/operator_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <mutex>

#include "metrics/metrics.h"

namespace waha::metrics {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Session start-up runs from seconds (a paired session on a warm worker) to minutes (a new
// worker pod scheduled and pulled first).
const Histogram::BucketBoundaries kReadyBuckets = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600};

// A gauge family whose label sets are replaced wholesale.
class GaugeTable {
 public:
  GaugeTable(Family<Gauge>& family, std::string lastLabel)
      : family_(family), lastLabel_(std::move(lastLabel)) {}

  void set(const OperatorMetrics::Counts& counts) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto it = gauges_.begin(); it != gauges_.end();) {
      if (counts.count(it->first) == 0) {
        family_.Remove(it->second);
        it = gauges_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [labels, value] : counts) {
      auto it = gauges_.find(labels);
      if (it == gauges_.end()) {
        const auto& [ns, cluster, last] = labels;
        Gauge* g = &family_.Add({{"namespace", ns}, {"cluster", cluster}, {lastLabel_, last}});
        it = gauges_.emplace(labels, g).first;
      }
      it->second->Set(value);
    }
  }

 private:
  Family<Gauge>& family_;
  std::string lastLabel_;
  std::mutex mu_;
  std::map<OperatorMetrics::Counts::key_type, Gauge*> gauges_;
};

}  // namespace

struct OperatorMetrics::Impl {
  explicit Impl(prometheus::Registry& r)
      : placements(prometheus::BuildCounter()
                       .Name("waha_operator_placements_total")
                       .Help("Sessions claimed on a worker (claim written)")
                       .Register(r)
                       .Add({})),
        migrations(prometheus::BuildCounter()
                       .Name("waha_operator_migrations_total")
                       .Help("Sessions released from their worker to move elsewhere, by reason")
                       .Register(r)),
        failovers(prometheus::BuildCounter()
                      .Name("waha_operator_failovers_total")
                      .Help("Workers declared lost (deleted after the NotReady timeout)")
                      .Register(r)
                      .Add({})),
        ready(prometheus::BuildHistogram()
                  .Name("waha_operator_session_ready_seconds")
                  .Help("Time from a WahaSession's creation to WAHA status WORKING or SCAN_QR_CODE")
                  .Register(r)
                  .Add({}, kReadyBuckets)),
        sessionsFamily(prometheus::BuildGauge()
                           .Name("waha_operator_sessions")
                           .Help("WahaSessions by cluster and phase")
                           .Register(r)),
        workersFamily(prometheus::BuildGauge()
                          .Name("waha_operator_workers")
                          .Help("Worker pods by cluster and state (Ready, NotReady, Terminating)")
                          .Register(r)),
        sessions(sessionsFamily, "phase"),
        workers(workersFamily, "state") {
    for (auto reason : {kMigrationWorkerGone, kMigrationWorkerTerminating}) {
      migrationsBy.emplace(std::string(reason), &migrations.Add({{"reason", std::string(reason)}}));
    }
  }

  Counter& placements;
  Family<Counter>& migrations;
  Counter& failovers;
  Histogram& ready;
  Family<Gauge>& sessionsFamily;
  Family<Gauge>& workersFamily;
  GaugeTable sessions;
  GaugeTable workers;
  std::mutex mu;
  std::map<std::string, Counter*, std::less<>> migrationsBy;
};

OperatorMetrics::OperatorMetrics(Metrics& metrics)
    : impl_(std::make_unique<Impl>(metrics.registry())) {}

OperatorMetrics::~OperatorMetrics() = default;

void OperatorMetrics::placed() { impl_->placements.Increment(); }

void OperatorMetrics::migrated(std::string_view reason) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  auto it = impl_->migrationsBy.find(reason);
  if (it == impl_->migrationsBy.end()) {
    it =
        impl_->migrationsBy
            .emplace(std::string(reason), &impl_->migrations.Add({{"reason", std::string(reason)}}))
            .first;
  }
  it->second->Increment();
}

void OperatorMetrics::failover() { impl_->failovers.Increment(); }

void OperatorMetrics::sessionReady(double seconds) { impl_->ready.Observe(seconds); }

void OperatorMetrics::setSessions(const Counts& counts) { impl_->sessions.set(counts); }

void OperatorMetrics::setWorkers(const Counts& counts) { impl_->workers.set(counts); }

}  // namespace waha::metrics
