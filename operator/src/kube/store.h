#pragma once

// The informer cache. One writer (the Watcher), many readers (reconcilers, the hub): readers get a
// `const Store&` and see immutable snapshots (shared_ptr<const Json>), so a reader never observes
// an object half-updated and never blocks the writer for longer than a map lookup.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kube/client.h"

namespace waha::kube {

using ObjectPtr = std::shared_ptr<const Json>;

// "ns/name" for namespaced objects, "name" for cluster-scoped ones (client-go's
// MetaNamespaceKeyFunc), so keys are what the work queue carries.
std::string objectKey(const Json& obj);
std::string objectKey(const std::string& ns, const std::string& name);
// The resourceVersion of an object, "" when absent.
std::string resourceVersionOf(const Json& obj);

// What one write did to the cache: old is null for an add, new is null for a delete.
struct StoreChange {
  ObjectPtr oldObj;
  ObjectPtr newObj;
};

class Store {
 public:
  // Values an object is indexed under (e.g. its status.worker); empty: not indexed.
  using IndexFn = std::function<std::vector<std::string>(const Json&)>;
  // Built-in indexes.
  static constexpr const char* kNamespaceIndex = "namespace";
  static constexpr const char* kLabelIndex = "label";  // values "key=value"

  Store();

  // Registers a custom index; existing objects are indexed at once. Typically called before
  // the informer starts, but safe at any time.
  void addIndex(const std::string& name, IndexFn fn);

  // --- readers ---
  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<std::string> keys() const;
  std::vector<ObjectPtr> byIndex(const std::string& index, const std::string& value) const;
  std::size_t countByIndex(const std::string& index, const std::string& value) const;
  std::vector<ObjectPtr> byNamespace(const std::string& ns) const;
  std::vector<ObjectPtr> byLabel(const std::string& key, const std::string& value) const;
  std::size_t size() const;
  // True once the first complete LIST has been applied.
  bool hasSynced() const;

  // --- the single writer (the Watcher) ---
  // Inserts or replaces; returns the previous object (null if new).
  ObjectPtr upsert(ObjectPtr obj);
  // Removes; returns the removed object (null if absent).
  ObjectPtr remove(const std::string& key);
  // Replaces the content with `objs` (a fresh LIST). Returns one change per added, removed
  // or changed (different resourceVersion) object; unchanged objects are not reported.
  // `ns` non-empty: only that namespace's objects are replaced (one watcher per namespace
  // feeding one store, when the operator watches a list of namespaces).
  std::vector<StoreChange> replace(const std::vector<ObjectPtr>& objs, const std::string& ns = "");
  // The store counts as synced once `expectSyncs(n)` distinct scopes (namespaces) called
  // markSynced. Default: one.
  void expectSyncs(std::size_t n);
  void markSynced(const std::string& scope = "");

 private:
  struct Index {
    IndexFn fn;
    std::unordered_map<std::string, std::set<std::string>> keysByValue;
  };
  void indexLocked(const std::string& key, const Json& obj);
  void unindexLocked(const std::string& key, const Json& obj);
  std::vector<ObjectPtr> lookupLocked(const Index& idx, const std::string& value) const;

  mutable std::shared_mutex mu_;
  std::map<std::string, ObjectPtr> objects_;
  std::map<std::string, Index> indexes_;
  std::size_t expectedSyncs_ = 1;
  std::set<std::string> syncedScopes_;
};

}  // namespace waha::kube
