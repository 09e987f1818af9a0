#pragma once

// Pure helpers over Kubernetes objects shared by the simulated controllers and kubelet.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "object_store.h"

namespace waha::sim::workloads {

extern const GVR kPods;
extern const GVR kReplicaSets;
extern const GVR kDeployments;
extern const GVR kNodes;
extern const GVR kSecrets;
extern const GVR kConfigMaps;

// "ns/name" of an object.
std::string keyOf(const Json& obj);
std::string keyOf(const std::string& ns, const std::string& name);
// obj[path] as a string/int, or the fallback when missing or of another type.
std::string strAt(const Json& obj, const char* pointer, const std::string& fallback = "");
int64_t intAt(const Json& obj, const char* pointer, int64_t fallback);

// metav1.LabelSelector (matchLabels + matchExpressions) against a label map. An empty selector
// matches everything, as for a ReplicaSet.
bool selectorMatches(const Json& selector, const Json& labels);
// A nodeSelector (plain map) against a node's labels.
bool nodeSelectorMatches(const Json& nodeSelector, const Json& nodeLabels);

// The pod-template-hash the deployment controller gives a template: FNV-32a of the template,
// written with the apiserver's "safe" alphabet (no vowels, so no words).
std::string podTemplateHash(const Json& podTemplate, int64_t collisionCount);
// A template without the pod-template-hash label and without null/empty fields: the form in
// which an RS's template is compared with its Deployment's.
Json withoutHashLabel(Json podTemplate);
// `n` characters of the safe alphabet, as the apiserver's generateName suffix.
std::string randomSuffix(Random& random, int n = 5);

// An ownerReference with controller and blockOwnerDeletion set.
Json controllerRef(const Json& owner, const std::string& apiVersion, const std::string& kind);
// The controlling ownerReference, or null.
Json controllerOf(const Json& obj);

// spec.containers[0] (the container that runs), or an empty object.
Json firstContainer(const Json& pod);

bool isTerminating(const Json& obj);
// Not being deleted and not finished: what a ReplicaSet counts.
bool isPodActive(const Json& pod);
bool isPodReady(const Json& pod);
// Ready for at least minReadySeconds at `now`; `wait` gets how long until it will be.
bool isPodAvailable(const Json& pod, int64_t minReadySeconds, WallTime now, Duration* wait);

// intstr: an int, or "N%" of `total` rounded up or down; `fallback` when absent.
int64_t resolveIntOrPercent(const Json& v, int64_t total, bool roundUp, int64_t fallback);

// Orders pods so that the ones to delete first on scale-down come first (ReplicaSet rules):
// unassigned before assigned, Pending before Running, not-ready before ready, lower
// controller.kubernetes.io/pod-deletion-cost first, more restarts first, newer first.
// `sequence` breaks creationTimestamp ties (second precision): higher = created later.
void sortForDeletion(std::vector<Json>& pods, const std::function<uint64_t(const Json&)>& sequence);

}  // namespace waha::sim::workloads
