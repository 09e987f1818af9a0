#include <catch2/catch.hpp>
#include <string>

#include "metrics/metrics.h"
#include "metrics/operator_metrics.h"

using namespace waha::metrics;

namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("waha_operator_* series that do not depend on a cluster exist from start-up") {
  Metrics m;
  OperatorMetrics op(m);
  auto text = m.render();
  CHECK(has(text, "waha_operator_placements_total 0"));
  CHECK(has(text, "waha_operator_failovers_total 0"));
  CHECK(has(text, "waha_operator_migrations_total{reason=\"worker_gone\"} 0"));
  CHECK(has(text, "waha_operator_migrations_total{reason=\"worker_terminating\"} 0"));
  CHECK(has(text, "waha_operator_session_ready_seconds_count 0"));
}

TEST_CASE("counters and the ready histogram count what happened") {
  Metrics m;
  OperatorMetrics op(m);
  op.placed();
  op.placed();
  op.failover();
  op.migrated(kMigrationWorkerGone);
  op.migrated("drain");
  op.sessionReady(1.5);
  op.sessionReady(40);
  auto text = m.render();
  CHECK(has(text, "waha_operator_placements_total 2"));
  CHECK(has(text, "waha_operator_failovers_total 1"));
  CHECK(has(text, "waha_operator_migrations_total{reason=\"worker_gone\"} 1"));
  CHECK(has(text, "waha_operator_migrations_total{reason=\"drain\"} 1"));
  CHECK(has(text, "waha_operator_session_ready_seconds_count 2"));
  CHECK(has(text, "waha_operator_session_ready_seconds_bucket{le=\"2\"} 1"));
  CHECK(has(text, "waha_operator_session_ready_seconds_bucket{le=\"60\"} 2"));
}

TEST_CASE("per-cluster gauges are replaced wholesale: a deleted cluster's series go away") {
  Metrics m;
  OperatorMetrics op(m);
  op.setSessions({{{"ns", "a", "Running"}, 3}, {{"ns", "b", "Pending"}, 1}});
  op.setWorkers({{{"ns", "a", "Ready"}, 2}});
  auto text = m.render();
  CHECK(has(text, "waha_operator_sessions{cluster=\"a\",namespace=\"ns\",phase=\"Running\"} 3"));
  CHECK(has(text, "waha_operator_sessions{cluster=\"b\",namespace=\"ns\",phase=\"Pending\"} 1"));
  CHECK(has(text, "waha_operator_workers{cluster=\"a\",namespace=\"ns\",state=\"Ready\"} 2"));

  op.setSessions({{{"ns", "a", "Running"}, 0}});
  text = m.render();
  CHECK(has(text, "waha_operator_sessions{cluster=\"a\",namespace=\"ns\",phase=\"Running\"} 0"));
  CHECK(text.find("cluster=\"b\"") == std::string::npos);
}
