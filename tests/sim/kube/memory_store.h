#pragma once

// kube-sim's storage: every collection in memory behind one mutex, one global resourceVersion
// counter, and a bounded event log so watches can resume from a resourceVersion (or get 410 when
// it has left the window). Writes stay short, so one lock holds up to thousands of writes/s.

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "object_store.h"
#include "resources.h"
#include "selectors.h"

namespace waha::sim {

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t limit = 0;
  std::string continueToken;
};

struct ListPage {
  std::vector<Json> items;
  uint64_t resourceVersion = 0;
  std::string continueToken;
  int64_t remaining = -1;
};

struct WatchOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::string resourceVersion;  // "" or "0": current state first (ADDED); else strictly after it
};

// Receives watch events under the store lock (so they arrive in resourceVersion order): it must
// only queue work. `type` is ADDED/MODIFIED/DELETED, BOOKMARK (obj has metadata.resourceVersion)
// or CLOSE (the store drops the watch). `text` is obj serialised once for every watch of the
// event (empty for BOOKMARK/CLOSE). Returning false drops the watch.
using WatchSink =
    std::function<bool(const std::string& type, const Json& obj, const std::string& text)>;

class MemoryStore final : public ObjectStore {
 public:
  // With a kubelet running (the workloads), DELETE of a scheduled pod only marks it
  // (deletionTimestamp, deletionGracePeriodSeconds) as a real apiserver does; the kubelet's own
  // final DELETE, once the containers stopped, removes it. Without one, pods go at once.
  void setGracefulPodDeletion(bool on) { gracefulPods_ = on; }

  struct Options {
    size_t watchWindow = 10000;
    Clock* clock = nullptr;  // defaults to SteadyClock
  };
  MemoryStore(ResourceRegistry& registry, Options opts);

  Result<Json> get(const GVR& r, const std::string& ns, const std::string& name) override;
  Result<std::vector<Json>> list(const GVR& r, const std::string& ns,
                                 const std::string& labelSelector = "") override;
  Result<Json> create(const GVR& r, const std::string& ns, Json obj) override;
  Result<Json> update(const GVR& r, const std::string& ns, Json obj,
                      const std::string& subresource = "") override;
  Status remove(const GVR& r, const std::string& ns, const std::string& name,
                const std::string& propagation = "") override;
  uint64_t subscribe(const GVR& r, std::function<void(const StoreEvent&)> fn) override;
  void unsubscribe(uint64_t id) override;

  // The REST layer's richer entry points.
  Result<ListPage> listPage(const GVR& r, const std::string& ns, const ListOptions& opts);
  // DELETE returning the object's last state (with deletionTimestamp when finalizers hold it).
  // `preconditionRv` non-empty: 409 unless it is the current resourceVersion.
  Result<Json> removeObject(const GVR& r, const std::string& ns, const std::string& name,
                            const std::string& propagation, const std::string& preconditionRv = "");
  // Read-modify-write under the lock (PATCH): `mutate` gets the live object (or 404 error).
  Result<Json> modify(const GVR& r, const std::string& ns, const std::string& name,
                      const std::function<Result<Json>(const Json& live)>& mutate,
                      const std::string& subresource, bool createIfMissing = false);
  Result<uint64_t> watch(const GVR& r, const std::string& ns, const WatchOptions& opts,
                         WatchSink sink);
  void unwatch(uint64_t id);
  uint64_t resourceVersion();
  // Sends a BOOKMARK with the current resourceVersion to every watch.
  void bookmarkAll();
  // Fault: ends every open watch (CLOSE), returns how many.
  size_t closeAllWatches();
  // Fault: the next `n` watches that name a resourceVersion get 410 Expired.
  void forceExpired(int n);
  size_t watchCount();
  ResourceRegistry& registry() { return registry_; }

 private:
  bool gracefulPods_ = false;
  struct Watch {
    std::string groupResource;
    std::string ns;
    LabelSelector labels;
    FieldSelector fields;
    WatchSink sink;
  };
  struct LoggedEvent {
    uint64_t rv;
    std::string type;
    std::string groupResource;
    Json object;
  };
  using Collection = std::map<std::string, Json>;  // "ns/name" (or "name") -> object

  Result<ResourceInfo> resolve(const GVR& r) const;
  Result<Json> createLocked(const ResourceInfo& info, const std::string& ns, Json obj);
  Result<Json> updateLocked(const ResourceInfo& info, const std::string& ns, Json obj,
                            const std::string& subresource);
  Result<Json> removeLocked(const ResourceInfo& info, const std::string& ns,
                            const std::string& name, const std::string& propagation,
                            const std::string& preconditionRv);
  void eraseLocked(const ResourceInfo& info, const std::string& key);
  void collectGarbageLocked(const std::string& uid);
  bool ownersAllGoneLocked(const Json& obj) const;
  void releaseForegroundOwnersLocked(const Json& obj);
  Status admitCustomLocked(const ResourceInfo& info, Json& obj);
  void commitLocked(const std::string& type, const ResourceInfo& info, const Json& obj,
                    const Json* old);
  void indexOwnersLocked(const std::string& gr, const std::string& key, const Json* before,
                         const Json* after);
  bool watchMatches(const Watch& w, const Json& obj) const;
  void dispatchPending();
  std::string newUid();
  std::string nowText();
  std::optional<ResourceInfo> infoFor(const std::string& groupResource) const;

  ResourceRegistry& registry_;
  Options opts_;
  std::mutex mu_;
  std::map<std::string, Collection> data_;  // by group/resource
  uint64_t rv_ = 0;
  uint64_t logFloor_ = 0;
  std::deque<LoggedEvent> log_;
  std::map<uint64_t, Watch> watches_;
  uint64_t nextId_ = 1;
  int forceExpired_ = 0;
  std::unordered_map<std::string, std::pair<std::string, std::string>> byUid_;
  std::unordered_map<std::string, std::set<std::pair<std::string, std::string>>> dependents_;
  struct Subscription {
    std::string groupResource;
    std::function<void(const StoreEvent&)> fn;
  };
  std::map<uint64_t, Subscription> subs_;
  std::deque<std::pair<uint64_t, StoreEvent>> pending_;  // (subscription id, event)
  std::mutex dispatchMu_;
  std::mt19937_64 rng_;
};

// Error helpers shared with the REST layer: Kubernetes-style qualified resource names.
std::string qualifiedResource(const ResourceInfo& info);
Error notFound(const ResourceInfo& info, const std::string& name);

}  // namespace waha::sim
