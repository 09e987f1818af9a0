#pragma once

// The operator's test world: kube-sim (whose pods run real waha-sim processes sharing one phone
// registry, the double-run referee) + waha-operator processes + real kubectl. Shared by the
// operator's and the hub's integration tests (the hub test adds its hub process on top).

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "sim/kube/tests/kubesim_fixture.h"

namespace waha::test {

using Json = nlohmann::json;

inline const char* kApiKey = "integration-key";

inline std::string clusterYaml(int perWorker, int min, int max) {
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

inline std::string sessionYaml(const std::string& name, const std::string& cluster = "pool",
                               const std::string& state = "Running") {
  return "---\napiVersion: waha.io/v1alpha1\nkind: WahaSession\nmetadata: {name: " + name +
         ", namespace: default}\nspec:\n  clusterRef: {name: " + cluster + "}\n  state: " + state +
         "\n";
}

// Sessions s-<from> .. s-<to>, numbered with four digits.
inline std::string sessionsYaml(int from, int to, const std::string& cluster = "pool",
                                const std::string& state = "Running") {
  std::string out;
  for (int i = from; i <= to; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "s-%04d", i);
    out += sessionYaml(name, cluster, state);
  }
  return out;
}

class World {
 public:
  // `operators` processes; with more than one they run with leader election on.
  explicit World(int operators = 1)
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
    leaderElect_ = operators > 1;
    for (int i = 0; i < operators; ++i) {
      startOperator(i);
    }
  }
  ~World() {
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i]) {
        ops_[i]->stop(std::chrono::seconds(5));
      }
      // WAHA_TEST_KEEP_LOGS=DIR keeps the operators' logs for a post-mortem.
      if (const char* keep = std::getenv("WAHA_TEST_KEEP_LOGS")) {
        std::filesystem::copy_file(logPath(static_cast<int>(i)),
                                   std::string(keep) + "/operator-" + std::to_string(getpid()) +
                                       "-" + std::to_string(++runs_) + ".log",
                                   std::filesystem::copy_options::overwrite_existing);
      }
    }
  }

  // (Re)starts operator process `i`.
  void startOperator(int i = 0) {
    if (static_cast<int>(ops_.size()) > i && ops_[i]) {
      ops_[i]->stop(std::chrono::seconds(5));
      std::filesystem::remove(logPath(i));  // a fresh log: metricsPort() reads this start's line
    }
    if (static_cast<int>(ops_.size()) <= i) {
      ops_.resize(i + 1);
    }
    ops_[i] = std::make_unique<Process>(
        std::vector<std::string>{binaryPath("operator/waha-operator"), "controller", "--kubeconfig",
                                 sim_.dir() + "/kubeconfig", "--leader-elect",
                                 leaderElect_ ? "true" : "false", "--leader-election-namespace",
                                 "default", "--metrics-bind-address", "127.0.0.1:0",
                                 "--worker-sync-interval", "1"},
        std::map<std::string, std::string>{}, logPath(i));
  }
  // SIGKILL-like: no chance to release the Lease.
  void killOperator(int i = 0) { ops_[i]->stop(std::chrono::milliseconds(10)); }
  // SIGTERM: a clean shutdown.
  void stopOperator(int i = 0) { ops_[i]->stop(std::chrono::seconds(5)); }
  Process& op(int i = 0) { return *ops_[i]; }
  std::string logPath(int i) const {
    return sim_.dir() + "/operator" + (i ? "-" + std::to_string(i) : std::string()) + ".log";
  }
  // The port of operator `i`'s /metrics, /healthz, /readyz (from its start-up log line).
  int metricsPort(int i = 0) {
    int port = 0;
    waitFor(
        [&] {
          // The last start's line: a restarted process appends to the same log.
          std::string log = readFile(logPath(i));
          static const std::regex re("metricsPort=([0-9]+)");
          for (auto it = std::sregex_iterator(log.begin(), log.end(), re);
               it != std::sregex_iterator(); ++it) {
            port = std::stoi((*it)[1]);
          }
          return port > 0;
        },
        std::chrono::seconds(20));
    return port;
  }
  std::string scrape(int i = 0) {
    return httpGet("http://127.0.0.1:" + std::to_string(metricsPort(i)) + "/metrics").body;
  }

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
  // The WahaSession `name`, or a non-object when it does not exist.
  Json session(const std::string& name) { return get("wahasession/" + name); }
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
  std::string operatorLog(int i = 0) { return ops_[i]->log(); }

 private:
  std::string registry_;
  KubeSim sim_;
  std::vector<std::unique_ptr<Process>> ops_;
  bool leaderElect_ = false;
  static inline int runs_ = 0;
};

inline bool running(const Json& s) {
  return s.contains("status") && s["status"].value("phase", "") == "Running" &&
         s["status"].value("wahaStatus", "") == "SCAN_QR_CODE";
}

// The worker pod a session is placed on, "" while it is not.
inline std::string workerOf(World& w, const std::string& session) {
  auto s = w.session(session);
  return s.is_object() && s.contains("status") ? s["status"].value("worker", "") : "";
}

inline std::string podIp(World& w, const std::string& pod) {
  auto p = w.get("pod/" + pod);
  return p.is_object() ? p["status"].value("podIP", "") : "";
}

}  // namespace waha::test
