#pragma once

// The Kubernetes API as the rest of the operator sees it. RestKubeClient (kube/rest_client.*)
// implements it over http/; tests use FakeKubeClient (tests/support/fake_kube_client.*).

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace waha::kube {

using Json = nlohmann::json;

// A collection of objects: group ("" for the core group), version, plural resource name.
struct ResourceRef {
  std::string group;
  std::string version;
  std::string resource;
  bool namespaced = true;

  // "v1" or "apps/v1".
  std::string apiVersion() const;
  // /api/v1/namespaces/ns/pods/name/status, /apis/apps/v1/deployments (all namespaces), ...
  // An empty `ns` on a namespaced resource means "across all namespaces" (list/watch only).
  std::string path(const std::string& ns, const std::string& name = "",
                   const std::string& subresource = "") const;
  bool operator==(const ResourceRef& o) const {
    return group == o.group && version == o.version && resource == o.resource;
  }
};

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int limit = 0;  // 0: no paging
  std::string continueToken;
  std::string resourceVersion;  // "" : most recent (quorum read)
};

struct ListResult {
  std::vector<Json> items;
  std::string resourceVersion;  // the list's RV: watch from here
  std::string continueToken;    // non-empty: more pages
};

struct WatchEvent {
  enum class Type { Added, Modified, Deleted, Bookmark, Error };
  Type type = Type::Added;
  Json object;  // the object; for Error a metav1.Status (code 410 = Expired: re-list)
};

struct WatchOptions {
  std::string resourceVersion;
  std::string labelSelector;
  std::string fieldSelector;
  bool allowBookmarks = true;
  int timeoutSeconds = 0;  // 0: server default
};

// A running watch; its events arrive on the watch's own I/O thread, never a reconcile worker.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
  // Stops the stream; no callback runs after stop() returns.
  virtual void stop() = 0;
};

using WatchCallback = std::function<void(WatchEvent event)>;
// The stream ended: ok when the server closed it normally (timeoutSeconds), an Error otherwise
// (transport failure, HTTP error status, malformed event).
using WatchDone = std::function<void(Status status)>;

enum class PatchType { Merge, Json, StrategicMerge, Apply };

struct PatchOptions {
  std::string fieldManager;  // required for Apply
  bool force = false;        // Apply: take ownership of conflicting fields
};

struct DeleteOptions {
  std::string propagationPolicy;  // "", "Background", "Foreground", "Orphan"
  std::optional<int> gracePeriodSeconds;
  std::string preconditionUid;
  std::string preconditionResourceVersion;
};

class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual Result<Json> get(const ResourceRef& r, const std::string& ns, const std::string& name,
                           const std::string& subresource = "") = 0;
  virtual Result<ListResult> list(const ResourceRef& r, const std::string& ns,
                                  const ListOptions& opts = {}) = 0;
  virtual Result<Json> create(const ResourceRef& r, const std::string& ns, const Json& obj) = 0;
  // PUT; the name comes from obj.metadata.name, the precondition from its resourceVersion.
  virtual Result<Json> update(const ResourceRef& r, const std::string& ns, const Json& obj,
                              const std::string& subresource = "") = 0;
  virtual Result<Json> patch(const ResourceRef& r, const std::string& ns, const std::string& name,
                             PatchType type, const std::string& body, const PatchOptions& opts = {},
                             const std::string& subresource = "") = 0;
  virtual Status remove(const ResourceRef& r, const std::string& ns, const std::string& name,
                        const DeleteOptions& opts = {}) = 0;
  virtual std::unique_ptr<WatchHandle> watch(const ResourceRef& r, const std::string& ns,
                                             const WatchOptions& opts, WatchCallback onEvent,
                                             WatchDone onDone) = 0;
};

}  // namespace waha::kube
