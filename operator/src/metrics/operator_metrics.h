#pragma once

// The operator's own families (waha_operator_*), beside the controller-runtime ones in
// metrics.h. Every series that does not depend on a cluster exists from start-up; per-cluster
// gauges are rewritten wholesale from the caches before each scrape (setSessions/setWorkers), so a
// deleted cluster's series go away instead of freezing at their last value.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace waha::metrics {

class Metrics;

// Why a session left its worker; also the `reason` label of waha_operator_migrations_total.
inline constexpr std::string_view kMigrationWorkerGone = "worker_gone";
inline constexpr std::string_view kMigrationWorkerTerminating = "worker_terminating";

class OperatorMetrics {
 public:
  // (namespace, cluster, phase-or-state) -> count
  using Counts = std::map<std::tuple<std::string, std::string, std::string>, double>;

  explicit OperatorMetrics(Metrics& metrics);
  ~OperatorMetrics();
  OperatorMetrics(const OperatorMetrics&) = delete;
  OperatorMetrics& operator=(const OperatorMetrics&) = delete;

  // waha_operator_placements_total: a claim on a worker was written.
  void placed();
  // waha_operator_migrations_total{reason}: a session's assignment was released to move it.
  void migrated(std::string_view reason);
  // waha_operator_failovers_total: a worker was declared lost (its pod deleted by the operator
  // after the NotReady timeout, or gone while it held sessions).
  void failover();
  // waha_operator_session_ready_seconds: creation to first WORKING or SCAN_QR_CODE.
  void sessionReady(double seconds);

  // waha_operator_sessions{namespace,cluster,phase}; `counts` is complete: series absent from it
  // are removed.
  void setSessions(const Counts& counts);
  // waha_operator_workers{namespace,cluster,state}.
  void setWorkers(const Counts& counts);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waha::metrics
