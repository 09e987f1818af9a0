#pragma once

// What a WahaCluster's worker pool looks like in Kubernetes: the Deployment `<cluster>-workers`
// and its PodDisruptionBudget, built from the spec. Deterministic (same spec, same JSON), so the
// reconciler can compare and patch only when something it owns differs.

#include <nlohmann/json.hpp>
#include <string>

#include "api/types.h"

namespace waha::controller {

using Json = nlohmann::json;

inline constexpr const char* kManagedBy = "waha-operator";
inline constexpr const char* kClusterLabel = "waha.io/cluster";
inline constexpr const char* kComponentLabel = "app.kubernetes.io/component";
inline constexpr const char* kWorkerComponent = "worker";
inline constexpr int kWorkerPort = 3000;
// The hash of the pod template the operator built; a change means the template must roll out.
inline constexpr const char* kTemplateHashAnnotation = "waha.io/template-hash";

std::string workerDeploymentName(const std::string& cluster);
// Labels that select a cluster's worker pods (Deployment selector, PDB, informer filter).
Json workerSelector(const std::string& cluster);
// Label selector text for list/watch: "waha.io/cluster=<name>,app.kubernetes.io/component=worker".
std::string workerSelectorText(const std::string& cluster);

// The worker Deployment (apps/v1) with `replicas` pods and an owner reference to the cluster.
// The API key and the PostgreSQL URL reach the pods only as secretKeyRefs: the operator never
// copies a secret's value anywhere.
Json buildWorkerDeployment(const api::WahaCluster& cluster, int replicas);
// policy/v1 PodDisruptionBudget: at most one worker voluntarily disrupted at a time.
Json buildWorkerPdb(const api::WahaCluster& cluster);
// Owner reference to the cluster (controller, blockOwnerDeletion).
Json clusterOwnerReference(const api::WahaCluster& cluster);

}  // namespace waha::controller
