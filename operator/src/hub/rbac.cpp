#include "hub/rbac.h"

namespace waha::hub {

std::vector<kube::PolicyRule> hubRbacRules() {
  return {
      {{"waha.io"},
       {"wahasessions"},
       {"get", "list", "watch", "create", "update", "patch", "delete"},
       "route table informer; WAHA's session calls (create, update, start/stop, delete) go "
       "through the WahaSession resource"},
      {{"waha.io"},
       {"wahaclusters"},
       {"get", "list", "watch"},
       "the hub's WahaCluster (API key ref)"},
      {{""}, {"pods"}, {"get", "list", "watch"}, "worker pod informer: where to forward"},
      {{""}, {"secrets"}, {"get"}, "the cluster's API key Secret, re-read periodically; read-only"},
  };
}

}  // namespace waha::hub
