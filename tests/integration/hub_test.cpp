// The hub end to end: kube-sim (pods running waha-sim) + the operator + 3 workers + the
// `waha-operator hub` process. Each call lands on its session's worker (X-Waha-Worker), a moved
// session is followed, errors are WAHA's, create/delete round-trip through the WahaSession,
// a several-MB body streams through.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "http/websocket.h"
#include "sim/kube/tests/kubesim_fixture.h"
#include "support/test_http.h"

using namespace waha;
using namespace waha::test;
using Json = nlohmann::json;

namespace {

const char* kApiKey = "hub-integration-key";

std::string clusterYaml() {
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
  sessionsPerWorker: 10
  workers: {min: 3, max: 3}
  apiKeySecretRef: {name: waha-key, key: api-key}
  failover: {notReadyTimeoutSeconds: 5}
)";
}

std::string sessionYaml(const std::string& name) {
  return "---\napiVersion: waha.io/v1alpha1\nkind: WahaSession\nmetadata: {name: " + name +
         ", namespace: default}\nspec:\n  clusterRef: {name: pool}\n  state: Running\n";
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
    REQUIRE(sim_.kubectl({"apply", "--validate=false", "-f", sourceDir() + "/crds/"}).exitCode ==
            0);
    REQUIRE(sim_.kubectl({"wait", "--for=condition=Established", "crd/wahasessions.waha.io",
                          "crd/wahaclusters.waha.io"})
                .exitCode == 0);
    startOperator();
  }
  ~World() {
    if (hub_) {
      hub_->stop(std::chrono::seconds(5));
    }
    if (op_) {
      op_->stop(std::chrono::seconds(5));
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
  void stopOperator() { op_->stop(std::chrono::seconds(5)); }
  // Starts the hub and learns its port from its start-up line (it listens on port 0).
  bool startHub() {
    hub_ = std::make_unique<Process>(
        std::vector<std::string>{binaryPath("operator/waha-operator"), "hub", "--cluster=pool",
                                 "--namespace=default", "--kubeconfig", sim_.dir() + "/kubeconfig",
                                 "--listen=127.0.0.1:0", "--metrics-bind-address=127.0.0.1:0",
                                 "--create-wait=3"},
        std::map<std::string, std::string>{}, sim_.dir() + "/hub.log");
    std::regex listen("listen=127\\.0\\.0\\.1:([0-9]+)");
    return waitFor(
        [&] {
          std::smatch m;
          std::string log = hub_->log();
          if (std::regex_search(log, m, listen)) {
            port_ = std::stoi(m[1]);
          }
          return port_ != 0 && call("GET", "/api/server/status").status == 200;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(100));
  }
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& key = kApiKey) {
    std::map<std::string, std::string> h = {{"X-Api-Key", key}};
    if (!body.empty()) {
      h["Content-Type"] = "application/json";
    }
    return httpRequest(method, "http://127.0.0.1:" + std::to_string(port_) + path, body, h,
                       std::chrono::seconds(20));
  }
  void apply(const std::string& yaml) {
    auto r = sim_.kubectl({"apply", "--validate=false", "-f", "-"}, yaml);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
  }
  Json get(const std::string& what) {
    auto r = sim_.kubectl({"get", what, "-o", "json"});
    return Json::parse(r.out, nullptr, false);
  }
  std::string workerOf(const std::string& session) {
    auto s = get("wahasession/" + session);
    return s.is_object() && s.contains("status") ? s["status"].value("worker", "") : "";
  }
  bool running(const std::string& session) {
    auto s = get("wahasession/" + session);
    return s.is_object() && s.contains("status") && s["status"].value("phase", "") == "Running" &&
           s["status"].value("wahaStatus", "") == "SCAN_QR_CODE";
  }
  int port() const { return port_; }
  KubeSim& sim() { return sim_; }
  std::string logs() { return hub_ ? hub_->log().substr(0, 3000) : ""; }

 private:
  std::string registry_;
  KubeSim sim_;
  std::unique_ptr<Process> op_;
  std::unique_ptr<Process> hub_;
  int port_ = 0;
};

}  // namespace

TEST_CASE("hub: routing, move, errors, list merge, create/delete, big upload") {
  World w;
  w.apply(clusterYaml());
  std::vector<std::string> names = {"s-1", "s-2", "s-3", "s-4", "s-5", "s-6"};
  for (const auto& n : names) {
    w.apply(sessionYaml(n));
  }
  REQUIRE(waitFor(
      [&] {
        for (const auto& n : names) {
          if (!w.running(n)) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(300)));
  bool hubUp = w.startHub();
  INFO(w.logs());
  REQUIRE(hubUp);

  // Each call lands on the worker holding its session, whatever family names the session.
  std::set<std::string> workers;
  for (const auto& n : names) {
    CAPTURE(n);
    std::string worker = w.workerOf(n);
    workers.insert(worker);
    REQUIRE(waitFor([&] { return w.call("GET", "/api/sessions/" + n).status == 200; },
                    std::chrono::seconds(10)));
    CHECK(w.call("GET", "/api/sessions/" + n).headers.getOr("X-Waha-Worker") == worker);
    auto qr = w.call("GET", "/api/" + n + "/auth/qr?format=raw");
    CHECK(qr.headers.getOr("X-Waha-Worker") == worker);
    auto body = w.call("POST", "/api/sendText", R"({"session":")" + n + R"(","chatId":"1@c.us"})");
    CHECK(body.headers.getOr("X-Waha-Worker") == worker);
    auto query = w.call("GET", "/api/checkNumberStatus?phone=1&session=" + n);
    CHECK(query.headers.getOr("X-Waha-Worker") == worker);
  }
  CHECK(workers.size() == 3);

  // WAHA's errors.
  auto bad = w.call("GET", "/api/sessions/s-1", "", "wrong-key");
  CHECK(bad.status == 401);
  CHECK(Json::parse(bad.body, nullptr, false) ==
        Json({{"statusCode", 401}, {"message", "Unauthorized"}}));
  auto unknown = w.call("GET", "/api/nobody/chats");
  CHECK(unknown.status == 404);
  CHECK(Json::parse(unknown.body, nullptr, false).value("message", "") == "Session not found");
  CHECK(w.call("GET", "/api/server/environment").status == 403);

  // The list is every worker's, merged.
  auto list = Json::parse(w.call("GET", "/api/sessions?all=true").body, nullptr, false);
  REQUIRE(list.is_array());
  std::set<std::string> listed;
  for (const auto& s : list) {
    listed.insert(s.value("name", ""));
  }
  for (const auto& n : names) {
    CHECK(listed.count(n) == 1);
  }

  // Several MB through a path-routed call: the body streams to the worker and its answer back.
  std::string big = R"({"phoneNumber":"79000000000","pad":")" + std::string(6 << 20, 'x') + "\"}";
  auto upload = w.call("POST", "/api/s-2/auth/request-code", big);
  CHECK(upload.status == 201);
  CHECK(upload.headers.getOr("X-Waha-Worker") == w.workerOf("s-2"));

  // One session's events through the hub's /ws: pairing it on its worker (the simulator's hook)
  // makes it WORKING, and the session.status event arrives through the hub.
  {
    auto connector = http::makeBeastWsConnector(1);
    std::promise<Result<std::shared_ptr<http::WebSocket>>> opened;
    http::WsConnectOptions o;
    o.url = "ws://127.0.0.1:" + std::to_string(w.port()) + "/ws?session=s-3&events=session.status";
    o.headers.set("X-Api-Key", kApiKey);
    connector->connect(o, [&](Result<std::shared_ptr<http::WebSocket>> r) { opened.set_value(r); });
    auto ws = opened.get_future().get();
    REQUIRE(ws.ok());
    std::mutex mu;
    std::vector<Json> events;
    (*ws)->start(
        [&](http::WsMessage m) {
          std::lock_guard<std::mutex> lk(mu);
          events.push_back(Json::parse(m.data, nullptr, false));
        },
        [](int, std::string) {});
    std::string ip = w.get("wahasession/s-3")["status"].value("workerIP", "");
    auto paired = httpRequest("POST", "http://" + ip + ":3000/_sim/sessions/s-3/pair",
                              R"({"id":"79000000003@c.us"})",
                              {{"X-Api-Key", kApiKey}, {"Content-Type", "application/json"}});
    CHECK(paired.status == 201);
    bool working = waitFor(
        [&] {
          std::lock_guard<std::mutex> lk(mu);
          for (const auto& e : events) {
            if (e.is_object() && e.value("session", "") == "s-3" &&
                e.value("event", "") == "session.status" &&
                e["payload"].value("status", "") == "WORKING") {
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(10));
    CHECK(working);
    (*ws)->close();
    connector->stop();
  }

  // Unplaced (the operator is down): 503 + Retry-After, never a hang or a wrong worker. A create
  // through the hub meanwhile becomes a WahaSession and a 202.
  w.stopOperator();
  w.apply(sessionYaml("s-late"));
  REQUIRE(waitFor([&] { return w.call("GET", "/api/s-late/chats").status == 503; },
                  std::chrono::seconds(10)));
  auto late = w.call("GET", "/api/s-late/chats");
  CHECK(late.headers.getOr("Retry-After") == "2");
  auto created = w.call("POST", "/api/sessions", R"({"name":"hubmade","config":{"debug":true}})");
  CHECK(created.status == 202);
  auto cr = w.get("wahasession/hubmade");
  REQUIRE(cr.is_object());
  CHECK(cr["spec"]["config"] == Json({{"debug", true}}));
  w.startOperator();
  REQUIRE(waitFor([&] { return w.running("hubmade") && w.running("s-late"); },
                  std::chrono::seconds(30), std::chrono::milliseconds(300)));
  REQUIRE(waitFor([&] { return w.call("GET", "/api/sessions/hubmade").status == 200; },
                  std::chrono::seconds(10)));
  CHECK(w.call("GET", "/api/sessions/hubmade").headers.getOr("X-Waha-Worker") ==
        w.workerOf("hubmade"));
  CHECK(w.call("DELETE", "/api/sessions/hubmade").status == 200);
  REQUIRE(waitFor([&] { return !w.get("wahasession/hubmade").is_object(); },
                  std::chrono::seconds(20), std::chrono::milliseconds(300)));
  CHECK(w.call("GET", "/api/sessions/hubmade").status == 404);

  // A move: its worker pod goes; once the cache has the new assignment the calls follow it.
  std::string old = w.workerOf("s-1");
  REQUIRE(w.sim().kubectl({"delete", "pod", old, "--wait=false"}).exitCode == 0);
  REQUIRE(waitFor(
      [&] {
        std::string now = w.workerOf("s-1");
        return !now.empty() && now != old && w.running("s-1");
      },
      std::chrono::seconds(60), std::chrono::milliseconds(300)));
  std::string moved = w.workerOf("s-1");
  REQUIRE(waitFor(
      [&] {
        auto r = w.call("GET", "/api/sessions/s-1");
        // In between: 503 (moving) is fine, an answer from the old worker never is.
        CHECK(r.headers.getOr("X-Waha-Worker") != old);
        return r.status == 200;
      },
      std::chrono::seconds(20)));
  CHECK(w.call("GET", "/api/sessions/s-1").headers.getOr("X-Waha-Worker") == moved);
}

TEST_CASE("hub: stop then start answer the status their worker confirmed") {
  World w;
  w.apply(clusterYaml());
  w.apply(sessionYaml("r-1"));
  REQUIRE(waitFor([&] { return w.running("r-1"); }, std::chrono::seconds(60),
                  std::chrono::milliseconds(300)));
  bool hubUp = w.startHub();
  INFO(w.logs());
  REQUIRE(hubUp);
  REQUIRE(waitFor([&] { return w.call("GET", "/api/sessions/r-1").status == 200; },
                  std::chrono::seconds(10)));
  // What the worker itself says, asked directly (not through the hub or the resource).
  auto onWorker = [&](const std::string& session) {
    std::string ip = w.get("wahasession/" + session)["status"].value("workerIP", "");
    auto r = httpRequest("GET", "http://" + ip + ":3000/api/sessions/" + session, "",
                         {{"X-Api-Key", kApiKey}});
    return Json::parse(r.body, nullptr, false).value("status", "");
  };

  // Stop: answered once the worker has it STOPPED (202 only if that took over --create-wait=3s,
  // a slow machine; then it must still get there).
  std::string worker = w.workerOf("r-1");
  auto stop = w.call("POST", "/api/sessions/r-1/stop");
  REQUIRE((stop.status == 201 || stop.status == 202));
  auto stopped = Json::parse(stop.body, nullptr, false);
  CHECK(stopped.value("name", "") == "r-1");
  if (stop.status == 201) {
    CHECK(stopped.value("status", "") == "STOPPED");
    CHECK(stop.headers.getOr("X-Waha-Worker") == worker);
    CHECK(onWorker("r-1") == "STOPPED");
  } else {
    WARN("stop not confirmed within --create-wait: " << stop.body);
  }
  REQUIRE(
      waitFor([&] { return w.get("wahasession/r-1")["status"].value("phase", "") == "Stopped"; },
              std::chrono::seconds(30), std::chrono::milliseconds(300)));
  CHECK(onWorker("r-1") == "STOPPED");

  // Start, through the deprecated body route: answered once the worker runs it again.
  auto start = w.call("POST", "/api/sessions/start", R"({"name":"r-1"})");
  REQUIRE((start.status == 201 || start.status == 202));
  auto started = Json::parse(start.body, nullptr, false);
  CHECK(started.value("name", "") == "r-1");
  std::set<std::string> up = {"STARTING", "SCAN_QR_CODE", "WORKING"};
  if (start.status == 201) {
    CHECK(up.count(started.value("status", "")) == 1);
    CHECK(start.headers.getOr("X-Waha-Worker") == w.workerOf("r-1"));
    CHECK(up.count(onWorker("r-1")) == 1);
  } else {
    WARN("start not confirmed within --create-wait: " << start.body);
  }
  REQUIRE(waitFor([&] { return w.running("r-1"); }, std::chrono::seconds(30),
                  std::chrono::milliseconds(300)));
  CHECK(w.call("GET", "/api/sessions/r-1").headers.getOr("X-Waha-Worker") == w.workerOf("r-1"));
}
