#pragma once

// RBAC rules as data. Each component keeps the list of what it needs next to its code
// (controller/rbac.cpp, hub/rbac.cpp); `waha-operator rbac <component>` prints it as YAML and a
// test compares it with the Helm chart, so the chart's Roles cannot drift from the code.

#include <string>
#include <vector>

namespace waha::kube {

struct PolicyRule {
  std::vector<std::string> apiGroups;  // "" is the core group
  std::vector<std::string> resources;  // "pods", "wahasessions/status", ...
  std::vector<std::string> verbs;      // never "*"
  std::string why;                     // which code needs it (printed as a YAML comment)
};

// The rules as a YAML sequence (the `rules:` of a ClusterRole/Role), indented by `indent`
// spaces, with each rule's reason as a comment line. Stable order: as given.
std::string rulesToYaml(const std::vector<PolicyRule>& rules, int indent = 0);

}  // namespace waha::kube
