// The simulated kubelet: readiness probes against real servers on pod IPs, a real process per
// pod with kubelet-style env, restarts, faults and graceful termination.

#include <utility>  // before Boost (1.74 + C++20)

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "fixture.h"
#include "http/server.h"
#include "support/paths.h"
#include "support/test_http.h"

using namespace waha::sim;
using namespace waha::sim::testing;
using waha::test::waitFor;

namespace {

Json barePod(const std::string& name, Json c, int grace = 30) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", "default"}}},
      {"spec",
       {{"containers", Json::array({std::move(c)})}, {"terminationGracePeriodSeconds", grace}}}};
}

Json podNow(ObjectStore& store, const std::string& name) {
  return store.get(kPods, "default", name).valueOr(Json());
}

bool ready(ObjectStore& store, const std::string& name) {
  Json p = podNow(store, name);
  return !p.is_null() && isPodReady(p);
}

int restarts(ObjectStore& store, const std::string& name) {
  return static_cast<int>(
      intAt(podNow(store, name), "/status/containerStatuses/0/restartCount", -1));
}

waha::http::ServerOptions serverOptions(const std::string& host, int port) {
  waha::http::ServerOptions o;
  o.host = host;
  o.port = port;
  o.threads = 1;
  return o;
}

std::string writeScript(const std::string& dir, const std::string& body) {
  std::string path = dir + "/pod.sh";
  waha::test::writeFile(path, "#!/bin/sh\n" + body);
  REQUIRE(std::system(("chmod +x " + path).c_str()) == 0);
  return path;
}

}  // namespace

TEST_CASE("a loopback address other than 127.0.0.1 can be bound without setup") {
  auto server = waha::http::makeBeastServer(serverOptions("127.1.200.7", 0));
  REQUIRE(server
              ->start(waha::http::syncHandler(
                  [](const waha::http::Request&) { return waha::http::Response::text(200, "ok"); }))
              .ok());
  auto r = waha::test::httpGet("http://127.1.200.7:" + std::to_string(server->port()) + "/");
  CHECK(r.status == 200);
  server->stop();
}

TEST_CASE("readiness follows an httpGet probe against the pod IP") {
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  // A port the kernel handed out (pod IPs are private to this test, so it is free there too).
  auto probe = waha::http::makeBeastServer(serverOptions("127.0.0.1", 0));
  REQUIRE(probe
              ->start(waha::http::syncHandler(
                  [](const waha::http::Request&) { return waha::http::Response::text(200, ""); }))
              .ok());
  int port = probe->port();
  probe->stop();
  Json c = container();
  c["ports"] = Json::array({{{"name", "http"}, {"containerPort", port}}});
  c["readinessProbe"] = {{"httpGet", {{"path", "/ready"}, {"port", "http"}}},
                         {"periodSeconds", 10},
                         {"failureThreshold", 2}};
  REQUIRE(store.create(kPods, "default", barePod("probed", c)).ok());
  std::string ip;
  REQUIRE(waitFor([&] {
    ip = strAt(podNow(store, "probed"), "/status/podIP");
    return !ip.empty();
  }));
  // Running, but nothing answers the probe yet.
  CHECK(strAt(podNow(store, "probed"), "/status/phase") == "Running");
  CHECK_FALSE(ready(store, "probed"));

  std::atomic<bool> healthy{true};
  std::atomic<int> hits{0};
  auto server = waha::http::makeBeastServer(serverOptions(ip, port));
  REQUIRE(server
              ->start(waha::http::syncHandler([&](const waha::http::Request& req) {
                hits++;
                bool ok = req.path == "/ready" && healthy;
                return waha::http::Response::text(ok ? 200 : 503, ok ? "ok" : "no");
              }))
              .ok());
  CHECK(waitFor([&] { return ready(store, "probed"); }));
  CHECK(hits > 0);
  healthy = false;
  CHECK(waitFor([&] { return !ready(store, "probed"); }));
  CHECK(strAt(podNow(store, "probed"), "/status/phase") == "Running");
  healthy = true;
  CHECK(waitFor([&] { return ready(store, "probed"); }));
  server->stop();
}

TEST_CASE("a pod runs a real process with its env resolved like a kubelet, restarted on exit") {
  std::string dir = waha::test::makeTempDir("wl-proc");
  std::string script = writeScript(dir,
                                   "env > \"$OUT_DIR/$POD_NAME.env.tmp\" && mv "
                                   "\"$OUT_DIR/$POD_NAME.env.tmp\" \"$OUT_DIR/$POD_NAME.env\"\n"
                                   "echo \"started $1 $2 $3\"\n"
                                   "exec /usr/bin/python3 -m http.server \"$3\" --bind \"$2\"\n");
  SimStore sim;
  MemoryStore& store = sim.store;
  REQUIRE(store
              .create(workloads::kSecrets, "default",
                      {{"metadata", {{"name", "creds"}}}, {"data", {{"token", "czNjcjN0"}}}})
              .ok());
  REQUIRE(store
              .create(workloads::kConfigMaps, "default",
                      {{"metadata", {{"name", "cfg"}}}, {"data", {{"mode", "fast"}}}})
              .ok());
  auto opts = fastOptions();
  opts.stateDir = dir;
  opts.podCommand = script + " {podName} {podIP} {port} {namespace} {image}";
  Workloads wl(store, opts);
  wl.start();
  Json c = container();
  c["env"] = Json::array(
      {{{"name", "OUT_DIR"}, {"value", dir}},
       {{"name", "GREETING"}, {"value", "hi-$(OUT_DIR)"}},
       {{"name", "TOKEN"},
        {"valueFrom", {{"secretKeyRef", {{"name", "creds"}, {"key", "token"}}}}}},
       {{"name", "MODE"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "mode"}}}}}},
       {{"name", "MY_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
       {{"name", "MY_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}});
  c["readinessProbe"] = {{"httpGet", {{"path", "/"}, {"port", 3000}}}, {"periodSeconds", 1}};
  REQUIRE(store
              .create(kDeployments, "default",
                      deployment("proc", 2, {{"containers", Json::array({c})}}))
              .ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "proc", 2); }, std::chrono::seconds(20)));

  auto pods = activePods(store);
  REQUIRE(pods.size() == 2);
  for (const auto& p : pods) {
    std::string name = strAt(p, "/metadata/name");
    std::string ip = strAt(p, "/status/podIP");
    std::string env = waha::test::readFile(dir + "/" + name + ".env");
    CHECK(env.find("TOKEN=s3cr3t\n") != std::string::npos);
    CHECK(env.find("MODE=fast\n") != std::string::npos);
    CHECK(env.find("MY_NAME=" + name + "\n") != std::string::npos);
    CHECK(env.find("MY_IP=" + ip + "\n") != std::string::npos);
    CHECK(env.find("POD_IP=" + ip + "\n") != std::string::npos);
    CHECK(env.find("POD_NAMESPACE=default\n") != std::string::npos);
    CHECK(env.find("GREETING=hi-" + dir + "\n") != std::string::npos);
    // The process serves on the pod's own address.
    CHECK(waha::test::httpGet("http://" + ip + ":3000/").status == 200);
    CHECK(waha::test::readFile(dir + "/pods/default_" + name + ".log")
              .find("started " + name + " " + ip + " 3000") != std::string::npos);
  }

  // Killing the process: restartCount+1, NotReady, then Ready again once the probe passes.
  std::string victim = strAt(pods[0], "/metadata/name");
  std::mutex mu;
  bool sawNotReady = false;
  uint64_t sub = store.subscribe(kPods, [&](const StoreEvent& e) {
    if (strAt(e.object, "/metadata/name") == victim && !isPodReady(e.object)) {
      std::lock_guard<std::mutex> lk(mu);
      sawNotReady = true;
    }
  });
  REQUIRE(wl.killProcess("default", victim).ok());
  REQUIRE(waitFor([&] { return restarts(store, victim) == 1 && ready(store, victim); },
                  std::chrono::seconds(20)));
  store.unsubscribe(sub);
  {
    std::lock_guard<std::mutex> lk(mu);
    CHECK(sawNotReady);
  }
  Json p = podNow(store, victim);
  CHECK(intAt(p, "/status/containerStatuses/0/lastState/terminated/exitCode", 0) == 137);
  CHECK(strAt(p, "/status/podIP") == strAt(pods[0], "/status/podIP"));  // same pod, same IP
  CHECK(wl.killProcess("default", "no-such-pod").error().code == 404);
  wl.stop();
  std::filesystem::remove_all(dir);  // kept for post-mortems only when a REQUIRE failed
}

TEST_CASE("deletion sends SIGTERM, then SIGKILL after terminationGracePeriodSeconds") {
  std::string dir = waha::test::makeTempDir("wl-term");
  // Ignores SIGTERM (records it) unless the pod is named "polite", which exits on it.
  std::string script = writeScript(dir,
                                   "trap 'echo TERM >> \"$OUT_DIR/$POD_NAME.signals\"; [ "
                                   "\"$POD_NAME\" = polite ] && exit 0' TERM\n"
                                   "echo up > \"$OUT_DIR/$POD_NAME.up\"\n"
                                   "while true; do sleep 0.05; done\n");
  SimStore sim;
  MemoryStore& store = sim.store;
  auto opts = fastOptions();
  opts.podCommand = script;
  Workloads wl(store, opts);
  wl.start();
  Json c = container();
  c["env"] = Json::array({{{"name", "OUT_DIR"}, {"value", dir}}});
  for (const char* name : {"stubborn", "polite"}) {
    Json pod = barePod(name, c, 1);
    pod["metadata"]["finalizers"] = Json::array({"test/keep"});  // keeps the final status visible
    REQUIRE(store.create(kPods, "default", pod).ok());
  }
  REQUIRE(waitFor([&] {
    return ready(store, "stubborn") && ready(store, "polite") &&
           !waha::test::readFile(dir + "/stubborn.up").empty() &&
           !waha::test::readFile(dir + "/polite.up").empty();
  }));
  REQUIRE(store.remove(kPods, "default", "stubborn").ok());
  REQUIRE(store.remove(kPods, "default", "polite").ok());
  auto terminated = [&](const std::string& name) {
    return podNow(store, name)["status"]["containerStatuses"][0]["state"].contains("terminated");
  };
  REQUIRE(waitFor([&] { return terminated("stubborn") && terminated("polite"); }));
  CHECK(waha::test::readFile(dir + "/stubborn.signals").find("TERM") != std::string::npos);
  CHECK(intAt(podNow(store, "stubborn"), "/status/containerStatuses/0/state/terminated/exitCode",
              0) == 137);
  CHECK(strAt(podNow(store, "stubborn"), "/status/phase") == "Failed");
  CHECK(waha::test::readFile(dir + "/polite.signals").find("TERM") != std::string::npos);
  CHECK(intAt(podNow(store, "polite"), "/status/containerStatuses/0/state/terminated/exitCode",
              -1) == 0);
  CHECK(strAt(podNow(store, "polite"), "/status/phase") == "Succeeded");
  CHECK_FALSE(isPodReady(podNow(store, "polite")));

  // Removing the finalizer lets the pod go.
  for (const char* name : {"stubborn", "polite"}) {
    Json p = podNow(store, name);
    p["metadata"]["finalizers"] = Json::array();
    REQUIRE(store.update(kPods, "default", p).ok());
  }
  CHECK(waitFor([&] { return store.list(kPods, "default").valueOr({}).empty(); }));
  wl.stop();
  std::filesystem::remove_all(dir);
}

TEST_CASE("setNotReady forces a pod NotReady until lifted; liveness failures restart it") {
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  Json c = container();
  c["livenessProbe"] = {{"tcpSocket", {{"port", 1}}}, {"failureThreshold", 2}};
  REQUIRE(store.create(kPods, "default", barePod("flaky", container())).ok());
  REQUIRE(store.create(kPods, "default", barePod("dead", c)).ok());
  REQUIRE(waitFor([&] { return ready(store, "flaky"); }));
  REQUIRE(wl.setNotReady("default", "flaky", true).ok());
  CHECK(waitFor([&] { return !ready(store, "flaky"); }));
  REQUIRE(wl.setNotReady("default", "flaky", false).ok());
  CHECK(waitFor([&] { return ready(store, "flaky"); }));
  // Nothing listens on port 1 of the pod IP: the liveness probe fails and the container restarts.
  CHECK(waitFor([&] { return restarts(store, "dead") >= 2; }));
}
