// MemoryStore's event side: the bounded event log, HTTP watches (fed under the lock so they see
// resourceVersion order) and in-process subscriptions (called outside the lock, still in order).

#include <algorithm>

#include "errors.h"
#include "memory_store.h"

namespace waha::sim {

namespace {
thread_local bool tlDispatching = false;

Error expired(uint64_t asked, uint64_t floor) {
  return Error::make(410, "Expired",
                     "too old resource version: " + std::to_string(asked) + " (" +
                         std::to_string(floor + 1) + ")");
}
}  // namespace

bool MemoryStore::watchMatches(const Watch& w, const Json& obj) const {
  const Json& m = obj["metadata"];
  if (!w.ns.empty() && m.value("namespace", "") != w.ns) {
    return false;
  }
  return w.labels.matches(m.value("labels", Json::object())) && w.fields.matches(obj);
}

void MemoryStore::commitLocked(const std::string& type, const ResourceInfo& info, const Json& obj,
                               const Json* old) {
  const std::string gr = info.groupResource();
  log_.push_back(LoggedEvent{rv_, type, gr, obj});
  while (log_.size() > opts_.watchWindow) {
    logFloor_ = log_.front().rv;
    log_.pop_front();
  }
  std::string text;  // serialised on first use, shared by every watch of this event
  for (auto it = watches_.begin(); it != watches_.end();) {
    Watch& w = it->second;
    std::string t = type;
    bool keep = true;
    if (w.groupResource == gr) {
      bool now = watchMatches(w, obj);
      bool before = old != nullptr && watchMatches(w, *old);
      if (type == "MODIFIED" && now != before) {
        t = now ? "ADDED" : "DELETED";  // entering or leaving the selected set
      }
      if (now || before) {
        if (text.empty()) {
          text = obj.dump();
        }
        keep = w.sink(t, obj, text);
      }
    }
    it = keep ? std::next(it) : watches_.erase(it);
  }
  for (const auto& [id, sub] : subs_) {
    if (sub.groupResource == gr) {
      pending_.push_back({id, StoreEvent{type, info.gvr, obj}});
    }
  }
}

Result<uint64_t> MemoryStore::watch(const GVR& r, const std::string& ns, const WatchOptions& opts,
                                    WatchSink sink) {
  auto info = resolve(r);
  if (!info) {
    return info.error();
  }
  auto labels = LabelSelector::parse(opts.labelSelector);
  if (!labels) {
    return labels.error();
  }
  auto fields = FieldSelector::parse(opts.fieldSelector);
  if (!fields) {
    return fields.error();
  }
  Watch w{info->groupResource(), info->namespaced ? ns : "", *labels, *fields, std::move(sink)};
  std::lock_guard<std::mutex> lk(mu_);
  if (!opts.resourceVersion.empty() && opts.resourceVersion != "0") {
    uint64_t from = 0;
    try {
      from = std::stoull(opts.resourceVersion);
    } catch (const std::exception&) {
      return Error::make(400, "BadRequest", "invalid resource version: " + opts.resourceVersion);
    }
    if (forceExpired_ > 0) {
      --forceExpired_;
      return expired(from, logFloor_);
    }
    if (from < logFloor_) {
      return expired(from, logFloor_);
    }
    auto start = std::upper_bound(log_.begin(), log_.end(), from,
                                  [](uint64_t v, const LoggedEvent& e) { return v < e.rv; });
    for (auto it = start; it != log_.end(); ++it) {
      if (it->groupResource == w.groupResource && watchMatches(w, it->object)) {
        if (!w.sink(it->type, it->object, it->object.dump())) {
          return Error::make(500, "InternalError", "watch closed during replay");
        }
      }
    }
  } else {
    auto& coll = data_[w.groupResource];
    std::string prefix = w.ns.empty() ? "" : w.ns + "/";
    for (auto it = coll.lower_bound(prefix); it != coll.end(); ++it) {
      if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) {
        break;
      }
      if (watchMatches(w, it->second) && !w.sink("ADDED", it->second, it->second.dump())) {
        return Error::make(500, "InternalError", "watch closed during replay");
      }
    }
  }
  uint64_t id = nextId_++;
  watches_.emplace(id, std::move(w));
  return id;
}

void MemoryStore::unwatch(uint64_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  watches_.erase(id);
}

uint64_t MemoryStore::resourceVersion() {
  std::lock_guard<std::mutex> lk(mu_);
  return rv_;
}

size_t MemoryStore::watchCount() {
  std::lock_guard<std::mutex> lk(mu_);
  return watches_.size();
}

void MemoryStore::bookmarkAll() {
  std::lock_guard<std::mutex> lk(mu_);
  Json bm = {{"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
  for (auto it = watches_.begin(); it != watches_.end();) {
    it = it->second.sink("BOOKMARK", bm, "") ? std::next(it) : watches_.erase(it);
  }
}

size_t MemoryStore::closeAllWatches() {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = watches_.size();
  for (auto& [id, w] : watches_) {
    w.sink("CLOSE", Json(), "");
  }
  watches_.clear();
  return n;
}

void MemoryStore::forceExpired(int n) {
  std::lock_guard<std::mutex> lk(mu_);
  forceExpired_ = n;
}

uint64_t MemoryStore::subscribe(const GVR& r, std::function<void(const StoreEvent&)> fn) {
  std::string gr = r.group + "/" + r.resource;
  std::lock_guard<std::mutex> lk(mu_);
  uint64_t id = nextId_++;
  subs_.emplace(id, Subscription{gr, std::move(fn)});
  return id;
}

void MemoryStore::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  subs_.erase(id);
}

// Delivers queued events to subscribers outside the store lock. One thread drains at a time so
// the order stays the commit order; a callback that writes again only queues (tlDispatching),
// and whoever holds the drain sees it on the next loop.
void MemoryStore::dispatchPending() {
  if (tlDispatching) {
    return;
  }
  for (;;) {
    if (!dispatchMu_.try_lock()) {
      return;
    }
    tlDispatching = true;
    for (;;) {
      std::pair<uint64_t, StoreEvent> next;
      std::function<void(const StoreEvent&)> fn;
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (pending_.empty()) {
          break;
        }
        next = std::move(pending_.front());
        pending_.pop_front();
        auto s = subs_.find(next.first);
        if (s == subs_.end()) {
          continue;
        }
        fn = s->second.fn;
      }
      fn(next.second);
    }
    tlDispatching = false;
    dispatchMu_.unlock();
    std::lock_guard<std::mutex> lk(mu_);
    if (pending_.empty()) {
      return;
    }
  }
}

}  // namespace waha::sim
