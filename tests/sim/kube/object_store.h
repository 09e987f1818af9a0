#pragma once

// In-process access to kube-sim's storage, with the same semantics as its REST API (resource
// versions, generation, validation, finalizers, owner GC). The API server half (B1) implements it;
// the simulated controller-manager, scheduler and kubelet (B2) use it instead of HTTP.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "common/result.h"

namespace waha::sim {

using Json = nlohmann::json;

// Which collection: group ("" = core), version, plural resource, e.g. {"apps","v1","deployments"}.
struct GVR {
  std::string group;
  std::string version;
  std::string resource;
  bool operator==(const GVR& o) const {
    return group == o.group && version == o.version && resource == o.resource;
  }
  bool operator<(const GVR& o) const {
    return std::tie(group, version, resource) < std::tie(o.group, o.version, o.resource);
  }
};

struct StoreEvent {
  std::string type;  // "ADDED" | "MODIFIED" | "DELETED"
  GVR gvr;
  Json object;  // the object after the write (for DELETED: its last state)
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // ns "" for cluster-scoped kinds; for list, "" on a namespaced kind means all namespaces.
  virtual Result<Json> get(const GVR& r, const std::string& ns, const std::string& name) = 0;
  virtual Result<std::vector<Json>> list(const GVR& r, const std::string& ns,
                                         const std::string& labelSelector = "") = 0;
  // Same rules as POST: uid, creationTimestamp, resourceVersion, generation, generateName.
  virtual Result<Json> create(const GVR& r, const std::string& ns, Json obj) = 0;
  // Same rules as PUT (409 on a stale metadata.resourceVersion; none given = unconditional).
  // status ignored unless `subresource` is "status", where only status is taken.
  virtual Result<Json> update(const GVR& r, const std::string& ns, Json obj,
                              const std::string& subresource = "") = 0;
  // Same rules as DELETE: finalizers -> deletionTimestamp only; propagation "Background"
  // (default), "Foreground" or "Orphan" for dependents.
  virtual Status remove(const GVR& r, const std::string& ns, const std::string& name,
                        const std::string& propagation = "") = 0;

  // Every committed write of collection `r` (all namespaces), in resourceVersion order. The
  // callback runs after the write committed, outside the store's locks, on the writer's thread:
  // it must be quick (hand work to your own thread) and may call the store again.
  virtual uint64_t subscribe(const GVR& r, std::function<void(const StoreEvent&)> fn) = 0;
  virtual void unsubscribe(uint64_t id) = 0;
};

}  // namespace waha::sim
