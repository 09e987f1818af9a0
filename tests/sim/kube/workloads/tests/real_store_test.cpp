// The workloads on kube-sim's own store (tests/sim/kube/memory_store.h), not the test double.

#include <catch2/catch.hpp>
#include <set>

#include "fixture.h"
#include "sim/kube/memory_store.h"

using namespace waha::sim;
using namespace waha::sim::testing;
using waha::test::waitFor;

TEST_CASE("deployments roll out, scale and go away on kube-sim's store") {
  ResourceRegistry registry;
  MemoryStore store{registry, MemoryStore::Options{}};
  (void)store.create({"", "v1", "namespaces"}, "", {{"metadata", {{"name", "default"}}}});
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
