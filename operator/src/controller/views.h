#pragma once

// Read-only views of cached objects that both reconcilers need: what a worker pod is right now,
// and which sessions a cluster or a worker holds.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/clock.h"
#include "kube/store.h"

namespace waha::controller {

using Json = nlohmann::json;

// Store index names registered on the informers.
inline constexpr const char* kByCluster = "byCluster";  // sessions and pods: "ns/cluster"
inline constexpr const char* kByWorker = "byWorker";    // sessions: "ns/pod" of status.worker
// Sessions by "ns/cluster/sessionName" (the effective WAHA name): duplicate names in O(1).
inline constexpr const char* kBySessionName = "bySessionName";
// Sessions by "ns/cluster/assigned" (a worker claimed) or "ns/cluster/waiting" (wants to run, no
// worker yet): a cluster's demand in O(1).
inline constexpr const char* kByDemand = "byDemand";

struct WorkerPod {
  std::string ns;
  std::string name;
  std::string cluster;
  std::string ip;
  std::string node;
  std::string uid;
  bool ready = false;
  bool terminating = false;  // deletionTimestamp set: it takes no new sessions
  // When the Ready condition last changed (parsed from lastTransitionTime; empty if unknown).
  std::optional<WallTime> readyChanged;
};

WorkerPod workerPodFrom(const Json& pod);
// http://<pod IP>:3000: where the worker's WAHA API answers.
std::string workerBaseUrl(const WorkerPod& pod);

// Index functions for the informers.
std::vector<std::string> sessionClusterIndex(const Json& session);
std::vector<std::string> sessionNameIndex(const Json& session);

// Every index the reconcilers read, by store: the manager's informers and the tests' hand-filled
// stores register the same set.
using NamedIndex = std::pair<const char*, kube::Store::IndexFn>;
std::vector<NamedIndex> sessionIndexes();
std::vector<NamedIndex> podIndexes();
std::vector<std::string> sessionDemandIndex(const Json& session);
std::vector<std::string> sessionWorkerIndex(const Json& session);
std::vector<std::string> podClusterIndex(const Json& pod);

// Worker pods of a cluster, sorted by name.
std::vector<WorkerPod> clusterWorkers(const kube::Store& pods, const std::string& ns,
                                      const std::string& cluster);

// Secret value (base64-decoded `data[key]`, or `stringData[key]`); empty optional when absent.
std::optional<std::string> secretValue(const kube::Store& secrets, const std::string& ns,
                                       const std::string& name, const std::string& key);

}  // namespace waha::controller
