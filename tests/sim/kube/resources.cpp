#include "resources.h"

#include <algorithm>
#include <cctype>

namespace waha::sim {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

ResourceInfo builtin(std::string group, std::string version, std::string resource, std::string kind,
                     bool namespaced, std::vector<std::string> shortNames, bool status,
                     std::vector<std::string> categories = {}) {
  ResourceInfo r;
  r.gvr = GVR{std::move(group), std::move(version), std::move(resource)};
  r.singular = lower(kind);
  r.kind = std::move(kind);
  r.namespaced = namespaced;
  r.shortNames = std::move(shortNames);
  r.hasStatus = status;
  r.categories = std::move(categories);
  r.strategicMerge = true;
  return r;
}

}  // namespace

ResourceRegistry::ResourceRegistry() {
  add(builtin("", "v1", "namespaces", "Namespace", false, {"ns"}, true));
  add(builtin("", "v1", "nodes", "Node", false, {"no"}, true));
  add(builtin("", "v1", "pods", "Pod", true, {"po"}, true, {"all"}));
  add(builtin("", "v1", "services", "Service", true, {"svc"}, true, {"all"}));
  add(builtin("", "v1", "endpoints", "Endpoints", true, {"ep"}, false));
  add(builtin("", "v1", "secrets", "Secret", true, {}, false));
  add(builtin("", "v1", "configmaps", "ConfigMap", true, {"cm"}, false));
  add(builtin("", "v1", "serviceaccounts", "ServiceAccount", true, {"sa"}, false));
  add(builtin("", "v1", "events", "Event", true, {"ev"}, false));
  auto deploy = builtin("apps", "v1", "deployments", "Deployment", true, {"deploy"}, true, {"all"});
  deploy.scale = ScaleInfo{};
  add(deploy);
  auto rs = builtin("apps", "v1", "replicasets", "ReplicaSet", true, {"rs"}, true, {"all"});
  rs.scale = ScaleInfo{};
  add(rs);
  add(builtin("coordination.k8s.io", "v1", "leases", "Lease", true, {}, false));
  add(builtin("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, {"pdb"}, true));
  add(builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", true, {}, false));
  add(builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, {}, false));
  add(builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, {}, false));
  add(builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false,
              {}, false));
  add(builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
              false, {"crd", "crds"}, true));
  add(builtin("events.k8s.io", "v1", "events", "Event", true, {}, false));
}

void ResourceRegistry::add(ResourceInfo info) {
  std::lock_guard<std::mutex> lk(mu_);
  if (std::find(groupOrder_.begin(), groupOrder_.end(), info.gvr.group) == groupOrder_.end()) {
    groupOrder_.push_back(info.gvr.group);
  }
  byGvr_[info.gvr] = std::move(info);
}

std::optional<ResourceInfo> ResourceRegistry::find(const GVR& r) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = byGvr_.find(r);
  if (it == byGvr_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<ResourceInfo> ResourceRegistry::findByKind(const std::string& apiVersion,
                                                         const std::string& kind) const {
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& [gvr, info] : byGvr_) {
    if (info.apiVersion() == apiVersion && info.kind == kind) {
      return info;
    }
  }
  return std::nullopt;
}

std::vector<ResourceInfo> ResourceRegistry::all() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<ResourceInfo> out;
  for (const auto& [gvr, info] : byGvr_) {
    out.push_back(info);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> ResourceRegistry::groups() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [gvr, info] : byGvr_) {
    auto& v = out[gvr.group];
    if (std::find(v.begin(), v.end(), gvr.version) == v.end()) {
      v.push_back(gvr.version);
    }
  }
  return out;
}

Result<std::vector<ResourceInfo>> ResourceRegistry::registerCrd(const Json& crd) {
  const Json& spec = crd.value("spec", Json::object());
  const Json& names = spec.value("names", Json::object());
  std::string group = spec.value("group", "");
  std::string plural = names.value("plural", "");
  std::string kind = names.value("kind", "");
  if (group.empty() || plural.empty() || kind.empty()) {
    return Error::make(422, "Invalid",
                       "spec.group, spec.names.plural and spec.names.kind are required");
  }
  std::vector<ResourceInfo> out;
  for (const auto& v : spec.value("versions", Json::array())) {
    if (!v.value("served", true)) {
      continue;
    }
    ResourceInfo r;
    r.gvr = GVR{group, v.value("name", ""), plural};
    r.kind = kind;
    r.singular = names.value("singular", lower(kind));
    r.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    r.shortNames = names.value("shortNames", std::vector<std::string>{});
    r.categories = names.value("categories", std::vector<std::string>{});
    const Json& sub = v.value("subresources", Json::object());
    r.hasStatus = sub.contains("status");
    if (sub.contains("scale")) {
      ScaleInfo s;
      s.specReplicasPath = sub["scale"].value("specReplicasPath", ".spec.replicas");
      s.statusReplicasPath = sub["scale"].value("statusReplicasPath", ".status.replicas");
      s.labelSelectorPath = sub["scale"].value("labelSelectorPath", "");
      r.scale = s;
    }
    if (v.contains("schema") && v["schema"].contains("openAPIV3Schema")) {
      r.schema = v["schema"]["openAPIV3Schema"];
    }
    r.printerColumns = v.value("additionalPrinterColumns", Json::array());
    r.builtin = false;
    r.crdName = crd["metadata"].value("name", "");
    out.push_back(r);
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto it = byGvr_.begin(); it != byGvr_.end();) {
      it = (!it->second.builtin && it->second.crdName == crd["metadata"].value("name", ""))
               ? byGvr_.erase(it)
               : std::next(it);
    }
  }
  for (const auto& r : out) {
    add(r);
  }
  return out;
}

void ResourceRegistry::unregisterCrd(const std::string& crdName) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto it = byGvr_.begin(); it != byGvr_.end();) {
    it = (!it->second.builtin && it->second.crdName == crdName) ? byGvr_.erase(it) : std::next(it);
  }
}

}  // namespace waha::sim
