#include "hub/hub_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <shared_mutex>
#include <unordered_map>

namespace waha::hub {
namespace {

const char* const kRoutes[] = {
    "local",           "refused",         "unknown",         "sessions.list",
    "sessions.create", "sessions.update", "sessions.start",  "sessions.stop",
    "sessions.delete", "sessions.proxy",  "sessions.logout", "session.path",
    "session.body",    "session.query",   "files",           "ws"};
const char* const kReasons[] = {"unknown", "unplaced",  "moving",      "unauthorized",
                                "refused", "not_ready", "bad_request", "upstream_error"};

}  // namespace

struct HubMetrics::Impl {
  explicit Impl(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("waha_hub_requests_total")
                     .Help("Requests answered by the hub, by status code and route family")
                     .Register(r)),
        upstreamSeconds(prometheus::BuildHistogram()
                            .Name("waha_hub_upstream_seconds")
                            .Help("Time from a request sent to a worker to its answer head")
                            .Register(r)),
        misses(prometheus::BuildCounter()
                   .Name("waha_hub_route_misses_total")
                   .Help("Requests the hub could not send to a worker, by reason")
                   .Register(r)),
        upstream(upstreamSeconds.Add({}, prometheus::Histogram::BucketBoundaries{
                                             0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25, 0.5, 1, 2.5, 5, 10, 30, 60})) {}

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& upstreamSeconds;
  prometheus::Family<prometheus::Counter>& misses;
  prometheus::Histogram& upstream;
  // The request counters already looked up, by code and route: Family::Add builds a label map
  // and takes the family's lock, too much for every request.
  std::shared_mutex mu;
  std::unordered_map<std::string, prometheus::Counter*> counters;
};

HubMetrics::HubMetrics(metrics::Metrics& metrics)
    : impl_(std::make_unique<Impl>(metrics.registry())) {
  for (const char* route : kRoutes) {
    impl_->requests.Add({{"code", "200"}, {"route", route}});
  }
  for (const char* reason : kReasons) {
    impl_->misses.Add({{"reason", reason}});
  }
}

HubMetrics::~HubMetrics() = default;

void HubMetrics::request(int code, const std::string& route) {
  std::string key = std::to_string(code);
  key += ' ';
  key += route;
  {
    std::shared_lock<std::shared_mutex> lk(impl_->mu);
    auto it = impl_->counters.find(key);
    if (it != impl_->counters.end()) {
      it->second->Increment();
      return;
    }
  }
  auto& c = impl_->requests.Add({{"code", std::to_string(code)}, {"route", route}});
  std::unique_lock<std::shared_mutex> lk(impl_->mu);
  impl_->counters.emplace(std::move(key), &c);
  c.Increment();
}

void HubMetrics::upstream(double seconds) { impl_->upstream.Observe(seconds); }

void HubMetrics::miss(const std::string& reason) {
  impl_->misses.Add({{"reason", reason}}).Increment();
}

}  // namespace waha::hub
