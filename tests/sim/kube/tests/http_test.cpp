// kube-sim over plain HTTP where kubectl cannot reach: conflicts, 410, bookmarks, tables on
// watches, auth, faults, and a Deployment's pods running a real process at their pod IP.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <sstream>
#include <thread>

#include "kubesim_fixture.h"

using namespace waha::test;
using Json = nlohmann::json;

namespace {

const std::string kCms = "/api/v1/namespaces/default/configmaps";

Json createCm(const KubeSim& sim, const std::string& name, const std::string& labels = "{}") {
  auto r =
      httpRequest("POST", sim.url(kCms),
                  R"({"metadata":{"name":")" + name + R"(","labels":)" + labels + "}}", sim.auth());
  REQUIRE(r.status == 201);
  return Json::parse(r.body);
}

// Reads a watch until `stop` says so; returns the parsed events.
std::vector<Json> watchEvents(const KubeSim& sim, const std::string& query,
                              const std::function<bool(const std::vector<Json>&)>& stop,
                              const std::map<std::string, std::string>& extra = {}) {
  std::vector<Json> events;
  auto headers = sim.auth();
  headers.insert(extra.begin(), extra.end());
  int status = httpStreamLines(
      sim.url(kCms + "?watch=true&" + query), headers,
      [&](const std::string& line) {
        if (!line.empty()) {
          events.push_back(Json::parse(line));
        }
        return !stop(events);
      },
      std::chrono::seconds(20));
  CHECK(status == 200);
  return events;
}

}  // namespace

TEST_CASE("http: auth, stale update 409, status objects", "[http]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  auto anon = httpGet(sim.url(kCms));
  CHECK(anon.status == 401);
  CHECK(Json::parse(anon.body)["kind"] == "Status");
  Json cm = createCm(sim, "c1");
  Json stale = cm;
  cm["data"] = {{"a", "1"}};
  REQUIRE(httpRequest("PUT", sim.url(kCms + "/c1"), cm.dump(), sim.auth()).status == 200);
  stale["data"] = {{"a", "2"}};
  auto conflict = httpRequest("PUT", sim.url(kCms + "/c1"), stale.dump(), sim.auth());
  CHECK(conflict.status == 409);
  Json st = Json::parse(conflict.body);
  CHECK(st["reason"] == "Conflict");
  CHECK(st["status"] == "Failure");
  CHECK(st["code"] == 409);
  auto missing = httpGet(sim.url(kCms + "/nope"), sim.auth());
  CHECK(missing.status == 404);
  CHECK(Json::parse(missing.body)["details"]["name"] == "nope");
}

TEST_CASE(
    "http: watch from an old resourceVersion gets ERROR 410; fresh ones resume strictly after",
    "[http]") {
  KubeSim sim({"--watch-window", "10"});
  REQUIRE(sim.ready());
  Json first = createCm(sim, "first");
  for (int i = 0; i < 12; ++i) {
    createCm(sim, "n" + std::to_string(i));
  }
  auto gone =
      watchEvents(sim, "resourceVersion=" + first["metadata"]["resourceVersion"].get<std::string>(),
                  [](const std::vector<Json>& e) { return !e.empty(); });
  REQUIRE(gone.size() == 1);
  CHECK(gone[0]["type"] == "ERROR");
  CHECK(gone[0]["object"]["code"] == 410);
  CHECK(gone[0]["object"]["reason"] == "Expired");

  auto list = Json::parse(httpGet(sim.url(kCms + "?limit=5"), sim.auth()).body);
  CHECK(list["items"].size() == 5);
  CHECK(list["metadata"]["remainingItemCount"] == 8);
  std::string rv = list["metadata"]["resourceVersion"];
  auto next = Json::parse(
      httpGet(sim.url(kCms + "?limit=5&continue=" +
                      waha::http::urlEncode(list["metadata"]["continue"].get<std::string>())),
              sim.auth())
          .body);
  // Pages follow key order (namespace/name) without overlap: first, n0, n1, n10, n11 | n2, ...
  CHECK(next["items"][0]["metadata"]["name"].get<std::string>() >
        list["items"][4]["metadata"]["name"].get<std::string>());
  CHECK(next["items"].size() == 5);
  CHECK(next["metadata"]["remainingItemCount"] == 3);
  std::thread writer([&] { createCm(sim, "later", R"({"pick":"me"})"); });
  auto events = watchEvents(sim, "resourceVersion=" + rv + "&labelSelector=pick%3Dme",
                            [](const std::vector<Json>& e) { return !e.empty(); });
  writer.join();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["type"] == "ADDED");
  CHECK(events[0]["object"]["metadata"]["name"] == "later");
}

TEST_CASE("http: bookmarks, timeoutSeconds and table watches", "[http]") {
  KubeSim sim({"--bookmark-interval-ms", "100"});
  REQUIRE(sim.ready());
  createCm(sim, "a");
  auto events = watchEvents(
      sim, "allowWatchBookmarks=true&timeoutSeconds=5",
      [](const std::vector<Json>& e) { return !e.empty() && e.back()["type"] == "BOOKMARK"; });
  REQUIRE(events.size() == 2);
  CHECK(events[0]["type"] == "ADDED");
  CHECK(events[1]["object"]["metadata"].size() == 1);
  CHECK(events[1]["object"]["metadata"].contains("resourceVersion"));
  // timeoutSeconds ends the stream by itself (the stop predicate never fires).
  auto timed = watchEvents(sim, "timeoutSeconds=1", [](const std::vector<Json>&) { return false; });
  CHECK(timed.size() == 1);
  auto table =
      watchEvents(sim, "timeoutSeconds=5", [](const std::vector<Json>& e) { return !e.empty(); },
                  {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  REQUIRE(table.size() == 1);
  CHECK(table[0]["object"]["kind"] == "Table");
  CHECK(table[0]["object"]["rows"][0]["cells"][0] == "a");

  // kubectl get events prints the familiar columns from the server's table.
  REQUIRE(
      httpRequest("POST", sim.url("/api/v1/namespaces/default/events"),
                  R"({"metadata":{"name":"e1"},"type":"Warning","reason":"Failed","message":"boom",
                          "involvedObject":{"kind":"WahaSession","name":"s1"}})",
                  sim.auth())
          .status == 201);
  auto evTable = Json::parse(
      httpGet(sim.url("/api/v1/namespaces/default/events"),
              {{"Authorization", sim.auth()["Authorization"]},
               {"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}})
          .body);
  std::vector<std::string> names;
  for (const auto& c : evTable["columnDefinitions"]) {
    names.push_back(c["name"]);
  }
  CHECK(names ==
        std::vector<std::string>{"Name", "Last Seen", "Type", "Reason", "Object", "Message"});
  CHECK(evTable["rows"][0]["cells"][4] == "wahasession/s1");
}

TEST_CASE("http: faults cut watches, expire the next watch and fail writes with 429",
          "[http][faults]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  createCm(sim, "a");
  std::atomic<bool> ended{false};
  std::thread watcher([&] {
    watchEvents(sim, "timeoutSeconds=60", [](const std::vector<Json>&) { return false; });
    ended = true;
  });
  REQUIRE(waitFor([&] {
    auto st = httpRequest("POST", sim.url("/admin/status"), "", sim.auth());
    return Json::parse(st.body).value("watches", 0) == 1;
  }));
  auto cli = runCommand({binaryPath("tests/sim/kube/kube-sim"), "fault", "--port-file",
                         sim.dir() + "/ports.json", "cut-watches"});
  CHECK(cli.exitCode == 0);
  CHECK(waitFor([&] { return ended.load(); }));
  watcher.join();

  REQUIRE(httpRequest("POST", sim.url("/admin/expire-watches?count=1"), "", sim.auth()).status ==
          200);
  std::string rv =
      Json::parse(httpGet(sim.url(kCms), sim.auth()).body)["metadata"]["resourceVersion"];
  auto expired = watchEvents(sim, "resourceVersion=" + rv,
                             [](const std::vector<Json>& e) { return !e.empty(); });
  CHECK(expired[0]["object"]["code"] == 410);

  REQUIRE(httpRequest("POST", sim.url("/admin/fail-writes?percent=100&code=429&retryAfter=2"), "",
                      sim.auth())
              .status == 200);
  auto refused = httpRequest("POST", sim.url(kCms), R"({"metadata":{"name":"b"}})", sim.auth());
  CHECK(refused.status == 429);
  CHECK(refused.headers.getOr("Retry-After") == "2");
  CHECK(httpGet(sim.url(kCms + "/a"), sim.auth()).status == 200);  // reads still work
  REQUIRE(httpRequest("POST", sim.url("/admin/clear"), "", sim.auth()).status == 200);
  CHECK(httpRequest("POST", sim.url(kCms), R"({"metadata":{"name":"b"}})", sim.auth()).status ==
        201);
  CHECK(sim.log().find("fault=fail-writes") != std::string::npos);
}

TEST_CASE("http: a Deployment's pods run a real process reachable at the pod IP",
          "[http][workloads]") {
  KubeSim sim({"--pod-command", "python3 -m http.server {port} --bind {podIP}"});
  REQUIRE(sim.ready());
  auto nodes = Json::parse(httpGet(sim.url("/api/v1/nodes"), sim.auth()).body);
  if (nodes["items"].empty()) {
    WARN("kube-sim built without simulated workloads");
    return;
  }
  std::string deploy = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"main","image":"sim",
        "ports":[{"containerPort":8080}],
        "readinessProbe":{"httpGet":{"path":"/","port":8080},"periodSeconds":1}}]}}}})";
  REQUIRE(httpRequest("POST", sim.url("/apis/apps/v1/namespaces/default/deployments"), deploy,
                      sim.auth())
              .status == 201);
  std::string podIP;
  REQUIRE(waitFor(
      [&] {
        auto pods = Json::parse(
            httpGet(sim.url("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb"), sim.auth())
                .body);
        for (const auto& p : pods["items"]) {
          for (const auto& c : p["status"].value("conditions", Json::array())) {
            if (c["type"] == "Ready" && c["status"] == "True") {
              podIP = p["status"].value("podIP", "");
              return true;
            }
          }
        }
        return false;
      },
      std::chrono::seconds(30)));
  auto r = httpGet("http://" + podIP + ":8080/");
  CHECK(r.status == 200);
}

TEST_CASE("http: scale subresource of a custom resource that declares one; dryRun refused",
          "[http]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  Json crd =
      Json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"pools.example.io"},
    "spec":{"group":"example.io","scope":"Namespaced","names":{"plural":"pools","singular":"pool","kind":"Pool"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "subresources":{"status":{},"scale":{"specReplicasPath":".spec.size","statusReplicasPath":".status.size","labelSelectorPath":".status.selector"}},
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object","properties":{"size":{"type":"integer","minimum":0}}},
          "status":{"type":"object","properties":{"size":{"type":"integer"},"selector":{"type":"string"}}}}}}}]}})");
  REQUIRE(httpRequest("POST", sim.url("/apis/apiextensions.k8s.io/v1/customresourcedefinitions"),
                      crd.dump(), sim.auth())
              .status == 201);
  const std::string pools = "/apis/example.io/v1/namespaces/default/pools";
  REQUIRE(
      httpRequest(
          "POST", sim.url(pools),
          R"({"apiVersion":"example.io/v1","kind":"Pool","metadata":{"name":"p"},"spec":{"size":1}})",
          sim.auth())
          .status == 201);
  auto scale = Json::parse(httpGet(sim.url(pools + "/p/scale"), sim.auth()).body);
  CHECK(scale["kind"] == "Scale");
  CHECK(scale["apiVersion"] == "autoscaling/v1");
  CHECK(scale["spec"]["replicas"] == 1);
  auto patched = httpRequest("PATCH", sim.url(pools + "/p/scale"), R"({"spec":{"replicas":4}})",
                             sim.auth("application/merge-patch+json"));
  CHECK(patched.status == 200);
  auto obj = Json::parse(httpGet(sim.url(pools + "/p"), sim.auth()).body);
  CHECK(obj["spec"]["size"] == 4);
  CHECK(obj["metadata"]["generation"] == 2);
  // kubectl scale drives the same subresource.
  CHECK(sim.kubectl({"scale", "pool", "p", "--replicas=2"}).exitCode == 0);
  CHECK(Json::parse(httpGet(sim.url(pools + "/p"), sim.auth()).body)["spec"]["size"] == 2);
  auto dry = httpRequest("POST", sim.url(pools + "?dryRun=All"),
                         R"({"metadata":{"name":"q"},"spec":{"size":1}})", sim.auth());
  CHECK(dry.status == 400);
  CHECK(httpGet(sim.url(pools + "/q"), sim.auth()).status == 404);
}
