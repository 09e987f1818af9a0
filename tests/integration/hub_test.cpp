// The hub end to end: kube-sim (pods running waha-sim) + the operator + 3 workers + the
// `waha-operator hub` process. Each call lands on its session's worker (X-Waha-Worker), a moved
// session is followed, errors are WAHA's, create/delete round-trip through the WahaSession,
// a several-MB body streams through. The world is the operator tests' (operator_world.h).

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <memory>
#include <regex>
#include <set>

#include "http/websocket.h"
#include "operator_world.h"
#include "support/test_http.h"
#include "support/ws_listener.h"

using namespace waha;
using namespace waha::test;

namespace {

// The `waha-operator hub` process on the world's cluster "pool".
class Hub {
 public:
  explicit Hub(World& w) : w_(w) {}
  ~Hub() {
    if (proc_) {
      proc_->stop(std::chrono::seconds(15));  // its --shutdown-delay, then the drain
    }
  }
  // Starts the hub and learns its port from its start-up line (it listens on port 0).
  bool start() {
    std::string dir = w_.sim().dir();
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{binaryPath("operator/waha-operator"), "hub", "--cluster=pool",
                                 "--namespace=default", "--kubeconfig", dir + "/kubeconfig",
                                 "--listen=127.0.0.1:0", "--metrics-bind-address=127.0.0.1:0",
                                 "--create-wait=3", "--shutdown-delay=5"},
        std::map<std::string, std::string>{}, dir + "/hub.log");
    std::regex listen("listen=127\\.0\\.0\\.1:([0-9]+)");
    return waitFor(
        [&] {
          std::smatch m;
          std::string log = proc_->log();
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
  int port() const { return port_; }
  // The port of its /metrics, /healthz, /readyz (from its start-up line).
  int metricsPort() {
    std::smatch m;
    std::string log = proc_->log();
    static const std::regex re("metricsPort=([0-9]+)");
    return std::regex_search(log, m, re) ? std::stoi(m[1]) : 0;
  }
  Process& process() { return *proc_; }
  std::string logs() { return proc_ ? proc_->log().substr(0, 3000) : ""; }

 private:
  World& w_;
  std::unique_ptr<Process> proc_;
  int port_ = 0;
};

bool runningNamed(World& w, const std::string& session) { return running(w.session(session)); }

// Worker pods of the cluster "pool" that are Ready.
int readyWorkers(World& w) {
  auto r = w.sim().kubectl({"get", "pods", "-l", "waha.io/cluster=pool", "-o", "json"});
  Json pods = Json::parse(r.out, nullptr, false);
  int ready = 0;
  for (const auto& p : pods.is_object() ? pods["items"] : Json::array()) {
    for (const auto& c : p.value("/status/conditions"_json_pointer, Json::array())) {
      ready += c.value("type", "") == "Ready" && c.value("status", "") == "True" ? 1 : 0;
    }
  }
  return ready;
}

}  // namespace

TEST_CASE("hub: routing, move, errors, list merge, create/delete, big upload") {
  World w;
  Hub hub(w);
  w.apply(clusterYaml(10, 3, 3));
  // All three workers up first, so the six sessions spread over them (least loaded first).
  REQUIRE(waitFor([&] { return readyWorkers(w) == 3; }, std::chrono::seconds(60),
                  std::chrono::milliseconds(300)));
  std::vector<std::string> names = {"s-1", "s-2", "s-3", "s-4", "s-5", "s-6"};
  for (const auto& n : names) {
    w.apply(sessionYaml(n));
  }
  REQUIRE(waitFor(
      [&] {
        for (const auto& n : names) {
          if (!runningNamed(w, n)) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(300)));
  bool hubUp = hub.start();
  INFO(hub.logs());
  REQUIRE(hubUp);

  // Each call lands on the worker holding its session, whatever family names the session.
  std::set<std::string> workers;
  for (const auto& n : names) {
    CAPTURE(n);
    std::string worker = workerOf(w, n);
    workers.insert(worker);
    REQUIRE(waitFor([&] { return hub.call("GET", "/api/sessions/" + n).status == 200; },
                    std::chrono::seconds(10)));
    CHECK(hub.call("GET", "/api/sessions/" + n).headers.getOr("X-Waha-Worker") == worker);
    auto qr = hub.call("GET", "/api/" + n + "/auth/qr?format=raw");
    CHECK(qr.headers.getOr("X-Waha-Worker") == worker);
    auto body =
        hub.call("POST", "/api/sendText", R"({"session":")" + n + R"(","chatId":"1@c.us"})");
    CHECK(body.headers.getOr("X-Waha-Worker") == worker);
    auto query = hub.call("GET", "/api/checkNumberStatus?phone=1&session=" + n);
    CHECK(query.headers.getOr("X-Waha-Worker") == worker);
  }
  CHECK(workers.size() == 3);

  // WAHA's errors.
  auto bad = hub.call("GET", "/api/sessions/s-1", "", "wrong-key");
  CHECK(bad.status == 401);
  CHECK(Json::parse(bad.body, nullptr, false) ==
        Json({{"statusCode", 401}, {"message", "Unauthorized"}}));
  auto unknown = hub.call("GET", "/api/nobody/chats");
  CHECK(unknown.status == 404);
  CHECK(Json::parse(unknown.body, nullptr, false).value("message", "") == "Session not found");
  CHECK(hub.call("GET", "/api/server/environment").status == 403);

  // The list is every worker's, merged.
  auto list = Json::parse(hub.call("GET", "/api/sessions?all=true").body, nullptr, false);
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
  auto upload = hub.call("POST", "/api/s-2/auth/request-code", big);
  CHECK(upload.status == 201);
  CHECK(upload.headers.getOr("X-Waha-Worker") == workerOf(w, "s-2"));

  // One session's events through the hub's /ws: pairing it on its worker (the simulator's hook)
  // makes it WORKING, and the session.status event arrives through the hub.
  {
    WsListener events;  // outlives the connector, whose threads call into it
    auto connector = http::makeBeastWsConnector(1);
    auto ws = subscribeWs(
        *connector,
        "ws://127.0.0.1:" + std::to_string(hub.port()) + "/ws?session=s-3&events=session.status",
        events, kApiKey);
    REQUIRE(ws.ok());
    std::string ip = w.session("s-3")["status"].value("workerIP", "");
    auto paired = httpRequest("POST", "http://" + ip + ":3000/_sim/sessions/s-3/pair",
                              R"({"id":"79000000003@c.us"})",
                              {{"X-Api-Key", kApiKey}, {"Content-Type", "application/json"}});
    CHECK(paired.status == 201);
    bool working = waitFor(
        [&] {
          auto seen = events.statuses("s-3");
          return std::find(seen.begin(), seen.end(), "WORKING") != seen.end();
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
  REQUIRE(waitFor([&] { return hub.call("GET", "/api/s-late/chats").status == 503; },
                  std::chrono::seconds(10)));
  auto late = hub.call("GET", "/api/s-late/chats");
  CHECK(late.headers.getOr("Retry-After") == "2");
  auto created = hub.call("POST", "/api/sessions", R"({"name":"hubmade","config":{"debug":true}})");
  CHECK(created.status == 202);
  auto cr = w.session("hubmade");
  REQUIRE(cr.is_object());
  CHECK(cr["spec"]["config"] == Json({{"debug", true}}));
  w.startOperator();
  REQUIRE(waitFor([&] { return runningNamed(w, "hubmade") && runningNamed(w, "s-late"); },
                  std::chrono::seconds(30), std::chrono::milliseconds(300)));
  REQUIRE(waitFor([&] { return hub.call("GET", "/api/sessions/hubmade").status == 200; },
                  std::chrono::seconds(10)));
  CHECK(hub.call("GET", "/api/sessions/hubmade").headers.getOr("X-Waha-Worker") ==
        workerOf(w, "hubmade"));
  CHECK(hub.call("DELETE", "/api/sessions/hubmade").status == 200);
  REQUIRE(waitFor([&] { return !w.session("hubmade").is_object(); }, std::chrono::seconds(20),
                  std::chrono::milliseconds(300)));
  CHECK(hub.call("GET", "/api/sessions/hubmade").status == 404);

  // A move: its worker pod goes; once the cache has the new assignment the calls follow it.
  std::string old = workerOf(w, "s-1");
  REQUIRE(w.sim().kubectl({"delete", "pod", old, "--wait=false"}).exitCode == 0);
  REQUIRE(waitFor(
      [&] {
        std::string now = workerOf(w, "s-1");
        return !now.empty() && now != old && runningNamed(w, "s-1");
      },
      std::chrono::seconds(60), std::chrono::milliseconds(300)));
  std::string moved = workerOf(w, "s-1");
  REQUIRE(waitFor(
      [&] {
        auto r = hub.call("GET", "/api/sessions/s-1");
        // In between: 503 (moving) is fine, an answer from the old worker never is.
        CHECK(r.headers.getOr("X-Waha-Worker") != old);
        return r.status == 200;
      },
      std::chrono::seconds(20)));
  CHECK(hub.call("GET", "/api/sessions/s-1").headers.getOr("X-Waha-Worker") == moved);

  // SIGTERM: first out of the Service (/readyz fails) while calls are still served for
  // --shutdown-delay (5 s here), then a graceful stop.
  std::string readyz = "http://127.0.0.1:" + std::to_string(hub.metricsPort()) + "/readyz";
  REQUIRE(httpGet(readyz).status == 200);
  hub.process().kill(SIGTERM);
  REQUIRE(waitFor([&] { return httpGet(readyz).status == 503; }, std::chrono::seconds(3)));
  CHECK(hub.call("GET", "/api/sessions/s-1").status == 200);
  int status = -1;
  CHECK(hub.process().wait(std::chrono::seconds(15), &status));
  CHECK(status == 0);  // its exit code: a clean stop
}

TEST_CASE("hub: stop then start answer the status their worker confirmed") {
  World w;
  Hub hub(w);
  w.apply(clusterYaml(10, 1, 1));
  w.apply(sessionYaml("r-1"));
  REQUIRE(waitFor([&] { return runningNamed(w, "r-1"); }, std::chrono::seconds(60),
                  std::chrono::milliseconds(300)));
  bool hubUp = hub.start();
  INFO(hub.logs());
  REQUIRE(hubUp);
  REQUIRE(waitFor([&] { return hub.call("GET", "/api/sessions/r-1").status == 200; },
                  std::chrono::seconds(10)));
  // What the worker itself says, asked directly (not through the hub or the resource).
  auto onWorker = [&](const std::string& session) {
    std::string ip = w.session(session)["status"].value("workerIP", "");
    auto r = httpRequest("GET", "http://" + ip + ":3000/api/sessions/" + session, "",
                         {{"X-Api-Key", kApiKey}});
    return Json::parse(r.body, nullptr, false).value("status", "");
  };

  // Stop: answered once the worker has it STOPPED (202 only if that took over --create-wait=3s,
  // a slow machine; then it must still get there).
  std::string worker = workerOf(w, "r-1");
  auto stop = hub.call("POST", "/api/sessions/r-1/stop");
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
  REQUIRE(waitFor([&] { return w.session("r-1")["status"].value("phase", "") == "Stopped"; },
                  std::chrono::seconds(30), std::chrono::milliseconds(300)));
  CHECK(onWorker("r-1") == "STOPPED");

  // Start, through the deprecated body route: answered once the worker runs it again.
  auto start = hub.call("POST", "/api/sessions/start", R"({"name":"r-1"})");
  REQUIRE((start.status == 201 || start.status == 202));
  auto started = Json::parse(start.body, nullptr, false);
  CHECK(started.value("name", "") == "r-1");
  std::set<std::string> up = {"STARTING", "SCAN_QR_CODE", "WORKING"};
  if (start.status == 201) {
    CHECK(up.count(started.value("status", "")) == 1);
    CHECK(start.headers.getOr("X-Waha-Worker") == workerOf(w, "r-1"));
    CHECK(up.count(onWorker("r-1")) == 1);
  } else {
    WARN("start not confirmed within --create-wait: " << start.body);
  }
  REQUIRE(waitFor([&] { return runningNamed(w, "r-1"); }, std::chrono::seconds(30),
                  std::chrono::milliseconds(300)));
  CHECK(hub.call("GET", "/api/sessions/r-1").headers.getOr("X-Waha-Worker") == workerOf(w, "r-1"));
}
