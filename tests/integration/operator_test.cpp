// The operator end to end: kube-sim (whose pods run real waha-sim processes sharing one phone
// registry, the double-run referee) + the waha-operator binary + real kubectl.

#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "operator_world.h"

using namespace waha;
using namespace waha::test;
using Json = nlohmann::json;

TEST_CASE("operator: placement, capacity, scale-up, failover, stop, delete, missing cluster") {
  World w;
  w.apply(clusterYaml(50, 3, 6));

  // 200 sessions need 4 workers of 50: the pool grows from 3, nothing exceeds capacity.
  w.apply(sessionsYaml(1, 200));
  bool allUp = w.waitSessions(running, 200, std::chrono::seconds(120));
  INFO(w.operatorLog().substr(0, 4000));
  REQUIRE(allUp);
  auto spread = w.spread();
  REQUIRE(spread.size() >= 4);
  for (const auto& [pod, n] : spread) {
    CAPTURE(pod);
    REQUIRE(n <= 50);
  }
  auto cluster = w.get("wahacluster/pool");
  REQUIRE(cluster["status"]["sessions"] == 200);
  REQUIRE(cluster["status"]["replicas"] == 4);
  REQUIRE(w.conflicts().empty());

  // A deleted worker pod: its sessions run elsewhere (new epoch), never twice at once.
  std::string victim = spread.begin()->first;
  std::set<std::string> moved;
  for (const auto& s : w.sessions()) {
    if (s["status"].value("worker", "") == victim) {
      moved.insert(s["metadata"]["name"].get<std::string>());
    }
  }
  REQUIRE(w.sim().kubectl({"delete", "pod", victim, "--wait=false"}).exitCode == 0);
  bool movedUp = w.waitSessions(
      [&](const Json& s) {
        return moved.count(s["metadata"]["name"].get<std::string>()) != 0 && running(s) &&
               s["status"].value("worker", "") != victim && s["status"].value("epoch", 0) == 2;
      },
      moved.size(), std::chrono::seconds(90));
  REQUIRE(movedUp);
  for (const auto& [pod, n] : w.spread()) {
    REQUIRE(n <= 50);
  }
  REQUIRE(w.conflicts().empty());

  // state: Stopped stops it on its worker.
  w.apply(sessionsYaml(7, 7, "pool", "Stopped"));
  REQUIRE(w.waitSessions(
      [](const Json& s) {
        return s["metadata"]["name"] == "s-0007" && s["status"].value("phase", "") == "Stopped" &&
               s["status"].value("wahaStatus", "") == "STOPPED";
      },
      1, std::chrono::seconds(30)));

  // Deleting the resource removes the session from its worker and releases the finalizer.
  auto s8 = w.get("wahasession/s-0008");
  std::string worker8 = s8["status"]["worker"];
  std::string ip8 = podIp(w, worker8);
  REQUIRE_FALSE(ip8.empty());
  auto before = httpGet("http://" + ip8 + ":3000/api/sessions/s-0008", {{"X-Api-Key", kApiKey}});
  REQUIRE(before.status == 200);
  REQUIRE(w.sim().kubectl({"delete", "wahasession", "s-0008", "--timeout=30s"}).exitCode == 0);
  auto after = httpGet("http://" + ip8 + ":3000/api/sessions/s-0008", {{"X-Api-Key", kApiKey}});
  REQUIRE(after.status == 404);

  // A session of a cluster that does not exist: a condition, no crash.
  w.apply(sessionsYaml(900, 900, "nope"));
  REQUIRE(w.waitSessions(
      [](const Json& s) {
        if (s["metadata"]["name"] != "s-0900" || !s.contains("status")) {
          return false;
        }
        for (const auto& c : s["status"].value("conditions", Json::array())) {
          if (c["type"] == "Scheduled" && c["reason"] == "ClusterNotFound") {
            return true;
          }
        }
        return false;
      },
      1, std::chrono::seconds(30)));
  REQUIRE(w.conflicts().empty());
}

TEST_CASE("operator: killed and restarted in the middle of a burst, no session claimed twice") {
  World w;
  w.apply(clusterYaml(40, 3, 3));
  w.apply(sessionsYaml(1, 100));
  // Kill it as soon as some claims were written, while others are still pending.
  REQUIRE(waitFor(
      [&] {
        int claimed = 0;
        for (const auto& s : w.sessions()) {
          claimed += s.contains("status") && !s["status"].value("worker", "").empty() ? 1 : 0;
        }
        return claimed >= 10;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));
  w.killOperator();
  w.startOperator();
  REQUIRE(w.waitSessions(running, 100, std::chrono::seconds(120)));
  for (const auto& s : w.sessions()) {
    CAPTURE(s["metadata"]["name"]);
    REQUIRE(s["status"]["epoch"] == 1);  // claimed exactly once
  }
  for (const auto& [pod, n] : w.spread()) {
    REQUIRE(n <= 40);
  }
  REQUIRE(w.conflicts().empty());
}

TEST_CASE("operator: a worker answering 500s is retried with backoff and the reason shows") {
  World w;
  w.apply(clusterYaml(10, 1, 1));
  std::string pod;
  REQUIRE(waitFor(
      [&] {
        auto pods = w.get("pods");
        for (const auto& p : pods.value("items", Json::array())) {
          for (const auto& c : p["status"].value("conditions", Json::array())) {
            if (c["type"] == "Ready" && c["status"] == "True") {
              pod = p["metadata"]["name"];
            }
          }
        }
        return !pod.empty();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200)));
  std::string base = "http://" + podIp(w, pod) + ":3000";
  auto fault = httpRequest("POST", base + "/_sim/faults", R"({"errorShare":1.0})",
                           {{"X-Api-Key", kApiKey}, {"Content-Type", "application/json"}});
  REQUIRE(fault.status / 100 == 2);

  w.apply(sessionsYaml(1, 1));
  auto readyReason = [](const Json& s) -> std::string {
    for (const auto& c : s.value("status", Json::object()).value("conditions", Json::array())) {
      if (c["type"] == "Ready") {
        return c.value("reason", "") + ": " + c.value("message", "");
      }
    }
    return "";
  };
  REQUIRE(w.waitSessions(
      [&](const Json& s) {
        auto r = readyReason(s);
        return r.rfind("WorkerError", 0) == 0 && r.find("500") != std::string::npos;
      },
      1, std::chrono::seconds(30)));
  // Retried with growing delays (1 s, 2 s, 4 s ...), not in a hot loop: the attempt count shows.
  REQUIRE(w.waitSessions(
      [&](const Json& s) { return readyReason(s).find("(attempt 3)") != std::string::npos; }, 1,
      std::chrono::seconds(60)));

  auto clear = httpRequest("POST", base + "/_sim/faults", R"({"errorShare":0.0})",
                           {{"X-Api-Key", kApiKey}, {"Content-Type", "application/json"}});
  REQUIRE(clear.status / 100 == 2);
  REQUIRE(w.waitSessions(running, 1, std::chrono::seconds(60)));
  REQUIRE(w.conflicts().empty());
}
