#pragma once

// An in-memory Kubernetes API for unit tests (Envoy-style: one fake, reused by every test).
// Objects live per resource with a cluster-wide resourceVersion counter; every write is kept in a
// history so watches replay from an RV like the API server's watch cache. Tests script failures:
// injected errors per verb, 410 Gone (compaction or an ERROR event), dropped and silent streams,
// bookmarks. Watch callbacks run on one thread per watch, as with the real client.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kube/client.h"

namespace waha::test {

using kube::Json;

class FakeWatch;

class FakeKubeClient : public kube::KubeClient {
 public:
  struct Call {
    std::string verb;  // get list create update patch delete watch
    std::string path;  // ResourceRef::path(ns, name, subresource)
    kube::ListOptions list;
    kube::WatchOptions watch;
    Json body;  // create/update body, patch body parsed when JSON
  };

  FakeKubeClient();
  ~FakeKubeClient() override;

  // --- the server's state, written directly (as another client would) ---
  // Create-or-replace with a new resourceVersion; returns the stored object.
  Json put(const kube::ResourceRef& r, Json obj);
  // Deletes at once (no finalizers); false if absent.
  bool erase(const kube::ResourceRef& r, const std::string& ns, const std::string& name);
  std::vector<Json> objects(const kube::ResourceRef& r, const std::string& ns = "") const;
  std::string resourceVersion() const;

  // --- scripting ---
  // The next `times` calls of `verb` fail with `err` (for watch: the watch ends at once with it).
  void failNext(const std::string& verb, Error err, int times = 1);
  // Forgets the history up to now: a watch from an older RV gets an ERROR 410 event.
  void compact();
  // Sends an ERROR event with Status code 410 to every open watch, then ends them (as the API
  // server does when its watch cache drops behind).
  void expireWatches();
  // Ends every open stream: ok = normal close (timeout), else the given error.
  void closeWatches(Status status = {});
  // Silent: open and new streams stay open but deliver nothing (a half-open connection).
  void setSilent(bool silent);
  // A BOOKMARK with the current RV on every open watch.
  void sendBookmarks();
  // Any scripted event (e.g. an ERROR with another code) on every open watch; the store is not
  // changed.
  void sendEvent(const kube::WatchEvent& event);
  // The next list calls of `r` return these pages verbatim, in order.
  void scriptListPages(const kube::ResourceRef& r, std::vector<kube::ListResult> pages);

  int openWatches() const;
  std::vector<Call> calls() const;
  int callCount(const std::string& verb) const;
  void clearCalls();

  // --- KubeClient ---
  Result<Json> get(const kube::ResourceRef& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "") override;
  Result<kube::ListResult> list(const kube::ResourceRef& r, const std::string& ns,
                                const kube::ListOptions& opts = {}) override;
  Result<Json> create(const kube::ResourceRef& r, const std::string& ns, const Json& obj) override;
  Result<Json> update(const kube::ResourceRef& r, const std::string& ns, const Json& obj,
                      const std::string& subresource = "") override;
  Result<Json> patch(const kube::ResourceRef& r, const std::string& ns, const std::string& name,
                     kube::PatchType type, const std::string& body,
                     const kube::PatchOptions& opts = {},
                     const std::string& subresource = "") override;
  Status remove(const kube::ResourceRef& r, const std::string& ns, const std::string& name,
                const kube::DeleteOptions& opts = {}) override;
  std::unique_ptr<kube::WatchHandle> watch(const kube::ResourceRef& r, const std::string& ns,
                                           const kube::WatchOptions& opts,
                                           kube::WatchCallback onEvent,
                                           kube::WatchDone onDone) override;

 private:
  struct HistoryEntry {
    uint64_t rv;
    std::string res;
    kube::WatchEvent::Type type;
    Json obj;
  };
  struct Snapshot {
    std::vector<Json> items;
    std::string rv;
  };
  std::optional<Error> takeFailureLocked(const std::string& verb);
  void recordLocked(Call call);
  Json writeLocked(const std::string& res, Json obj, kube::WatchEvent::Type type);
  Json* findLocked(const std::string& res, const std::string& key);
  void pruneWatchesLocked();

  mutable std::mutex mu_;
  uint64_t rv_ = 100;
  uint64_t compactedRv_ = 0;
  uint64_t uid_ = 0;
  bool silent_ = false;
  std::map<std::string, std::map<std::string, Json>> objects_;  // res -> key -> object
  std::vector<HistoryEntry> history_;
  std::map<std::string, std::deque<Error>> failures_;
  std::map<std::string, std::deque<kube::ListResult>> scriptedPages_;
  std::map<std::string, Snapshot> snapshots_;  // continue token prefix -> snapshot
  uint64_t snapshotSeq_ = 0;
  std::vector<std::shared_ptr<FakeWatch>> watches_;
  std::vector<Call> calls_;
};

}  // namespace waha::test
