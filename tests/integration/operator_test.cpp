// The operator end to end: kube-sim (whose pods run real waha-sim processes sharing one phone
// registry, the double-run referee) + the waha-operator binary + real kubectl.

#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "sim/kube/tests/kubesim_fixture.h"

using namespace waha;
using namespace waha::test;
using Json = nlohmann::json;

namespace {

const char* kApiKey = "integration-key";

std::string clusterYaml(int perWorker, int min, int max) {
  return R"(apiVersion: v1
kind: Secret
metadata: {name: waha-key, namespace: default}
stringData: {api-key: )" +
         std::string(kApiKey) + R"(}
---
apiVersion: waha.io/v1alpha1
kind: WahaCluster
metadata: {name: pool, namespace: default}
spec:
  engine: NOWEB
  sessionsPerWorker: )" +
         std::to_string(perWorker) + R"(
  workers: {min: )" +
         std::to_string(min) + ", max: " + std::to_string(max) + R"(}
  apiKeySecretRef: {name: waha-key, key: api-key}
  failover: {notReadyTimeoutSeconds: 5}
)";
}

std::string sessionsYaml(int from, int to, const std::string& cluster = "pool",
                         const std::string& state = "Running") {
  std::string out;
  for (int i = from; i <= to; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "s-%04d", i);
    out += std::string("---\napiVersion: waha.io/v1alpha1\nkind: WahaSession\nmetadata: {name: ") +
           name + ", namespace: default}\nspec:\n  clusterRef: {name: " + cluster +
           "}\n  state: " + state + "\n";
  }
  return out;
}

class World {
 public:
  World()
      : registry_(makeTempDir("phones")),
        sim_({"--pod-command",
              binaryPath("tests/sim/waha/waha-sim") + " --phone-registry " + registry_ +
                  " --data-dir " + registry_ + "/data-{podName} --qr-delay-ms 50",
              "--pod-ready-delay-ms", "100"}) {
    REQUIRE(sim_.ready());
    auto crds = sim_.kubectl({"apply", "--validate=false", "-f", sourceDir() + "/crds/"});
    REQUIRE(crds.exitCode == 0);
    REQUIRE(sim_.kubectl({"wait", "--for=condition=Established", "crd/wahasessions.waha.io",
                          "crd/wahaclusters.waha.io"})
                .exitCode == 0);
    startOperator();
  }
  ~World() {
    if (op_) {
      op_->stop(std::chrono::seconds(5));
    }
    // WAHA_TEST_KEEP_LOGS=DIR keeps the operator's log for a post-mortem.
    if (const char* keep = std::getenv("WAHA_TEST_KEEP_LOGS")) {
      std::filesystem::copy_file(sim_.dir() + "/operator.log",
                                 std::string(keep) + "/operator-" + std::to_string(getpid()) + "-" +
                                     std::to_string(++runs_) + ".log",
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }

  void startOperator() {
    op_ = std::make_unique<Process>(
        std::vector<std::string>{binaryPath("operator/waha-operator"), "controller", "--kubeconfig",
                                 sim_.dir() + "/kubeconfig", "--leader-elect", "false",
                                 "--metrics-bind-address", "127.0.0.1:0", "--worker-sync-interval",
                                 "1"},
        std::map<std::string, std::string>{}, sim_.dir() + "/operator.log");
  }
  void killOperator() { op_->stop(std::chrono::milliseconds(10)); }

  void apply(const std::string& yaml) {
    auto r = sim_.kubectl({"apply", "--validate=false", "-f", "-"}, yaml);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
  }
  Json sessions() {
    auto r = sim_.kubectl({"get", "wahasessions", "-o", "json"});
    auto j = Json::parse(r.out, nullptr, false);
    return j.is_object() ? j["items"] : Json::array();
  }
  Json get(const std::string& what) {
    auto r = sim_.kubectl({"get", what, "-o", "json"});
    return Json::parse(r.out, nullptr, false);
  }
  std::string conflicts() const {
    std::string p = registry_ + "/conflicts.log";
    return std::filesystem::exists(p) ? readFile(p) : "";
  }
  // Waits until every listed session satisfies `pred`.
  bool waitSessions(const std::function<bool(const Json&)>& pred, size_t count,
                    std::chrono::seconds timeout) {
    return waitFor(
        [&] {
          auto items = sessions();
          size_t ok = 0;
          for (const auto& s : items) {
            ok += pred(s) ? 1 : 0;
          }
          return ok >= count;
        },
        timeout, std::chrono::milliseconds(300));
  }
  // sessions per worker pod among Running ones
  std::map<std::string, int> spread() {
    std::map<std::string, int> out;
    for (const auto& s : sessions()) {
      if (s.contains("status") && !s["status"].value("worker", "").empty()) {
        ++out[s["status"]["worker"].get<std::string>()];
      }
    }
    return out;
  }
  KubeSim& sim() { return sim_; }
  std::string operatorLog() { return op_->log(); }

 private:
  std::string registry_;
  KubeSim sim_;
  std::unique_ptr<Process> op_;
  static inline int runs_ = 0;
};

bool running(const Json& s) {
  return s.contains("status") && s["status"].value("phase", "") == "Running" &&
         s["status"].value("wahaStatus", "") == "SCAN_QR_CODE";
}

std::string podIp(World& w, const std::string& pod) {
  auto p = w.get("pod/" + pod);
  return p.is_object() ? p["status"].value("podIP", "") : "";
}

}  // namespace

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
