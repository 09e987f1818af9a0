// SessionReconciler against fakes: the claim is written before any worker call, capacity holds,
// duplicates are refused, a state change alone restarts nothing. The caches are filled by hand
// (the informers' role).

#include <catch2/catch.hpp>
#include <functional>

#include "controller/kinds.h"
#include "controller/session_reconciler.h"
#include "controller/worker_sync.h"
#include "controller_rig.h"
#include "support/fake_kube_client.h"
#include "support/fake_waha_client.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::controller;
using Json = nlohmann::json;

namespace {

Json cluster(int perWorker) {
  return {{"apiVersion", "waha.io/v1alpha1"},
          {"kind", "WahaCluster"},
          {"metadata", {{"name", "pool"}, {"namespace", "ns"}, {"uid", "c1"}}},
          {"spec",
           {{"sessionsPerWorker", perWorker},
            {"apiKeySecretRef", {{"name", "key"}, {"key", "api-key"}}}}}};
}

Json secret() {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", "key"}, {"namespace", "ns"}}},
          {"data", {{"api-key", "c2VjcmV0"}}}};  // "secret"
}

Json pod(const std::string& name, const std::string& ip) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"uid", "u-" + name},
            {"labels", {{"waha.io/cluster", "pool"}, {"app.kubernetes.io/component", "worker"}}}}},
          {"spec", {{"nodeName", "node-1"}}},
          {"status",
           {{"podIP", ip},
            {"phase", "Running"},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

Json session(const std::string& name, const std::string& created, const std::string& worker = "",
             const std::string& sessionName = "") {
  Json s = {{"apiVersion", "waha.io/v1alpha1"},
            {"kind", "WahaSession"},
            {"metadata",
             {{"name", name},
              {"namespace", "ns"},
              {"uid", "s-" + name},
              {"generation", 1},
              {"resourceVersion", "1"},
              {"creationTimestamp", created},
              {"finalizers", Json::array({"waha.io/session-cleanup"})}}},
            {"spec", {{"clusterRef", {{"name", "pool"}}}}}};
  if (!sessionName.empty()) {
    s["spec"]["sessionName"] = sessionName;
  }
  if (!worker.empty()) {
    s["status"] = {{"worker", worker}, {"epoch", 1}, {"phase", "Scheduled"}};
  }
  return s;
}

struct Rig : test::ControllerRig {
  SessionReconciler rec{ctx};

  Rig() { add(secrets, secret()); }
  // The last status written for `name` through the API.
  Json lastStatus(const std::string& name) {
    Json out;
    for (const auto& c : kube.calls()) {
      if (c.verb == "update" &&
          c.path.find("/wahasessions/" + name + "/status") != std::string::npos) {
        out = c.body["status"];
      }
    }
    return out;
  }
};

}  // namespace

TEST_CASE("The claim is written before the worker is called, then the session starts there") {
  Rig r;
  r.add(r.clusters, cluster(10));
  r.add(r.pods, pod("w-1", "127.1.0.1"));
  Json s = r.kube.put(kSessions, session("a", "2026-11-28T00:00:00Z"));
  r.add(r.sessions, s);

  auto a = r.rec.reconcile("ns/a");
  REQUIRE(a.ok());
  Json st = r.lastStatus("a");
  REQUIRE(st["worker"] == "w-1");
  REQUIRE(st["workerIP"] == "127.1.0.1");
  REQUIRE(st["node"] == "node-1");
  REQUIRE(st["epoch"] == 1);
  REQUIRE(st["phase"] == "Scheduled");
  REQUIRE(r.waha.calls().empty());  // nothing on a worker before the claim is seen back

  // The cache catches up with the claim: now the worker is called, with start: true.
  for (const auto& o : r.kube.objects(kSessions, "ns")) {
    if (o["metadata"]["name"] == "a") {
      r.add(r.sessions, o);
    }
  }
  REQUIRE(r.rec.reconcile("ns/a").ok());
  auto calls = r.waha.calls();
  REQUIRE(calls.size() == 1);
  REQUIRE(calls[0].verb == "create");
  REQUIRE(calls[0].baseUrl == "http://127.1.0.1:3000");
  REQUIRE(calls[0].session == "a");
  REQUIRE(calls[0].body["start"] == true);
  REQUIRE(r.waha.status("http://127.1.0.1:3000", "a") == "STARTING");
}

TEST_CASE("A full worker takes no more sessions: Pending with NoCapacity") {
  Rig r;
  r.add(r.clusters, cluster(1));
  r.add(r.pods, pod("w-1", "127.1.0.1"));
  r.add(r.sessions, session("old", "2026-11-28T00:00:00Z", "w-1"));
  Json s = r.kube.put(kSessions, session("new", "2026-11-28T00:00:01Z"));
  r.add(r.sessions, s);
  auto a = r.rec.reconcile("ns/new");
  REQUIRE(a.ok());
  Json st = r.lastStatus("new");
  REQUIRE(st["phase"] == "Pending");
  REQUIRE(st.value("worker", "").empty());
  bool noCapacity = false;
  for (const auto& c : st["conditions"]) {
    noCapacity |= c["type"] == "Scheduled" && c["reason"] == "NoCapacity";
  }
  REQUIRE(noCapacity);
  REQUIRE(r.waha.calls().empty());
}

TEST_CASE("Claims not yet in the cache count: a burst never overfills a worker") {
  Rig r;
  r.add(r.clusters, cluster(2));
  r.add(r.pods, pod("w-1", "127.1.0.1"));
  int second = 0;
  for (const char* n : {"a", "b", "c"}) {
    Json s =
        r.kube.put(kSessions, session(n, "2026-11-28T00:00:0" + std::to_string(++second) + "Z"));
    r.add(r.sessions, s);
    REQUIRE(r.rec.reconcile(std::string("ns/") + n).ok());  // the cache never sees the claims
  }
  REQUIRE(r.lastStatus("a")["worker"] == "w-1");
  REQUIRE(r.lastStatus("b")["worker"] == "w-1");
  REQUIRE(r.lastStatus("c")["phase"] == "Pending");
}

TEST_CASE("The later of two sessions with one WAHA name is refused and never started") {
  Rig r;
  r.add(r.clusters, cluster(10));
  r.add(r.pods, pod("w-1", "127.1.0.1"));
  Json first = session("first", "2026-11-28T00:00:00Z", "", "shop");
  Json second = session("second", "2026-11-28T00:00:05Z", "", "shop");
  for (const auto& s : {first, second}) {
    r.add(r.sessions, r.kube.put(kSessions, s));
  }
  REQUIRE(r.rec.reconcile("ns/second").ok());
  Json st = r.lastStatus("second");
  REQUIRE(st["phase"] == "Failed");
  REQUIRE(st["message"].get<std::string>().find("WahaSession first") != std::string::npos);
  REQUIRE(r.waha.calls().empty());
}

namespace {

Json stored(Rig& r, const std::string& name) {
  for (const auto& o : r.kube.objects(kSessions, "ns")) {
    if (o["metadata"]["name"] == name) {
      return o;
    }
  }
  return nullptr;
}

// The cache catches up with what the API holds.
void catchUp(Rig& r, const std::string& name) { r.add(r.sessions, stored(r, name)); }

// A spec change as the API server makes it: the generation goes up.
void editSpec(Rig& r, const std::string& name, const std::function<void(Json&)>& edit) {
  Json o = stored(r, name);
  edit(o["spec"]);
  o["metadata"]["generation"] = o["metadata"]["generation"].get<int>() + 1;
  r.add(r.sessions, r.kube.put(kSessions, o));
}

int callsOf(Rig& r, const std::string& verb) {
  int n = 0;
  for (const auto& c : r.waha.calls()) {
    n += c.verb == verb ? 1 : 0;
  }
  return n;
}

// Reconciles until the reconciler asks for nothing more on the worker (each call answers at once).
void settle(Rig& r, const std::string& name) {
  for (int i = 0; i < 6; ++i) {
    REQUIRE(r.rec.reconcile("ns/" + name).ok());
    catchUp(r, name);
  }
}

// One worker w-1 and session "a" created and started on it.
void startOne(Rig& r) {
  r.add(r.clusters, cluster(10));
  r.add(r.pods, pod("w-1", "127.1.0.1"));
  r.add(r.sessions, r.kube.put(kSessions, session("a", "2026-11-28T00:00:00Z")));
  settle(r, "a");
  REQUIRE(callsOf(r, "create") == 1);
}

}  // namespace

TEST_CASE("A stop then a start restarts nothing more; a config change is applied by an update") {
  Rig r;
  startOne(r);

  editSpec(r, "a", [](Json& spec) { spec["state"] = "Stopped"; });
  settle(r, "a");
  REQUIRE(callsOf(r, "stop") == 1);
  REQUIRE(r.waha.status("http://127.1.0.1:3000", "a") == "STOPPED");

  editSpec(r, "a", [](Json& spec) { spec["state"] = "Running"; });
  settle(r, "a");
  REQUIRE(r.waha.status("http://127.1.0.1:3000", "a") != "STOPPED");
  // Started again with the config it has: an update would restart it once more for nothing.
  REQUIRE(callsOf(r, "update") == 0);
  REQUIRE(r.lastStatus("a")["observedGeneration"] == 3);

  editSpec(r, "a", [](Json& spec) { spec["config"] = {{"metadata", {{"team", "sales"}}}}; });
  settle(r, "a");
  REQUIRE(callsOf(r, "update") == 1);
  REQUIRE(r.lastStatus("a")["observedGeneration"] == 4);
}

TEST_CASE("A worker call newer than the worker's last report is looked at again, not left stale") {
  Rig r;
  startOne(r);
  // The worker sync polls w-1 whenever the test moves the clock on.
  r.sync.setTargets([] {
    return std::vector<WorkerTarget>{
        {"ns/w-1", "w-1", "ns", "pool", {"http://127.1.0.1:3000", "secret"}}};
  });
  r.sync.start();
  auto reportAfter = [&](TimePoint t) {
    return test::waitFor([&] {
      r.clock.advance(std::chrono::seconds(1));
      auto rep = r.sync.report("ns/w-1");
      return rep && rep->at > t;
    });
  };
  REQUIRE(reportAfter(TimePoint{}));

  // Stopped: the call returns after the last report; no newer one yet. The status cannot be
  // trusted from that report, and the sync would not enqueue the session if its next poll showed
  // nothing new, so the reconcile asks to be run again.
  editSpec(r, "a", [](Json& spec) { spec["state"] = "Stopped"; });
  settle(r, "a");
  REQUIRE(callsOf(r, "stop") == 1);
  auto again = r.rec.reconcile("ns/a");
  REQUIRE(again.ok());
  REQUIRE(again->after().has_value());
  catchUp(r, "a");

  // Once a report newer than the call is in, the status follows it and nothing more is asked.
  TimePoint called = r.clock.now();
  REQUIRE(reportAfter(called));
  auto settled = r.rec.reconcile("ns/a");
  REQUIRE(settled.ok());
  CHECK_FALSE(settled->after().has_value());
  CHECK(r.lastStatus("a")["phase"] == "Stopped");
  r.sync.stop();
}
