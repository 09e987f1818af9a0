#pragma once

// Shared set-up for the workloads tests: kube-sim's own store (sim/kube/memory_store.h), so the
// workloads are tested on the apiserver rules they meet in kube-sim.

#include <string>
#include <vector>

#include "sim/kube/memory_store.h"
#include "support/wait.h"
#include "workloads/objects.h"
#include "workloads/workloads.h"

namespace waha::sim::testing {

using workloads::intAt;
using workloads::isPodActive;
using workloads::isPodReady;
using workloads::kDeployments;
using workloads::kPods;
using workloads::kReplicaSets;
using workloads::strAt;

// kube-sim's store set up as kube-sim runs it with its workloads: graceful pod deletion (the
// kubelet makes the final delete) and the namespaces the tests write to.
struct SimStore {
  ResourceRegistry registry;
  MemoryStore store{registry, MemoryStore::Options{}};

  SimStore() {
    store.setGracefulPodDeletion(true);
    for (const char* ns : {"default", "ns"}) {
      (void)store.create({"", "v1", "namespaces"}, "", {{"metadata", {{"name", ns}}}});
    }
  }
};

inline WorkloadOptions fastOptions() {
  WorkloadOptions o;
  o.readyDelay = std::chrono::milliseconds(50);
  o.probePeriodCap = std::chrono::milliseconds(50);
  o.restartBackoff = std::chrono::milliseconds(50);
  o.restartBackoffMax = std::chrono::milliseconds(200);
  return o;
}

inline Json container(const std::string& name = "app", const std::string& image = "waha:1") {
  return {{"name", name}, {"image", image}, {"ports", Json::array({{{"containerPort", 3000}}})}};
}

inline Json deployment(const std::string& name, int replicas, Json podSpec = Json()) {
  if (podSpec.is_null()) {
    podSpec = {{"containers", Json::array({container()})}};
  }
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", podSpec}}}}}};
}

// Pods of the namespace that are not being deleted.
inline std::vector<Json> activePods(ObjectStore& store, const std::string& selector = "") {
  std::vector<Json> out;
  for (auto& p : store.list(kPods, "default", selector).valueOr({})) {
    if (isPodActive(p)) {
      out.push_back(std::move(p));
    }
  }
  return out;
}

inline int readyCount(const std::vector<Json>& pods) {
  int n = 0;
  for (const auto& p : pods) {
    n += isPodReady(p) ? 1 : 0;
  }
  return n;
}

inline bool deploymentSettled(ObjectStore& store, const std::string& name, int replicas) {
  auto d = store.get(kDeployments, "default", name);
  return d.ok() &&
         intAt(*d, "/status/observedGeneration", 0) == intAt(*d, "/metadata/generation", 1) &&
         intAt(*d, "/status/updatedReplicas", -1) == replicas &&
         intAt(*d, "/status/availableReplicas", -1) == replicas &&
         intAt(*d, "/status/replicas", -1) == replicas &&
         static_cast<int>(store.list(kPods, "default", "app=" + name).valueOr({}).size()) ==
             replicas;
}

}  // namespace waha::sim::testing
