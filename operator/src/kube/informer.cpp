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
    : Informer(client, std::move(resource), std::vector<std::string>{std::move(ns)}, clock, random,
               std::move(options)) {}

Informer::Informer(KubeClient& client, ResourceRef resource,
                   const std::vector<std::string>& namespaces, Clock& clock, Random& random,
                   WatcherOptions options)
    : resource_(resource), clock_(clock) {
  std::vector<std::string> scopes = namespaces.empty() ? std::vector<std::string>{""} : namespaces;
  store_.expectSyncs(scopes.size());
  for (const auto& ns : scopes) {
    watchers_.push_back(
        std::make_unique<Watcher>(client, resource, ns, store_, clock, random, options));
    watchers_.back()->addHandler([this](const Notification& n) { dispatch(n); });
  }
}

Informer::~Informer() { stop(); }

int Informer::relists() const {
  int n = 0;
  for (const auto& w : watchers_) {
    n += w->relists();
  }
  return n;
}

int Informer::watchesOpened() const {
  int n = 0;
  for (const auto& w : watchers_) {
    n += w->watchesOpened();
  }
  return n;
}

void Informer::addHandler(EventHandler handler) { handlers_.push_back(std::move(handler)); }

void Informer::dispatch(const Notification& n) {
  std::lock_guard<std::mutex> lk(dispatchMu_);
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

void Informer::start() {
  for (auto& w : watchers_) {
    w->start();
  }
}

void Informer::stop() {
  for (auto& w : watchers_) {
    w->stop();
  }
}

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
