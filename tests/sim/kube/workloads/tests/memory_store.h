#pragma once

// An in-memory ObjectStore for the workloads' unit tests, with the apiserver rules the simulated
// controllers and kubelet rely on: one resourceVersion counter, uid, generation (spec changes
// only), status as a subresource, 409 on stale writes, finalizers + deletionTimestamp, graceful
// pod deletion (a scheduled pod is kept with deletionTimestamp until a second delete, the
// kubelet's), background/orphan owner GC, label selectors (=, ==, !=, exists) and subscriptions
// delivered in resourceVersion order.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "object_store.h"

namespace waha::sim {

class FakeStore final : public ObjectStore {
 public:
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

  // Test hooks: how many writes hit a collection (to check nothing churns).
  uint64_t writes(const GVR& r);

 private:
  using Objects = std::map<std::string, Json>;  // "ns/name" -> object
  void commit(const GVR& r, const std::string& type, Json& stored);
  Status removeLocked(const GVR& r, const std::string& key, const std::string& propagation,
                      bool second);
  void erase(const GVR& r, const std::string& key);
  void flush();

  std::mutex mu_;
  std::map<GVR, Objects> data_;
  std::map<GVR, uint64_t> writes_;
  uint64_t rv_ = 100;
  uint64_t uidCounter_ = 0;
  std::deque<StoreEvent> pending_;
  std::map<uint64_t, std::pair<GVR, std::function<void(const StoreEvent&)>>> subs_;
  uint64_t nextSub_ = 1;

  std::recursive_mutex dispatchMu_;
  bool dispatching_ = false;
};

}  // namespace waha::sim
