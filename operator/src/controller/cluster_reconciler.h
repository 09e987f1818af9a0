#pragma once

// One WahaCluster: its worker Deployment and PDB, the replica count from the load, the removal of
// workers that stay NotReady too long (so their sessions can move), and the cluster's status.

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "api/types.h"
#include "common/result.h"
#include "controller/context.h"
#include "controller/runner.h"

namespace waha::controller {

struct ClusterReconcilerOptions {
  Duration resync = std::chrono::seconds(30);
};

class ClusterReconciler {
 public:
  ClusterReconciler(Context& ctx, ClusterReconcilerOptions options = {});
  Result<Action> reconcile(const std::string& key);

 private:
  Status ensureDeployment(const api::WahaCluster& c, const Json& clusterObj, int replicas,
                          const std::string& reason);
  Status ensurePdb(const api::WahaCluster& c);
  // Deletes worker pods NotReady past the failover timeout that hold sessions; returns when the
  // next such deadline falls (if any).
  std::optional<Duration> failStuckWorkers(const api::WahaCluster& c, const Json& clusterObj);
  Status writeStatus(const Json& clusterObj, const api::WahaCluster& c,
                     const api::WahaClusterStatus& status);

  Context& ctx_;
  ClusterReconcilerOptions options_;
  std::mutex mu_;
  std::set<std::string> pdbEnsured_;  // cluster uids
};

}  // namespace waha::controller
