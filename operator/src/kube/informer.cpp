#include "kube/informer.h"

#include <condition_variable>
#include <mutex>

namespace waha::kube {

std::vector<std::string> ownerKeys(const Json& obj, const std::string& kind) {
  std::vector<std::string> out;
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) {
    return out;
  }
  std::string ns = md->value("namespace", "");
  auto refs = md->find("ownerReferences");
  if (refs == md->end() || !refs->is_array()) {
    return out;
  }
  for (const auto& ref : *refs) {
    if (!ref.is_object() || !ref.contains("name") || !ref["name"].is_string()) {
      continue;
    }
    if (!kind.empty() && ref.value("kind", "") != kind) {
      continue;
    }
    out.push_back(objectKey(ns, ref["name"].get<std::string>()));
  }
  return out;
}

Informer::Informer(KubeClient& client, ResourceRef resource, std::string ns, Clock& clock,
                   Random& random, WatcherOptions options)
    : resource_(resource),
      clock_(clock),
      watcher_(client, std::move(resource), std::move(ns), store_, clock, random,
               std::move(options)) {
  watcher_.addHandler([this](const Notification& n) { dispatch(n); });
}

Informer::~Informer() { stop(); }

void Informer::addHandler(EventHandler handler) { handlers_.push_back(std::move(handler)); }

void Informer::dispatch(const Notification& n) {
  for (const auto& h : handlers_) {
    switch (n.type) {
      case Notification::Type::Added:
        if (h.onAdd) {
          h.onAdd(n.newObj, n.fromList);
        }
        break;
      case Notification::Type::Updated:
        if (h.onUpdate) {
          h.onUpdate(n.oldObj, n.newObj, n.fromList);
        }
        break;
      case Notification::Type::Deleted:
        if (h.onDelete) {
          h.onDelete(n.oldObj, n.fromList);
        }
        break;
    }
  }
}

void Informer::enqueueTo(WorkQueue& queue) {
  enqueueMappedTo(queue, [](const Json& obj) { return std::vector<std::string>{objectKey(obj)}; });
}

void Informer::enqueueMappedTo(WorkQueue& queue, KeyMapper mapper) {
  auto push = [&queue, mapper](const ObjectPtr& obj, bool fromList) {
    if (!obj) {
      return;
    }
    for (const auto& key : mapper(*obj)) {
      queue.add(key, fromList ? Lane::Initial : Lane::Fresh);
    }
  };
  EventHandler h;
  h.onAdd = push;
  h.onDelete = push;
  h.onUpdate = [push](const ObjectPtr& oldObj, const ObjectPtr& newObj, bool fromList) {
    push(oldObj, fromList);
    push(newObj, fromList);
  };
  addHandler(std::move(h));
}

void Informer::start() { watcher_.start(); }

void Informer::stop() { watcher_.stop(); }

bool Informer::waitForSync(Duration timeout) {
  // The store has no "synced" signal to wait on; short slices keep this cheap and prompt.
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lk(mu);
  TimePoint deadline = clock_.now() + timeout;
  while (!store_.hasSynced()) {
    TimePoint now = clock_.now();
    if (now >= deadline) {
      return false;
    }
    clock_.waitUntil(lk, cv, std::min(deadline, now + std::chrono::milliseconds(10)),
                     [this] { return store_.hasSynced(); });
  }
  return true;
}

}  // namespace waha::kube
