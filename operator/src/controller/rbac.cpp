#include "controller/rbac.h"

namespace waha::controller {

// Keep in step with the calls: a verb the code no longer uses is removed here, a new call adds
// its verb with the reason (tests/unit/chart/check_rbac_calls.py compares this list with the
// calls); the chart test fails until `make rbac-sync` has updated charts/.
std::vector<kube::PolicyRule> controllerRbacRules() {
  return {
      {{"waha.io"}, {"wahaclusters"}, {"list", "watch"}, "Manager: WahaCluster informer"},
      {{"waha.io"},
       {"wahaclusters/status"},
       {"update"},
       "ClusterReconciler: writes the cluster's status (workers, capacity, conditions)"},
      {{"waha.io"},
       {"wahaclusters/finalizers"},
       {"update"},
       "worker Deployment and PDB are owned by their WahaCluster with blockOwnerDeletion, which "
       "the OwnerReferencesPermissionEnforcement admission plugin allows only with this"},
      {{"waha.io"},
       {"wahasessions"},
       {"list", "watch", "update"},
       "Manager: WahaSession informer; SessionReconciler adds and removes its finalizer"},
      {{"waha.io"},
       {"wahasessions/status"},
       {"update"},
       "SessionReconciler: the claim (status.worker, epoch) and phase/conditions"},
      {{""},
       {"pods"},
       {"list", "watch", "delete"},
       "Manager: worker pod informer; ClusterReconciler deletes a worker NotReady too long "
       "(fencing "
       "before its sessions move)"},
      {{""}, {"secrets"}, {"list", "watch"}, "Manager: Secret informer (API keys), read-only"},
      {{"apps"},
       {"deployments"},
       {"list", "watch", "create", "patch"},
       "Manager: worker Deployment informer; ClusterReconciler creates and scales it"},
      {{"policy"},
       {"poddisruptionbudgets"},
       {"get", "create"},
       "ClusterReconciler: one PDB per worker Deployment"},
      {{"coordination.k8s.io"},
       {"leases"},
       {"get", "create", "update"},
       "leader election: only the Lease holder reconciles"},
      {{""}, {"events"}, {"create", "patch"}, "EventRecorder: core/v1 Events, repeats patched"},
  };
}

}  // namespace waha::controller
