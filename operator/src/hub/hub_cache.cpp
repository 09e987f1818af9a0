#include "hub/hub_cache.h"

#include "api/defaults.h"
#include "api/types.h"
#include "common/base64.h"
#include "common/log.h"

namespace waha::hub {
namespace {

const kube::ResourceRef kSessions{api::kGroup, api::kVersion, api::kSessionPlural, true};
const kube::ResourceRef kClusters{api::kGroup, api::kVersion, api::kClusterPlural, true};
const kube::ResourceRef kPods{"", "v1", "pods", true};
const kube::ResourceRef kSecrets{"", "v1", "secrets", true};

// The operator's worker pods of one cluster (controller/worker_template.h labels them so; the
// hub may not include controller/).
std::string workerSelector(const std::string& cluster) {
  return std::string(api::kClusterLabel) + "=" + cluster + ",app.kubernetes.io/component=worker";
}

struct NamedEntry {
  std::string name;
  SessionEntry entry;
};

// The WAHA name and route of a WahaSession of `cluster`; nullopt for another cluster's.
std::optional<NamedEntry> sessionEntry(const kube::Json& obj, const std::string& cluster) {
  auto s = api::parseSession(obj);
  if (!s.ok() || s->spec.clusterRef.name != cluster) {
    return std::nullopt;
  }
  NamedEntry out{api::effectiveSessionName(*s), {}};
  out.entry.resource = s->metadata.name;
  if (s->status) {
    out.entry.worker = s->status->worker;
    out.entry.workerIP = s->status->workerIP;
    out.entry.phase = s->status->phase ? std::string(api::toString(*s->status->phase)) : "";
    out.entry.wahaStatus = s->status->wahaStatus;
    out.entry.observedGeneration = s->status->observedGeneration;
  }
  return out;
}

PodEntry podEntry(const kube::Json& pod) {
  PodEntry e;
  e.ip = pod.value("/status/podIP"_json_pointer, "");
  e.deleting = pod.contains("metadata") && pod["metadata"].contains("deletionTimestamp") &&
               !pod["metadata"]["deletionTimestamp"].is_null();
  auto conds = pod.value("/status/conditions"_json_pointer, kube::Json::array());
  for (const auto& c : conds) {
    if (c.value("type", "") == "Ready") {
      e.ready = c.value("status", "") == "True";
    }
  }
  return e;
}

// data (base64), or stringData as an API server that has not folded it into data yet keeps it.
std::optional<std::string> secretValue(const kube::Json& secret, const std::string& key) {
  const auto& data = secret.value("data", kube::Json::object());
  if (auto it = data.find(key); it != data.end() && it->is_string()) {
    return base64Decode(it->get<std::string>());
  }
  const auto& plain = secret.value("stringData", kube::Json::object());
  if (auto it = plain.find(key); it != plain.end() && it->is_string()) {
    return it->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

HubCache::HubCache(kube::KubeClient& kube, Clock& clock, Random& random, CacheOptions options)
    : kube_(kube), clock_(clock), options_(std::move(options)), table_(options_.workerPort) {
  sessions_ = std::make_unique<kube::Informer>(kube, kSessions, options_.ns, clock, random);
  kube::WatcherOptions podOpts;
  podOpts.labelSelector = workerSelector(options_.cluster);
  pods_ = std::make_unique<kube::Informer>(kube, kPods, options_.ns, clock, random, podOpts);
  clusters_ = std::make_unique<kube::Informer>(kube, kClusters, options_.ns, clock, random);
  sessions_->addHandler(
      {[this](const kube::ObjectPtr& o, bool) { onSession(nullptr, o); },
       [this](const kube::ObjectPtr& o, const kube::ObjectPtr& n, bool) { onSession(o, n); },
       [this](const kube::ObjectPtr& o, bool) { onSession(o, nullptr); }});
  pods_->addHandler(
      {[this](const kube::ObjectPtr& o, bool) { onPod(o, false); },
       [this](const kube::ObjectPtr&, const kube::ObjectPtr& n, bool) { onPod(n, false); },
       [this](const kube::ObjectPtr& o, bool) { onPod(o, true); }});
  // A new or changed cluster may name a different key Secret: read it now, not in 30 s.
  clusters_->addHandler(
      {[this](const kube::ObjectPtr&, bool) { changed(); },
       [this](const kube::ObjectPtr&, const kube::ObjectPtr&, bool) { changed(); }, nullptr});
}

HubCache::~HubCache() { stop(); }

void HubCache::start() {
  sessions_->start();
  pods_->start();
  clusters_->start();
  keyThread_ = std::thread([this] { keyLoop(); });
  waitThread_ = std::thread([this] { waitLoop(); });
}

void HubCache::stop() {
  {
    std::lock_guard<std::mutex> lk(stopMu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  stopCv_.notify_all();
  if (keyThread_.joinable()) {
    keyThread_.join();
  }
  releaseWaits();  // the wait thread answers what is pending, then ends
  if (waitThread_.joinable()) {
    waitThread_.join();
  }
  sessions_->stop();
  pods_->stop();
  clusters_->stop();
}

bool HubCache::ready() const {
  return sessions_->hasSynced() && pods_->hasSynced() && clusters_->hasSynced() && keyRead_;
}

void HubCache::onSession(const kube::ObjectPtr& oldObj, const kube::ObjectPtr& newObj) {
  auto before = oldObj ? sessionEntry(*oldObj, options_.cluster) : std::nullopt;
  auto after = newObj ? sessionEntry(*newObj, options_.cluster) : std::nullopt;
  {
    std::unique_lock<std::shared_mutex> lk(tableMu_);
    if (before && (!after || after->name != before->name)) {
      table_.removeSession(before->name);
    }
    if (after) {
      table_.upsertSession(after->name, after->entry);
    }
  }
  changed();
}

void HubCache::onPod(const kube::ObjectPtr& obj, bool removed) {
  std::string name = obj->value("/metadata/name"_json_pointer, "");
  {
    std::unique_lock<std::shared_mutex> lk(tableMu_);
    if (removed) {
      table_.removePod(name);
    } else {
      table_.upsertPod(name, podEntry(*obj));
    }
  }
  changed();
}

void HubCache::changed() {
  {
    std::lock_guard<std::mutex> lk(waitMu_);
    ++generation_;
  }
  waitCv_.notify_all();
  if (!keyRead_) {
    {
      std::lock_guard<std::mutex> lk(stopMu_);
      keyWake_ = true;  // the key thread retries at once: the cluster may be cached now
    }
    stopCv_.notify_all();
  }
}

Lookup HubCache::lookup(const std::string& session) const {
  std::shared_lock<std::shared_mutex> lk(tableMu_);
  return table_.lookup(session);
}

std::optional<SessionEntry> HubCache::session(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lk(tableMu_);
  return table_.session(name);
}

std::map<std::string, std::string> HubCache::readyWorkers() const {
  std::shared_lock<std::shared_mutex> lk(tableMu_);
  return table_.readyWorkers();
}

std::shared_ptr<const std::string> HubCache::apiKey() const {
  std::lock_guard<std::mutex> lk(keyMu_);
  return key_;
}

void HubCache::whenTrue(std::chrono::milliseconds timeout,
                        std::function<bool(const HubCache&)> pred, std::function<void(bool)> done) {
  {
    std::lock_guard<std::mutex> lk(waitMu_);
    if (!waitsReleased_) {
      waiters_.push_back({clock_.now() + timeout, std::move(pred), std::move(done)});
      ++generation_;
      done = nullptr;
    }
  }
  if (done) {
    done(false);  // released: nothing is waited for any more
    return;
  }
  waitCv_.notify_all();
}

void HubCache::releaseWaits() {
  {
    std::lock_guard<std::mutex> lk(waitMu_);
    waitsReleased_ = true;
    ++generation_;
  }
  waitCv_.notify_all();
}

// One thread for every pending wait: each looks again after every change and ends at its
// deadline. The callbacks run with the lock released.
void HubCache::waitLoop() {
  std::unique_lock<std::mutex> lk(waitMu_);
  for (;;) {
    std::vector<std::pair<std::function<void(bool)>, bool>> ended;
    TimePoint now = clock_.now();
    TimePoint next = now + std::chrono::hours(1);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      bool ok = false;
      try {
        ok = !waitsReleased_ && it->pred(*this);
      } catch (...) {
        log::error("hub: a wait's condition threw");
      }
      if (ok || waitsReleased_ || now >= it->deadline) {
        ended.emplace_back(std::move(it->done), ok);
        it = waiters_.erase(it);
      } else {
        next = std::min(next, it->deadline);
        ++it;
      }
    }
    if (!ended.empty()) {
      lk.unlock();
      for (auto& [done, ok] : ended) {
        try {
          done(ok);
        } catch (...) {
          log::error("hub: a wait's answer threw");
        }
      }
      lk.lock();
      continue;  // a callback may have added a wait, or the table changed meanwhile
    }
    if (waitsReleased_) {
      return;
    }
    auto seen = generation_;
    clock_.waitUntil(lk, waitCv_, next, [&] { return generation_ != seen; });
  }
}

void HubCache::keyLoop() {
  std::unique_lock<std::mutex> lk(stopMu_);
  while (!stopping_) {
    lk.unlock();
    bool ok = clusters_->hasSynced() && readKey();
    lk.lock();
    // Until the first read succeeds retry every second (the pod is not ready without it).
    auto wait = ok || keyRead_ ? std::chrono::duration_cast<Duration>(options_.keyRefresh)
                               : std::chrono::duration_cast<Duration>(std::chrono::seconds(1));
    clock_.waitUntil(lk, stopCv_, clock_.now() + wait, [this] { return stopping_ || keyWake_; });
    keyWake_ = false;
  }
}

// Logged once per distinct problem: the key thread retries every second until it succeeds.
void HubCache::keyProblem(const std::string& message) {
  if (message != lastKeyProblem_) {
    lastKeyProblem_ = message;
    log::warn("hub: API key not read", {{"cluster", options_.cluster}, {"error", message}});
  }
}

bool HubCache::readKey() {
  auto obj = clusters_->store().get(kube::objectKey(options_.ns, options_.cluster));
  if (!obj) {
    return false;
  }
  auto cluster = api::parseCluster(*obj);
  if (!cluster.ok()) {
    return false;
  }
  std::optional<std::string> key = std::string();
  if (const auto& ref = cluster->spec.apiKeySecretRef) {
    auto secret = kube_.get(kSecrets, options_.ns, ref->name);
    if (!secret.ok()) {
      keyProblem("cannot read the API key Secret " + ref->name + ": " + secret.error().message);
      return false;
    }
    key = secretValue(*secret, ref->key);
    if (!key || key->empty()) {
      keyProblem("the API key Secret " + ref->name + " has no key " + ref->key);
      return false;
    }
  }
  {
    std::lock_guard<std::mutex> lk(keyMu_);
    if (!key_ || *key_ != *key) {
      key_ = std::make_shared<const std::string>(std::move(*key));
    }
  }
  lastKeyProblem_.clear();
  if (!keyRead_.exchange(true)) {
    log::info("hub: API key read", {{"cluster", options_.cluster}});
  }
  return true;
}

}  // namespace waha::hub
