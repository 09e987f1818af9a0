// Deployment -> ReplicaSet -> Pods, scaling order and rolling updates, on kube-sim's store.

#include <catch2/catch.hpp>
#include <set>

#include "fixture.h"

using namespace waha::sim;
using namespace waha::sim::testing;
using waha::test::waitFor;

namespace {

std::string podName(const Json& p) { return strAt(p, "/metadata/name"); }

Json updateAnnotation(ObjectStore& store, const std::string& pod, const std::string& value) {
  auto p = store.get(kPods, "default", pod);
  REQUIRE(p.ok());
  Json obj = *p;
  obj["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"] = value;
  auto r = store.update(kPods, "default", obj);
  REQUIRE(r.ok());
  return *r;
}

waha::Status scale(ObjectStore& store, const std::string& name, int replicas) {
  auto d = store.get(kDeployments, "default", name);
  if (!d.ok()) {
    return d.error();
  }
  Json obj = *d;
  obj["spec"]["replicas"] = replicas;
  auto r = store.update(kDeployments, "default", obj);
  return r.ok() ? waha::Status() : waha::Status(r.error());
}

}  // namespace

TEST_CASE("a deployment gets a ReplicaSet and ready pods with owners, nodes and distinct IPs") {
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  REQUIRE(store.create(kDeployments, "default", deployment("web", 3)).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "web", 3); }));

  auto d = store.get(kDeployments, "default", "web");
  auto rss = store.list(kReplicaSets, "default").valueOr({});
  REQUIRE(rss.size() == 1);
  const Json& rs = rss[0];
  std::string hash = strAt(rs, "/metadata/labels/pod-template-hash");
  CHECK(hash.size() >= 5);
  CHECK(strAt(rs, "/metadata/name") == "web-" + hash);
  CHECK(rs["metadata"]["ownerReferences"][0]["uid"] == d->at("metadata").at("uid"));
  CHECK(rs["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(rs["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] == true);
  CHECK(rs["spec"]["selector"]["matchLabels"]["pod-template-hash"] == hash);
  CHECK(strAt(rs, "/metadata/annotations/deployment.kubernetes.io~1revision") == "1");

  std::set<std::string> ips;
  std::set<std::string> nodes;
  for (const auto& p : store.list(kPods, "default").valueOr({})) {
    CHECK(podName(p).rfind("web-" + hash + "-", 0) == 0);
    CHECK(podName(p).size() == std::string("web-" + hash + "-").size() + 5);
    CHECK(p["metadata"]["labels"]["app"] == "web");
    CHECK(p["metadata"]["labels"]["pod-template-hash"] == hash);
    CHECK(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet");
    CHECK(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]);
    CHECK(strAt(p, "/status/phase") == "Running");
    CHECK(isPodReady(p));
    std::string ip = strAt(p, "/status/podIP");
    CHECK(ip.rfind("127.", 0) == 0);
    CHECK(ip != "127.0.0.1");
    CHECK(p["status"]["podIPs"][0]["ip"] == ip);
    CHECK(strAt(p, "/status/hostIP").rfind("127.0.1.", 0) == 0);
    CHECK(p["status"]["containerStatuses"][0]["ready"] == true);
    CHECK(p["status"]["containerStatuses"][0]["restartCount"] == 0);
    CHECK(p["status"]["containerStatuses"][0]["state"].contains("running"));
    ips.insert(ip);
    nodes.insert(strAt(p, "/spec/nodeName"));
  }
  CHECK(ips.size() == 3);
  CHECK(nodes == std::set<std::string>{"node-1", "node-2", "node-3"});  // least-loaded spreads

  CHECK(intAt(*d, "/status/readyReplicas", 0) == 3);
  CHECK(intAt(*d, "/status/unavailableReplicas", -1) == 0);
  bool available = false;
  for (const auto& c : d->at("status").at("conditions")) {
    if (c["type"] == "Available") {
      available = c["status"] == "True";
    }
    if (c["type"] == "Progressing") {
      CHECK(c["reason"] == "NewReplicaSetAvailable");
    }
  }
  CHECK(available);
  CHECK(store.list(workloads::kNodes, "").valueOr({}).size() == 3);

  // Deleting the Deployment takes the ReplicaSet and the pods with it (owner GC + kubelet).
  REQUIRE(store.remove(kDeployments, "default", "web").ok());
  CHECK(waitFor([&] { return store.list(kPods, "default").valueOr({}).empty(); }));
  CHECK(store.list(kReplicaSets, "default").valueOr({}).empty());
}

TEST_CASE("scale-down removes not-ready pods first, then lower deletion cost, then newer") {
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  REQUIRE(store.create(kDeployments, "default", deployment("api", 5)).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "api", 5); }));

  auto pods = activePods(store);
  REQUIRE(pods.size() == 5);
  // pods[0]: not ready (highest cost, still goes first); pods[1]: cost -10; pods[2..4]: cost 100.
  updateAnnotation(store, podName(pods[0]), "1000");
  updateAnnotation(store, podName(pods[1]), "-10");
  for (int i = 2; i < 5; ++i) {
    updateAnnotation(store, podName(pods[i]), "100");
  }
  REQUIRE(wl.setNotReady("default", podName(pods[0]), true).ok());
  REQUIRE(waitFor([&] { return readyCount(activePods(store)) == 4; }));

  REQUIRE(scale(store, "api", 3).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "api", 3); }));
  std::set<std::string> left;
  for (const auto& p : activePods(store)) {
    left.insert(podName(p));
  }
  CHECK(left == std::set<std::string>{podName(pods[2]), podName(pods[3]), podName(pods[4])});

  // Equal cost and readiness: the newest pod goes first.
  REQUIRE(scale(store, "api", 4).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "api", 4); }));
  std::string newest;
  for (const auto& p : activePods(store)) {
    if (left.count(podName(p)) == 0) {
      newest = podName(p);
      updateAnnotation(store, newest, "100");
    }
  }
  REQUIRE(!newest.empty());
  REQUIRE(scale(store, "api", 3).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "api", 3); }));
  std::set<std::string> after;
  for (const auto& p : activePods(store)) {
    after.insert(podName(p));
  }
  CHECK(after == left);
}

TEST_CASE("a rolling update stays within maxSurge and maxUnavailable") {
  auto [surge, unavailable] =
      GENERATE(std::make_pair(1, 0), std::make_pair(0, 1), std::make_pair(2, 1));
  CAPTURE(surge, unavailable);
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  const int replicas = 4;
  Json d = deployment("roll", replicas);
  d["spec"]["strategy"] = {
      {"type", "RollingUpdate"},
      {"rollingUpdate", {{"maxSurge", surge}, {"maxUnavailable", unavailable}}}};
  REQUIRE(store.create(kDeployments, "default", d).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "roll", replicas); }));

  // Watch every write during the rollout and check the bounds on each. maxSurge bounds what the
  // Deployment controller asks for, the sum of its ReplicaSets' spec.replicas (as in Kubernetes:
  // a pod the old ReplicaSet is about to delete can briefly coexist with the new one's new pod, so
  // the live pod count is not what is bounded); maxUnavailable bounds the ready pods.
  std::mutex mu;
  int64_t maxWanted = 0;
  int minReady = replicas;
  uint64_t podSub = store.subscribe(kPods, [&](const StoreEvent&) {
    auto pods = activePods(store);
    std::lock_guard<std::mutex> lk(mu);
    minReady = std::min(minReady, readyCount(pods));
  });
  uint64_t rsSub = store.subscribe(kReplicaSets, [&](const StoreEvent&) {
    int64_t wanted = 0;
    for (const auto& rs : store.list(kReplicaSets, "default").valueOr({})) {
      wanted += intAt(rs, "/spec/replicas", 0);
    }
    std::lock_guard<std::mutex> lk(mu);
    maxWanted = std::max(maxWanted, wanted);
  });
  auto cur = store.get(kDeployments, "default", "roll");
  REQUIRE(cur.ok());
  Json next = *cur;
  next["spec"]["template"]["spec"]["containers"][0]["image"] = "waha:2";
  REQUIRE(store.update(kDeployments, "default", next).ok());
  REQUIRE(waitFor(
      [&] {
        auto pods = activePods(store);
        bool allNew = std::all_of(pods.begin(), pods.end(), [](const Json& p) {
          return p["spec"]["containers"][0]["image"] == "waha:2";
        });
        return allNew && deploymentSettled(store, "roll", replicas);
      },
      std::chrono::seconds(20)));
  store.unsubscribe(podSub);
  store.unsubscribe(rsSub);
  {
    std::lock_guard<std::mutex> lk(mu);
    CHECK(maxWanted <= replicas + surge);
    CHECK(minReady >= replicas - unavailable);
  }
  auto rss = store.list(kReplicaSets, "default").valueOr({});
  REQUIRE(rss.size() == 2);
  for (const auto& rs : rss) {
    bool isNew = rs["spec"]["template"]["spec"]["containers"][0]["image"] == "waha:2";
    CHECK(intAt(rs, "/spec/replicas", -1) == (isNew ? replicas : 0));
    CHECK(strAt(rs, "/metadata/annotations/deployment.kubernetes.io~1revision") ==
          (isNew ? "2" : "1"));
  }
  auto dd = store.get(kDeployments, "default", "roll");
  CHECK(intAt(*dd, "/status/observedGeneration", 0) == 2);
}

TEST_CASE("Recreate stops every old pod before starting new ones") {
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  Json d = deployment("rec", 2);
  d["spec"]["strategy"] = {{"type", "Recreate"}};
  REQUIRE(store.create(kDeployments, "default", d).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "rec", 2); }));
  std::mutex mu;
  bool mixed = false;
  // An old pod that has stopped (phase Succeeded or Failed) may still be in the store, waiting
  // for the kubelet's final delete, when the new pods are created: Kubernetes' Recreate waits for
  // old pods to stop, not for their objects to go. A running old pod next to a new one is the bug.
  uint64_t sub = store.subscribe(kPods, [&](const StoreEvent&) {
    std::set<std::string> images;
    for (const auto& p : store.list(kPods, "default").valueOr({})) {
      std::string phase = strAt(p, "/status/phase");
      if (phase != "Succeeded" && phase != "Failed") {
        images.insert(p["spec"]["containers"][0]["image"].get<std::string>());
      }
    }
    std::lock_guard<std::mutex> lk(mu);
    mixed = mixed || images.size() > 1;
  });
  auto cur = store.get(kDeployments, "default", "rec");
  Json next = *cur;
  next["spec"]["template"]["spec"]["containers"][0]["image"] = "waha:2";
  REQUIRE(store.update(kDeployments, "default", next).ok());
  REQUIRE(waitFor([&] {
    auto pods = activePods(store);
    return pods.size() == 2 && pods[0]["spec"]["containers"][0]["image"] == "waha:2" &&
           deploymentSettled(store, "rec", 2);
  }));
  store.unsubscribe(sub);
  std::lock_guard<std::mutex> lk(mu);
  CHECK_FALSE(mixed);
}

TEST_CASE("bare pods are scheduled and run; an unsatisfiable nodeSelector stays Pending") {
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "bare"}, {"namespace", "default"}}},
              {"spec",
               {{"containers", Json::array({container()})},
                {"nodeSelector", {{"kubernetes.io/hostname", "node-2"}}}}}};
  REQUIRE(store.create(kPods, "default", pod).ok());
  Json stuck = pod;
  stuck["metadata"]["name"] = "stuck";
  stuck["spec"]["nodeSelector"] = {{"disktype", "ssd"}};
  REQUIRE(store.create(kPods, "default", stuck).ok());
  REQUIRE(waitFor([&] {
    auto p = store.get(kPods, "default", "bare");
    return p.ok() && isPodReady(*p);
  }));
  CHECK(strAt(*store.get(kPods, "default", "bare"), "/spec/nodeName") == "node-2");
  REQUIRE(waitFor([&] {
    auto p = store.get(kPods, "default", "stuck");
    return p.ok() && strAt(*p, "/status/conditions/0/reason") == "Unschedulable";
  }));
  auto s = store.get(kPods, "default", "stuck");
  CHECK(strAt(*s, "/status/phase") == "Pending");
  CHECK(strAt(*s, "/spec/nodeName").empty());
  CHECK(strAt(*s, "/status/podIP").empty());
}

TEST_CASE("a deployment rolls out a new template, scales down and goes away with its pods") {
  SimStore sim;
  MemoryStore& store = sim.store;
  Workloads wl(store, fastOptions());
  wl.start();
  CHECK(store.list(workloads::kNodes, "").valueOr({}).size() == 3);

  REQUIRE(store.create(kDeployments, "default", deployment("web", 3)).ok());
  REQUIRE(waitFor([&] { return deploymentSettled(store, "web", 3); }));
  std::set<std::string> ips;
  for (const auto& p : activePods(store)) {
    CHECK(isPodReady(p));
    CHECK(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet");
    ips.insert(strAt(p, "/status/podIP"));
  }
  CHECK(ips.size() == 3);

  auto d = store.get(kDeployments, "default", "web");
  REQUIRE(d.ok());
  Json next = *d;
  next["spec"]["template"]["spec"]["containers"][0]["image"] = "waha:2";
  next["spec"]["replicas"] = 2;
  REQUIRE(store.update(kDeployments, "default", next).ok());
  REQUIRE(waitFor(
      [&] {
        auto pods = activePods(store);
        return pods.size() == 2 && deploymentSettled(store, "web", 2) &&
               std::all_of(pods.begin(), pods.end(), [](const Json& p) {
                 return p["spec"]["containers"][0]["image"] == "waha:2";
               });
      },
      std::chrono::seconds(20)));
  CHECK(store.list(kReplicaSets, "default").valueOr({}).size() == 2);

  REQUIRE(store.remove(kDeployments, "default", "web").ok());
  // Deletion cascades through GC and graceful pod termination: give a loaded machine time.
  CHECK(waitFor(
      [&] {
        return store.list(kPods, "default").valueOr({}).empty() &&
               store.list(kReplicaSets, "default").valueOr({}).empty();
      },
      std::chrono::seconds(30)));
}
