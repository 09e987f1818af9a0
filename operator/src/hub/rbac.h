#pragma once

// What the hub may do in the Kubernetes API, as data: the Helm chart's per-hub Role must equal
// this list, and tests/unit/chart checks that it does.

#include <vector>

#include "kube/rbac.h"

namespace waha::hub {

// Everything in the hub's one namespace; nothing with "*".
std::vector<kube::PolicyRule> hubRbacRules();

}  // namespace waha::hub
