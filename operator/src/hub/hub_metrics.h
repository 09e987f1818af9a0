#pragma once

// The hub's Prometheus series (in the process's metrics::Metrics registry). Every series exists
// from start-up: each route label with code 200, each miss reason at 0.

#include <memory>
#include <string>

#include "metrics/metrics.h"

namespace waha::hub {

class HubMetrics {
 public:
  explicit HubMetrics(metrics::Metrics& metrics);
  ~HubMetrics();
  HubMetrics(const HubMetrics&) = delete;
  HubMetrics& operator=(const HubMetrics&) = delete;

  // waha_hub_requests_total{code,route}
  void request(int code, const std::string& route);
  // waha_hub_upstream_seconds: request sent to a worker -> its answer head received.
  void upstream(double seconds);
  // waha_hub_route_misses_total{reason}: unknown, unplaced, moving, unauthorized, refused,
  // not_ready, upstream_error, bad_request.
  void miss(const std::string& reason);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waha::hub
