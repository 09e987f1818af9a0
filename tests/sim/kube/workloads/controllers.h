#pragma once

// The two controller-manager loops kube-sim simulates. Each reconcile is level-based: it reads
// the current objects from the store and moves them one step towards the spec, however often it
// runs and whatever happened before.

#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "object_store.h"

namespace waha::sim::workloads {

// What to do with the key after a reconcile: nothing until the next change, or look again later.
struct Action {
  Duration requeueAfter{0};
};

class ReplicaSetController {
 public:
  ReplicaSetController(ObjectStore& store, Random& random, Clock& clock)
      : store_(store), random_(random), clock_(clock) {}
  Result<Action> reconcile(const std::string& ns, const std::string& name);

 private:
  Status createPods(const Json& rs, int64_t count, std::vector<Json>& active);
  Status deletePods(const std::string& ns, int64_t count, std::vector<Json>& active,
                    std::map<std::string, uint64_t>& sequences);
  Result<Action> updateStatus(const Json& rs, const std::vector<Json>& active);

  ObjectStore& store_;
  Random& random_;
  Clock& clock_;
  // Pod uid -> creation order, per ReplicaSet uid: breaks ties between pods created within the
  // same second (creationTimestamp has second precision) so "newer first" holds on scale-down.
  std::map<std::string, std::map<std::string, uint64_t>> sequences_;
  uint64_t nextSequence_ = 1;
};

class DeploymentController {
 public:
  DeploymentController(ObjectStore& store, Clock& clock) : store_(store), clock_(clock) {}
  Result<Action> reconcile(const std::string& ns, const std::string& name);

 private:
  Result<Json> createReplicaSet(const Json& d, int64_t replicas, int64_t revision);
  Result<Json> scaleReplicaSet(Json rs, int64_t replicas, const Json& d);
  Status rollingUpdate(const Json& d, Json& newRs, std::vector<Json>& olds);
  Status recreate(const Json& d, Json& newRs, std::vector<Json>& olds);
  Status cleanupHistory(const Json& d, const std::vector<Json>& olds);
  Status updateStatus(const Json& d, const Json& newRs, const std::vector<Json>& all);

  ObjectStore& store_;
  Clock& clock_;
  bool requeue_ = false;  // set by a step that waits on pods (whose events do not reach us)
};

}  // namespace waha::sim::workloads
