#include <atomic>
#include <catch2/catch.hpp>
#include <string>

#include "metrics/metrics.h"
#include "metrics/server.h"
#include "support/test_http.h"

using namespace waha;
using namespace waha::metrics;

namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The value of the sample line that starts with `series ` ("" if absent).
std::string sample(const std::string& text, const std::string& series) {
  size_t pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) {
    return "";
  }
  size_t start = pos + series.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

}  // namespace

TEST_CASE("every controller-runtime series exists from start-up, at zero") {
  Metrics m;
  m.controller("wahasession", 4);
  m.registerRestHost("10.0.0.1:6443");
  m.registerLeaderElection("waha-operator");
  std::string text = m.render();
  for (const char* result : {"success", "error", "requeue", "requeue_after"}) {
    CHECK(sample(text,
                 std::string(
                     "controller_runtime_reconcile_total{controller=\"wahasession\",result=\"") +
                     result + "\"}") == "0");
  }
  CHECK(sample(text, "controller_runtime_reconcile_errors_total{controller=\"wahasession\"}") ==
        "0");
  CHECK(has(text,
            "controller_runtime_reconcile_time_seconds_bucket{controller=\"wahasession\",le=\"0."
            "005\"} 0"));
  CHECK(
      sample(text, "controller_runtime_reconcile_time_seconds_count{controller=\"wahasession\"}") ==
      "0");
  CHECK(sample(text, "controller_runtime_max_concurrent_reconciles{controller=\"wahasession\"}") ==
        "4");
  CHECK(sample(text, "controller_runtime_active_workers{controller=\"wahasession\"}") == "0");
  CHECK(sample(text, "workqueue_depth{name=\"wahasession\"}") == "0");
  CHECK(sample(text, "workqueue_adds_total{name=\"wahasession\"}") == "0");
  CHECK(sample(text, "workqueue_retries_total{name=\"wahasession\"}") == "0");
  CHECK(sample(text, "workqueue_queue_duration_seconds_count{name=\"wahasession\"}") == "0");
  CHECK(sample(text, "workqueue_work_duration_seconds_count{name=\"wahasession\"}") == "0");
  CHECK(sample(text, "workqueue_unfinished_work_seconds{name=\"wahasession\"}") == "0");
  CHECK(sample(text, "workqueue_longest_running_processor_seconds{name=\"wahasession\"}") == "0");
  CHECK(sample(text,
               "rest_client_requests_total{code=\"200\",host=\"10.0.0.1:6443\",method=\"GET\"}") ==
        "0");
  CHECK(sample(text, "leader_election_master_status{name=\"waha-operator\"}") == "0");
  CHECK(has(text, "# TYPE controller_runtime_reconcile_total counter"));
  CHECK(has(text, "# TYPE workqueue_queue_duration_seconds histogram"));
}

TEST_CASE("recorded values show up under the right labels") {
  Metrics m;
  auto& c = m.controller("wahacluster");
  c.reconciled(ReconcileResult::Success, 0.02);
  c.reconciled(ReconcileResult::Error, 0.3);
  c.reconciled(ReconcileResult::RequeueAfter, 0.001);
  c.queue().added();
  c.queue().retried();
  c.queue().depth(7);
  m.restClientRequest(201, "POST", "api:443");
  m.restClientRequest(0, "GET", "api:443");
  m.restClientHook()("POST", 201, "api:443");
  m.setLeader("lock", true);
  std::string text = m.render();
  CHECK(
      sample(text,
             "controller_runtime_reconcile_total{controller=\"wahacluster\",result=\"success\"}") ==
      "1");
  CHECK(sample(text,
               "controller_runtime_reconcile_total{controller=\"wahacluster\",result=\"error\"}") ==
        "1");
  CHECK(sample(text,
               "controller_runtime_reconcile_total{controller=\"wahacluster\",result=\"requeue_"
               "after\"}") == "1");
  CHECK(sample(text, "controller_runtime_reconcile_errors_total{controller=\"wahacluster\"}") ==
        "1");
  CHECK(
      sample(text, "controller_runtime_reconcile_time_seconds_count{controller=\"wahacluster\"}") ==
      "3");
  CHECK(sample(text, "workqueue_adds_total{name=\"wahacluster\"}") == "1");
  CHECK(sample(text, "workqueue_retries_total{name=\"wahacluster\"}") == "1");
  CHECK(sample(text, "workqueue_depth{name=\"wahacluster\"}") == "7");
  CHECK(sample(text, "rest_client_requests_total{code=\"201\",host=\"api:443\",method=\"POST\"}") ==
        "2");
  CHECK(sample(text,
               "rest_client_requests_total{code=\"<error>\",host=\"api:443\",method=\"GET\"}") ==
        "1");
  CHECK(sample(text, "leader_election_master_status{name=\"lock\"}") == "1");
  m.setLeader("lock", false);
  CHECK(sample(m.render(), "leader_election_master_status{name=\"lock\"}") == "0");
}

TEST_CASE("collect hooks run before each scrape") {
  Metrics m;
  auto& c = m.controller("x");
  std::atomic<int> calls{0};
  m.addCollectHook([&] {
    ++calls;
    c.queue().unfinished(2.5, 1.5);
  });
  std::string text = m.render();
  CHECK(calls == 1);
  CHECK(sample(text, "workqueue_unfinished_work_seconds{name=\"x\"}") == "2.5");
  CHECK(sample(text, "workqueue_longest_running_processor_seconds{name=\"x\"}") == "1.5");
}

TEST_CASE("the server answers /metrics, /healthz and /readyz over loopback") {
  Metrics m;
  m.controller("wahasession");
  MetricsServer server(m, http::ServerOptions{});
  std::atomic<bool> synced{false};
  server.addReadinessCheck("caches-synced", [&] { return synced.load(); });
  REQUIRE(server.start().ok());
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto metrics = test::httpGet(base + "/metrics");
  CHECK(metrics.status == 200);
  CHECK(has(metrics.headers.getOr("Content-Type"), "text/plain"));
  CHECK(has(metrics.body, "workqueue_depth{name=\"wahasession\"} 0"));
  CHECK(test::httpGet(base + "/healthz").status == 200);
  auto notReady = test::httpGet(base + "/readyz");
  CHECK(notReady.status == 503);
  CHECK(has(notReady.body, "caches-synced"));
  synced = true;
  CHECK(test::httpGet(base + "/readyz").status == 200);
  CHECK(test::httpGet(base + "/nope").status == 404);
  CHECK(test::httpRequest("POST", base + "/metrics").status == 405);
  server.stop();
}
