#include "kube/rbac.h"

namespace waha::kube {
namespace {

std::string quotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i ? ", \"" : "\"") + items[i] + "\"";
  }
  return out + "]";
}

}  // namespace

std::string rulesToYaml(const std::vector<PolicyRule>& rules, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  std::string out;
  for (const auto& r : rules) {
    if (!r.why.empty()) {
      out += pad + "# " + r.why + "\n";
    }
    out += pad + "- apiGroups: " + quotedList(r.apiGroups) + "\n";
    out += pad + "  resources: " + quotedList(r.resources) + "\n";
    out += pad + "  verbs: " + quotedList(r.verbs) + "\n";
  }
  return out;
}

}  // namespace waha::kube
