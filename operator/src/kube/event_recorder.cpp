#include "kube/event_recorder.h"

#include <cstdio>

#include "common/log.h"

namespace waha::kube {

namespace {

const ResourceRef kEvents{"", "v1", "events", true};
// The API server rejects longer messages on events.k8s.io; core/v1 accepts them but they are
// useless in `kubectl describe`.
constexpr size_t kMaxMessage = 1024;

std::string meta(const Json& obj, const char* field) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) {
    return "";
  }
  auto it = obj["metadata"].find(field);
  return it != obj["metadata"].end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

ObjectReference ObjectReference::fromObject(const Json& obj) {
  ObjectReference r;
  r.apiVersion = obj.value("apiVersion", "");
  r.kind = obj.value("kind", "");
  r.ns = meta(obj, "namespace");
  r.name = meta(obj, "name");
  r.uid = meta(obj, "uid");
  r.resourceVersion = meta(obj, "resourceVersion");
  return r;
}

Json ObjectReference::toJson() const {
  Json j = {{"apiVersion", apiVersion}, {"kind", kind}, {"name", name}};
  for (auto [k, v] :
       {std::pair{"namespace", &ns}, std::pair{"uid", &uid},
        std::pair{"resourceVersion", &resourceVersion}, std::pair{"fieldPath", &fieldPath}}) {
    if (!v->empty()) {
      j[k] = *v;
    }
  }
  return j;
}

EventRecorder::EventRecorder(KubeClient& client, Clock& clock, EventRecorderOptions options)
    : client_(client), clock_(clock), opts_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

EventRecorder::~EventRecorder() { stop(); }

void EventRecorder::record(const ObjectReference& object, EventType type, const std::string& reason,
                           const std::string& message) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!stopping_ && queue_.size() < opts_.queueSize) {
      queue_.push_back(
          Item{object, type, reason, message.substr(0, kMaxMessage), clock_.wallNow()});
      cv_.notify_one();
      return;
    }
  }
  // Logged on the first drop only (the counter tells the rest): a flood of drops must not
  // become a flood of log lines.
  if (dropped_.fetch_add(1) == 0) {
    log::warn("event queue full, dropping events", {{"reason", reason}});
  }
  if (opts_.onDropped) {
    opts_.onDropped();
  }
}

void EventRecorder::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void EventRecorder::run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      return;  // stopping and drained
    }
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    write(item);
    lk.lock();
  }
}

void EventRecorder::remember(const std::string& key, Seen seen) {
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    lru_.erase(it->second.lru);
    seen_.erase(it);
  }
  lru_.push_front(key);
  seen.lru = lru_.begin();
  seen_.emplace(key, std::move(seen));
  while (seen_.size() > opts_.cacheSize) {
    seen_.erase(lru_.back());
    lru_.pop_back();
  }
}

bool EventRecorder::createEvent(const Item& item, const std::string& key, int count,
                                const std::string& firstTimestamp) {
  std::string ns = item.object.ns.empty() ? "default" : item.object.ns;
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(item.at.time_since_epoch());
  char suffix[40];
  // client-go names events <object>.<unix nanos in hex>; the sequence keeps two events recorded
  // in the same nanosecond (or under a frozen test clock) apart.
  std::snprintf(suffix, sizeof(suffix), ".%llx",
                static_cast<unsigned long long>(nanos.count()) + seq_++);
  std::string now = formatRfc3339(item.at);
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", item.object.name + suffix}, {"namespace", ns}}},
             {"involvedObject", item.object.toJson()},
             {"reason", item.reason},
             {"message", item.message},
             {"type", item.type == EventType::Warning ? "Warning" : "Normal"},
             {"count", count},
             {"firstTimestamp", firstTimestamp.empty() ? now : firstTimestamp},
             {"lastTimestamp", now},
             {"source", {{"component", opts_.component}}},
             {"reportingComponent", opts_.component},
             {"reportingInstance", opts_.host}};
  if (!opts_.host.empty()) {
    ev["source"]["host"] = opts_.host;
  }
  auto res = client_.create(kEvents, ns, ev);
  if (!res.ok()) {
    log::warn("event create failed", {{"object", ns + "/" + item.object.name},
                                      {"reason", item.reason},
                                      {"error", res.error().str()}});
    return false;
  }
  written_.fetch_add(1);
  remember(key, Seen{meta(*res, "name").empty() ? item.object.name + suffix : meta(*res, "name"),
                     ns,
                     count,
                     ev["firstTimestamp"],
                     {}});
  return true;
}

void EventRecorder::write(const Item& item) {
  const ObjectReference& o = item.object;
  std::string key = o.ns + "\x1f" + o.kind + "\x1f" + o.name + "\x1f" + o.uid + "\x1f" +
                    (item.type == EventType::Warning ? "W" : "N") + "\x1f" + item.reason + "\x1f" +
                    item.message;
  auto it = seen_.find(key);
  if (it == seen_.end()) {
    createEvent(item, key, 1, "");
    return;
  }
  Seen seen = it->second;
  int count = seen.count + 1;
  Json patch = {{"count", count}, {"lastTimestamp", formatRfc3339(item.at)}};
  auto res = client_.patch(kEvents, seen.eventNs, seen.eventName, PatchType::Merge, patch.dump());
  if (res.ok()) {
    written_.fetch_add(1);
    seen.count = count;
    remember(key, seen);
    return;
  }
  if (res.error().code == 404) {
    // The Event expired (the API server keeps them about an hour): start a new one, keeping
    // the running count as client-go does.
    createEvent(item, key, count, seen.firstTimestamp);
    return;
  }
  log::warn("event patch failed",
            {{"event", seen.eventNs + "/" + seen.eventName}, {"error", res.error().str()}});
}

}  // namespace waha::kube
