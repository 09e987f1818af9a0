#pragma once

// What kube-sim serves: built-in kinds and the kinds registered by CRDs, with the facts discovery,
// validation and the REST layer need (scope, kind, subresources, printer columns, schema).

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "object_store.h"

namespace waha::sim {

struct ScaleInfo {
  std::string specReplicasPath = ".spec.replicas";
  std::string statusReplicasPath = ".status.replicas";
  std::string labelSelectorPath;  // optional
};

struct ResourceInfo {
  GVR gvr;
  std::string kind;
  std::string singular;
  bool namespaced = true;
  std::vector<std::string> shortNames;
  std::vector<std::string> categories;
  bool hasStatus = false;
  std::optional<ScaleInfo> scale;
  Json schema;          // openAPIV3Schema of a CRD version (null for built-ins)
  Json printerColumns;  // CRD additionalPrinterColumns (array or null)
  bool builtin = true;
  bool strategicMerge = false;  // built-in kinds accept strategic-merge-patch
  std::string crdName;          // for CRs: name of the owning CRD

  std::string listKind() const { return kind + "List"; }
  std::string apiVersion() const {
    return gvr.group.empty() ? gvr.version : gvr.group + "/" + gvr.version;
  }
  // Storage key: group/resource (versions of one kind share objects).
  std::string groupResource() const { return gvr.group + "/" + gvr.resource; }
};

// Thread-safe registry of served resources.
class ResourceRegistry {
 public:
  ResourceRegistry();
  std::optional<ResourceInfo> find(const GVR& r) const;
  // Resolves group + version + plural resource; also accepts a kind name (case-insensitive).
  std::optional<ResourceInfo> findByKind(const std::string& apiVersion,
                                         const std::string& kind) const;
  std::vector<ResourceInfo> all() const;
  // Registers every served version of a CRD object; returns the registered infos or an error text.
  Result<std::vector<ResourceInfo>> registerCrd(const Json& crd);
  void unregisterCrd(const std::string& crdName);
  // Group -> versions, in discovery order (preferred first).
  std::map<std::string, std::vector<std::string>> groups() const;

 private:
  void add(ResourceInfo info);
  mutable std::mutex mu_;
  std::map<GVR, ResourceInfo> byGvr_;
  std::vector<std::string> groupOrder_;
};

}  // namespace waha::sim
