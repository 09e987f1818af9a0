#pragma once

// An informer: a Watcher keeping a Store in sync with one collection, plus event handlers that
// turn changes into work-queue keys (the object's own key, or keys of objects it maps to, such
// as its owner). Reconcilers then read the store by key; handlers never reconcile themselves.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kube/store.h"
#include "kube/watcher.h"
#include "kube/work_queue.h"

namespace waha::kube {

struct EventHandler {
  // fromList: the object came from a LIST (initial sync / re-list), not a watch event.
  std::function<void(const ObjectPtr& obj, bool fromList)> onAdd;
  std::function<void(const ObjectPtr& oldObj, const ObjectPtr& newObj, bool fromList)> onUpdate;
  std::function<void(const ObjectPtr& obj, bool fromList)> onDelete;
};

// Maps an object to the keys to enqueue.
using KeyMapper = std::function<std::vector<std::string>(const Json& obj)>;

// Keys ("ns/name") of the owners of `obj` of the given kind (ownerReferences live in the
// object's namespace). kind "" matches any owner kind.
std::vector<std::string> ownerKeys(const Json& obj, const std::string& kind = "");

class Informer {
 public:
  Informer(KubeClient& client, ResourceRef resource, std::string ns, Clock& clock, Random& random,
           WatcherOptions options = {});
  // One cache over several namespaces: a watcher per namespace (each needing only namespaced
  // list/watch rights), all feeding one store. Empty list = all namespaces.
  Informer(KubeClient& client, ResourceRef resource, const std::vector<std::string>& namespaces,
           Clock& clock, Random& random, WatcherOptions options = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // The read side of the cache (reconcilers, the hub).
  const Store& store() const { return store_; }
  const ResourceRef& resource() const { return resource_; }

  // Call before start().
  void addIndex(const std::string& name, Store::IndexFn fn) {
    store_.addIndex(name, std::move(fn));
  }
  void addHandler(EventHandler handler);
  // Enqueue the object's own key on every change. Keys from a LIST go to the Initial lane.
  void enqueueTo(WorkQueue& queue);
  // Enqueue mapper(obj) for every change (both old and new object on updates, so a session that
  // moved from worker A to B wakes both).
  void enqueueMappedTo(WorkQueue& queue, KeyMapper mapper);

  void start();
  void stop();
  bool hasSynced() const { return store_.hasSynced(); }
  // Waits until the first LIST has been applied; false after `timeout` (of the clock).
  bool waitForSync(Duration timeout);
  int relists() const;
  int watchesOpened() const;

 private:
  void dispatch(const Notification& n);

  ResourceRef resource_;
  Clock& clock_;
  Store store_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::vector<EventHandler> handlers_;
  std::mutex dispatchMu_;  // watchers of different namespaces deliver from their own threads
};

}  // namespace waha::kube
