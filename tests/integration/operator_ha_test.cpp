// Two operator replicas with leader election on kube-sim: only the leader reconciles; when it is
// killed mid-burst the standby takes over within the lease duration without placing any session
// twice; a replica stopped with SIGTERM releases the Lease so the other takes over at once. Also
// checks the operator's own metric families on the live leader.

#include <catch2/catch.hpp>
#include <string>

#include "operator_world.h"

using namespace waha;
using namespace waha::test;

namespace {

// The Lease's holder ("<host>_<pid>"), or "" when nobody holds it.
std::string leaseHolder(World& w) {
  auto lease = w.get("lease/waha-operator");
  if (!lease.is_object() || !lease.contains("spec")) {
    return "";
  }
  return lease["spec"].value("holderIdentity", "");
}

// Which replica holds the Lease: 0, 1, or -1.
int leader(World& w) {
  std::string holder = leaseHolder(w);
  for (int i = 0; i < 2; ++i) {
    std::string suffix = "_" + std::to_string(w.op(i).pid());
    if (holder.size() > suffix.size() &&
        holder.compare(holder.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return i;
    }
  }
  return -1;
}

bool hasLine(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("operator HA: standby takes over a killed leader mid-burst; no session placed twice") {
  World w(2);
  w.apply(clusterYaml(40, 3, 3));
  int first = -1;
  REQUIRE(waitFor([&] { return (first = leader(w)) >= 0; }, std::chrono::seconds(30)));
  const int standby = 1 - first;
  // Both replicas are alive and have synced caches; only the leader says so in its metrics.
  for (int i = 0; i < 2; ++i) {
    auto port = std::to_string(w.metricsPort(i));
    REQUIRE(waitFor([&] { return httpGet("http://127.0.0.1:" + port + "/readyz").status == 200; },
                    std::chrono::seconds(30)));
    REQUIRE(httpGet("http://127.0.0.1:" + port + "/healthz").status == 200);
  }
  REQUIRE(hasLine(w.scrape(first), "leader_election_master_status{name=\"waha-operator\"} 1"));
  REQUIRE(hasLine(w.scrape(standby), "leader_election_master_status{name=\"waha-operator\"} 0"));

  w.apply(sessionsYaml(1, 100));
  REQUIRE(waitFor(
      [&] {
        int claimed = 0;
        for (const auto& s : w.sessions()) {
          claimed += s.contains("status") && !s["status"].value("worker", "").empty() ? 1 : 0;
        }
        return claimed >= 10;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));
  // Only the leader reconciled: the standby placed nothing.
  REQUIRE(w.operatorLog(standby).find("session placed") == std::string::npos);
  w.killOperator(first);

  // The standby takes the Lease once it expires (15 s after the last renewal) and finishes.
  REQUIRE(waitFor([&] { return leader(w) == standby; }, std::chrono::seconds(40)));
  REQUIRE(w.waitSessions(running, 100, std::chrono::seconds(120)));
  for (const auto& s : w.sessions()) {
    CAPTURE(s["metadata"]["name"]);
    REQUIRE(s["status"]["epoch"] == 1);  // claimed exactly once, across the handover
  }
  for (const auto& [pod, n] : w.spread()) {
    REQUIRE(n <= 40);
  }
  REQUIRE(w.conflicts().empty());

  // The new leader's own families describe the cluster.
  REQUIRE(waitFor(
      [&] {
        auto text = w.scrape(standby);
        return hasLine(text,
                       "waha_operator_sessions{cluster=\"pool\",namespace=\"default\","
                       "phase=\"Running\"} 100") &&
               hasLine(text,
                       "waha_operator_workers{cluster=\"pool\",namespace=\"default\","
                       "state=\"Ready\"} 3") &&
               hasLine(text, "leader_election_master_status{name=\"waha-operator\"} 1");
      },
      std::chrono::seconds(30)));

  // A graceful stop (SIGTERM) releases the Lease: the restarted replica takes over well within
  // the lease duration, and places a new session.
  w.startOperator(first);
  REQUIRE(waitFor(
      [&] {
        return httpGet("http://127.0.0.1:" + std::to_string(w.metricsPort(first)) + "/readyz")
                   .status == 200;
      },
      std::chrono::seconds(30)));
  REQUIRE(w.op(standby).stop(std::chrono::seconds(10)) == 0);
  REQUIRE(waitFor([&] { return leader(w) == first; }, std::chrono::seconds(10)));
  w.apply(sessionsYaml(101, 101));
  REQUIRE(
      w.waitSessions([](const Json& s) { return s["metadata"]["name"] == "s-0101" && running(s); },
                     1, std::chrono::seconds(60)));
  REQUIRE(w.scrape(first).find("waha_operator_placements_total 1\n") != std::string::npos);
  REQUIRE(w.conflicts().empty());
}
