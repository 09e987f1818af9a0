// ClusterReconciler against fakes: the worker Deployment and PDB, capacity scaling, template
// changes that remove what the spec no longer asks for, status and conditions, and the fencing
// deletion of a worker NotReady too long. The caches are filled by hand (the informers' role).

#include <catch2/catch.hpp>

#include "controller/cluster_reconciler.h"
#include "controller/kinds.h"
#include "controller/views.h"
#include "controller/worker_sync.h"
#include "controller/worker_template.h"
#include "controller_rig.h"
#include "metrics/metrics.h"
#include "metrics/operator_metrics.h"
#include "support/fake_kube_client.h"
#include "support/fake_waha_client.h"

using namespace waha;
using namespace waha::controller;
using Json = nlohmann::json;

namespace {

Json cluster(int perWorker, int min, int max, Json extra = Json::object()) {
  Json c = {{"apiVersion", "waha.io/v1alpha1"},
            {"kind", "WahaCluster"},
            {"metadata", {{"name", "pool"}, {"namespace", "ns"}, {"uid", "c1"}, {"generation", 1}}},
            {"spec",
             {{"engine", "NOWEB"},
              {"sessionsPerWorker", perWorker},
              {"workers", {{"min", min}, {"max", max}}},
              {"apiKeySecretRef", {{"name", "key"}, {"key", "api-key"}}},
              {"failover", {{"notReadyTimeoutSeconds", 30}}}}}};
  c["spec"].update(extra);
  return c;
}

Json pod(const std::string& name, bool ready, const std::string& since) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"uid", "u-" + name},
            {"labels", {{"waha.io/cluster", "pool"}, {"app.kubernetes.io/component", "worker"}}}}},
          {"spec", {{"nodeName", "node-1"}}},
          {"status",
           {{"podIP", "127.1.0.9"},
            {"phase", "Running"},
            {"conditions", Json::array({{{"type", "Ready"},
                                         {"status", ready ? "True" : "False"},
                                         {"lastTransitionTime", since}}})}}}};
}

Json session(const std::string& name, const std::string& worker = "") {
  Json s = {{"apiVersion", "waha.io/v1alpha1"},
            {"kind", "WahaSession"},
            {"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", "s-" + name}}},
            {"spec", {{"clusterRef", {{"name", "pool"}}}}}};
  if (!worker.empty()) {
    s["status"] = {{"worker", worker}, {"epoch", 1}, {"phase", "Running"}};
  }
  return s;
}

struct Rig : test::ControllerRig {
  metrics::Metrics registry;
  metrics::OperatorMetrics opMetrics{registry};
  ClusterReconciler rec{ctx};

  Rig() { ctx.metrics = &opMetrics; }
  void setCluster(const Json& c) { add(clusters, kube.put(kClusters, c)); }
  // The informers' role: the caches catch up with the API server.
  void syncCaches() {
    for (const auto& d : kube.objects(kDeployments, "ns")) {
      add(deployments, d);
    }
    for (const auto& c : kube.objects(kClusters, "ns")) {
      add(clusters, c);
    }
  }
  Json deployment() {
    auto all = kube.objects(kDeployments, "ns");
    return all.empty() ? Json() : all.front();
  }
  Json status() {
    auto all = kube.objects(kClusters, "ns");
    return all.empty() ? Json() : all.front().value("status", Json());
  }
  std::string condition(const std::string& type, const char* field = "status") {
    for (const auto& c : status().value("conditions", Json::array())) {
      if (c["type"] == type) {
        return c[field];
      }
    }
    return "";
  }
  std::vector<test::FakeKubeClient::Call> calls(const std::string& verb) {
    std::vector<test::FakeKubeClient::Call> out;
    for (const auto& c : kube.calls()) {
      if (c.verb == verb) {
        out.push_back(c);
      }
    }
    return out;
  }
};

}  // namespace

TEST_CASE("A new cluster gets its worker Deployment at workers.min and a PDB") {
  Rig r;
  r.setCluster(cluster(10, 2, 5));
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  Json d = r.deployment();
  REQUIRE(d["metadata"]["name"] == workerDeploymentName("pool"));
  REQUIRE(d["spec"]["replicas"] == 2);
  REQUIRE(d["metadata"]["ownerReferences"][0]["uid"] == "c1");
  REQUIRE(r.kube.objects(kPdbs, "ns").size() == 1);
  REQUIRE(r.status()["replicas"] == 2);
  REQUIRE(r.condition("Valid") == "True");
  REQUIRE(r.condition("Ready") == "False");  // no worker is ready yet
  REQUIRE(r.condition("Progressing") == "True");
}

TEST_CASE("Sessions beyond capacity scale the Deployment up, bounded by workers.max") {
  Rig r;
  r.setCluster(cluster(10, 1, 3));
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  r.syncCaches();
  for (int i = 0; i < 25; ++i) {
    r.add(r.sessions, session("s" + std::to_string(i)));
  }
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  auto patches = r.calls("patch");
  REQUIRE(patches.size() == 1);
  REQUIRE(patches[0].body["spec"]["replicas"] == 3);            // ceil(25 / 10)
  REQUIRE_FALSE(patches[0].body["spec"].contains("template"));  // replicas only: no rollout
  r.syncCaches();

  for (int i = 25; i < 60; ++i) {
    r.add(r.sessions, session("s" + std::to_string(i)));
  }
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  REQUIRE(r.calls("patch").size() == 1);  // already at max: nothing to write
  REQUIRE(r.deployment()["spec"]["replicas"] == 3);
}

TEST_CASE("A template change removes env vars and nodeSelector keys the spec no longer has") {
  Rig r;
  Json extra = {{"env", Json::array({{{"name", "EXTRA"}, {"value", "1"}}})},
                {"nodeSelector", {{"disk", "ssd"}, {"zone", "a"}}}};
  r.setCluster(cluster(10, 1, 3, extra));
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  r.syncCaches();
  auto container = [&] { return r.deployment()["spec"]["template"]["spec"]["containers"][0]; };
  auto hasEnv = [&](const std::string& name) {
    Json c = container();
    for (const auto& e : c["env"]) {
      if (e["name"] == name) {
        return true;
      }
    }
    return false;
  };
  REQUIRE(hasEnv("EXTRA"));

  Json c = cluster(10, 1, 3, {{"nodeSelector", {{"zone", "a"}}}});
  c["metadata"]["generation"] = 2;
  r.setCluster(c);
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  auto patches = r.calls("patch");
  REQUIRE(patches.size() == 1);
  REQUIRE(patches[0].body["spec"].contains("template"));
  REQUIRE_FALSE(hasEnv("EXTRA"));
  REQUIRE(hasEnv("WHATSAPP_API_KEY"));
  REQUIRE(r.deployment()["spec"]["template"]["spec"]["nodeSelector"] == Json{{"zone", "a"}});
}

TEST_CASE("Status counts ready workers, sessions and capacity; AtMaxWorkers when sessions wait") {
  Rig r;
  r.setCluster(cluster(2, 1, 1));
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  r.syncCaches();
  r.add(r.pods, pod("w-1", true, "2026-11-01T00:00:00Z"));
  r.add(r.sessions, session("a", "w-1"));
  r.add(r.sessions, session("b", "w-1"));
  r.add(r.sessions, session("c"));  // no room: workers.max is 1
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  Json st = r.status();
  REQUIRE(st["readyWorkers"] == 1);
  REQUIRE(st["sessions"] == 2);
  REQUIRE(st["capacity"] == 2);
  REQUIRE(st["ready"] == "1/1");
  REQUIRE(st["workers"][0]["pod"] == "w-1");
  REQUIRE(st["workers"][0]["sessions"] == 2);
  REQUIRE(r.condition("Ready") == "True");
  REQUIRE(r.condition("Degraded") == "True");
  REQUIRE(r.condition("Degraded", "reason") == "AtMaxWorkers");
}

TEST_CASE("A worker NotReady past the timeout with sessions is deleted; before it, requeued") {
  Rig r;
  r.setCluster(cluster(10, 2, 2));
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  r.syncCaches();
  // NotReady since 20 s ago; the timeout is 30 s.
  auto since = formatRfc3339(r.clock.wallNow() - std::chrono::seconds(20));
  r.add(r.pods, r.kube.put(kPods, pod("w-bad", false, since)));
  r.add(r.pods, r.kube.put(kPods, pod("w-idle", false, since)));
  r.add(r.sessions, session("a", "w-bad"));
  auto a = r.rec.reconcile("ns/pool");
  REQUIRE(a.ok());
  REQUIRE(r.calls("delete").empty());
  REQUIRE(a->after());
  REQUIRE(*a->after() <= std::chrono::seconds(11));  // comes back when the timeout falls

  r.clock.advance(std::chrono::seconds(11));
  r.syncCaches();
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  auto deletes = r.calls("delete");
  REQUIRE(deletes.size() == 1);  // the idle NotReady worker holds nothing: left to Kubernetes
  REQUIRE(deletes[0].path.find("/pods/w-bad") != std::string::npos);
  REQUIRE(r.registry.render().find("waha_operator_failovers_total 1\n") != std::string::npos);
}

TEST_CASE("An invalid cluster is reported in Valid=False and gets no Deployment") {
  Rig r;
  r.setCluster(cluster(10, 5, 2));  // min > max
  REQUIRE(r.rec.reconcile("ns/pool").ok());
  REQUIRE(r.kube.objects(kDeployments, "ns").empty());
  REQUIRE(r.condition("Valid") == "False");
  REQUIRE(r.condition("Valid", "reason") == "InvalidSpec");
}
