#pragma once

// What the controller may do in the Kubernetes API, as data: the Helm chart's ClusterRole (or
// per-namespace Roles) must equal this list, and tests/unit/chart checks that it does.

#include <vector>

#include "kube/rbac.h"

namespace waha::controller {

// Least privilege, read from the code: the informers of Manager, the writes of the reconcilers,
// the leader election Lease and the event recorder. Nothing with "*"; subresources are separate.
std::vector<kube::PolicyRule> controllerRbacRules();

}  // namespace waha::controller
