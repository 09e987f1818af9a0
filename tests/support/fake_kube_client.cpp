#include "support/fake_kube_client.h"

#include <algorithm>
#include <thread>

namespace waha::test {

using kube::WatchEvent;

namespace {

std::string resKey(const kube::ResourceRef& r) { return r.apiVersion() + "/" + r.resource; }

std::string metaString(const Json& obj, const char* field) {
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) {
    return "";
  }
  auto it = md->find(field);
  return it != md->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string keyOf(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

// Equality-based selectors only ("a=b,c!=d"): what the operator's informers use.
bool selectorMatches(const std::string& selector, const Json& obj) {
  if (selector.empty()) {
    return true;
  }
  Json labels = obj.value("/metadata/labels"_json_pointer, Json::object());
  size_t start = 0;
  while (start <= selector.size()) {
    size_t end = selector.find(',', start);
    std::string term = selector.substr(start, end == std::string::npos ? end : end - start);
    bool negate = false;
    size_t eq = term.find("!=");
    size_t vpos = 0;
    if (eq != std::string::npos) {
      negate = true;
      vpos = eq + 2;
    } else {
      eq = term.find('=');
      vpos = eq + (term.compare(eq, 2, "==") == 0 ? 2 : 1);
    }
    std::string k = term.substr(0, eq);
    std::string v = term.substr(vpos);
    bool has = labels.contains(k) && labels[k].is_string() && labels[k].get<std::string>() == v;
    if (has == negate) {
      return false;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return true;
}

Status errorStatus(const Error& e) { return Status(e); }

Error apiError(int code, const std::string& reason, const std::string& msg) {
  return Error::make(code, reason, msg, code == 429 || code >= 500);
}

}  // namespace

class FakeWatch : public std::enable_shared_from_this<FakeWatch> {
 public:
  FakeWatch(std::string res, std::string ns, std::string selector, kube::WatchCallback onEvent,
            kube::WatchDone onDone)
      : res_(std::move(res)),
        ns_(std::move(ns)),
        selector_(std::move(selector)),
        onEvent_(std::move(onEvent)),
        onDone_(std::move(onDone)) {}
  ~FakeWatch() {
    if (thread_.joinable()) {
      thread_.detach();
    }
  }

  void startThread() {
    thread_ = std::thread([self = shared_from_this()] { self->loop(); });
  }
  bool matches(const std::string& res, const Json& obj) const {
    return res == res_ && (ns_.empty() || metaString(obj, "namespace") == ns_) &&
           selectorMatches(selector_, obj);
  }
  void push(WatchEvent ev) {
    std::lock_guard lk(mu_);
    if (!ended_ && !stopped_) {
      items_.push_back(Item{std::move(ev), false, {}});
      cv_.notify_all();
    }
  }
  void end(Status st) {
    std::lock_guard lk(mu_);
    if (!ended_ && !stopped_) {
      ended_ = true;
      items_.push_back(Item{{}, true, std::move(st)});
      cv_.notify_all();
    }
  }
  bool finished() const {
    std::lock_guard lk(mu_);
    return ended_ || stopped_;
  }
  void stop() {
    {
      std::lock_guard lk(mu_);
      stopped_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    }
  }

 private:
  struct Item {
    WatchEvent event;
    bool end;
    Status status;
  };
  void loop() {
    for (;;) {
      Item item;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [this] { return stopped_ || !items_.empty(); });
        if (stopped_) {
          return;
        }
        item = std::move(items_.front());
        items_.pop_front();
      }
      if (item.end) {
        onDone_(std::move(item.status));
        return;
      }
      onEvent_(std::move(item.event));
    }
  }

  std::string res_;
  std::string ns_;
  std::string selector_;
  kube::WatchCallback onEvent_;
  kube::WatchDone onDone_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  bool ended_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

namespace {

class FakeWatchHandle : public kube::WatchHandle {
 public:
  explicit FakeWatchHandle(std::shared_ptr<FakeWatch> w) : w_(std::move(w)) {}
  ~FakeWatchHandle() override { w_->stop(); }
  void stop() override { w_->stop(); }

 private:
  std::shared_ptr<FakeWatch> w_;
};

}  // namespace

FakeKubeClient::FakeKubeClient() = default;

FakeKubeClient::~FakeKubeClient() {
  std::vector<std::shared_ptr<FakeWatch>> ws;
  {
    std::lock_guard lk(mu_);
    ws.swap(watches_);
  }
  for (auto& w : ws) {
    w->stop();
  }
}

void FakeKubeClient::pruneWatchesLocked() {
  watches_.erase(
      std::remove_if(watches_.begin(), watches_.end(), [](const auto& w) { return w->finished(); }),
      watches_.end());
}

Json FakeKubeClient::writeLocked(const std::string& res, Json obj, WatchEvent::Type type) {
  ++rv_;
  obj["metadata"]["resourceVersion"] = std::to_string(rv_);
  std::string key = keyOf(metaString(obj, "namespace"), metaString(obj, "name"));
  if (type == WatchEvent::Type::Deleted) {
    objects_[res].erase(key);
  } else {
    objects_[res][key] = obj;
  }
  history_.push_back(HistoryEntry{rv_, res, type, obj});
  if (!silent_) {
    for (auto& w : watches_) {
      if (w->matches(res, obj)) {
        w->push(WatchEvent{type, obj});
      }
    }
  }
  return obj;
}

Json* FakeKubeClient::findLocked(const std::string& res, const std::string& key) {
  auto it = objects_.find(res);
  if (it == objects_.end()) {
    return nullptr;
  }
  auto jt = it->second.find(key);
  return jt == it->second.end() ? nullptr : &jt->second;
}

Json FakeKubeClient::put(const kube::ResourceRef& r, Json obj) {
  std::lock_guard lk(mu_);
  std::string key = keyOf(metaString(obj, "namespace"), metaString(obj, "name"));
  bool exists = findLocked(resKey(r), key) != nullptr;
  if (!exists && !obj["metadata"].contains("uid")) {
    obj["metadata"]["uid"] = "uid-" + std::to_string(++uid_);
  }
  return writeLocked(resKey(r), std::move(obj),
                     exists ? WatchEvent::Type::Modified : WatchEvent::Type::Added);
}

bool FakeKubeClient::erase(const kube::ResourceRef& r, const std::string& ns,
                           const std::string& name) {
  std::lock_guard lk(mu_);
  Json* cur = findLocked(resKey(r), keyOf(ns, name));
  if (!cur) {
    return false;
  }
  writeLocked(resKey(r), *cur, WatchEvent::Type::Deleted);
  return true;
}

std::vector<Json> FakeKubeClient::objects(const kube::ResourceRef& r, const std::string& ns) const {
  std::lock_guard lk(mu_);
  std::vector<Json> out;
  auto it = objects_.find(resKey(r));
  if (it != objects_.end()) {
    for (const auto& [key, obj] : it->second) {
      if (ns.empty() || metaString(obj, "namespace") == ns) {
        out.push_back(obj);
      }
    }
  }
  return out;
}

std::string FakeKubeClient::resourceVersion() const {
  std::lock_guard lk(mu_);
  return std::to_string(rv_);
}

void FakeKubeClient::failNext(const std::string& verb, Error err, int times) {
  std::lock_guard lk(mu_);
  for (int i = 0; i < times; ++i) {
    failures_[verb].push_back(err);
  }
}

std::optional<Error> FakeKubeClient::takeFailureLocked(const std::string& verb) {
  auto it = failures_.find(verb);
  if (it == failures_.end() || it->second.empty()) {
    return std::nullopt;
  }
  Error e = it->second.front();
  it->second.pop_front();
  return e;
}

void FakeKubeClient::compact() {
  std::lock_guard lk(mu_);
  compactedRv_ = rv_;
  history_.clear();
}

void FakeKubeClient::expireWatches() {
  std::lock_guard lk(mu_);
  Json status = {{"kind", "Status"},    {"apiVersion", "v1"},
                 {"status", "Failure"}, {"code", 410},
                 {"reason", "Expired"}, {"message", "too old resource version"}};
  for (auto& w : watches_) {
    w->push(WatchEvent{WatchEvent::Type::Error, status});
    w->end(Status{});
  }
  pruneWatchesLocked();
}

void FakeKubeClient::closeWatches(Status status) {
  std::lock_guard lk(mu_);
  for (auto& w : watches_) {
    w->end(status);
  }
  pruneWatchesLocked();
}

void FakeKubeClient::setSilent(bool silent) {
  std::lock_guard lk(mu_);
  silent_ = silent;
}

void FakeKubeClient::sendBookmarks() {
  std::lock_guard lk(mu_);
  Json bm = {{"kind", "Bookmark"}, {"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
  if (!silent_) {
    for (auto& w : watches_) {
      w->push(WatchEvent{WatchEvent::Type::Bookmark, bm});
    }
  }
}

void FakeKubeClient::sendEvent(const kube::WatchEvent& event) {
  std::lock_guard lk(mu_);
  for (auto& w : watches_) {
    w->push(event);
  }
}

void FakeKubeClient::scriptListPages(const kube::ResourceRef& r,
                                     std::vector<kube::ListResult> pages) {
  std::lock_guard lk(mu_);
  for (auto& p : pages) {
    scriptedPages_[resKey(r)].push_back(std::move(p));
  }
}

int FakeKubeClient::openWatches() const {
  std::lock_guard lk(mu_);
  int n = 0;
  for (const auto& w : watches_) {
    n += w->finished() ? 0 : 1;
  }
  return n;
}

std::vector<FakeKubeClient::Call> FakeKubeClient::calls() const {
  std::lock_guard lk(mu_);
  return calls_;
}

int FakeKubeClient::callCount(const std::string& verb) const {
  std::lock_guard lk(mu_);
  return static_cast<int>(
      std::count_if(calls_.begin(), calls_.end(), [&](const Call& c) { return c.verb == verb; }));
}

void FakeKubeClient::clearCalls() {
  std::lock_guard lk(mu_);
  calls_.clear();
}

void FakeKubeClient::recordLocked(Call call) { calls_.push_back(std::move(call)); }

Result<Json> FakeKubeClient::get(const kube::ResourceRef& r, const std::string& ns,
                                 const std::string& name, const std::string& subresource) {
  std::lock_guard lk(mu_);
  recordLocked(Call{"get", r.path(ns, name, subresource), {}, {}, {}});
  if (auto e = takeFailureLocked("get")) {
    return *e;
  }
  Json* cur = findLocked(resKey(r), keyOf(ns, name));
  if (!cur) {
    return apiError(404, "NotFound", r.resource + " \"" + name + "\" not found");
  }
  return *cur;
}

Result<kube::ListResult> FakeKubeClient::list(const kube::ResourceRef& r, const std::string& ns,
                                              const kube::ListOptions& opts) {
  std::lock_guard lk(mu_);
  Call call{"list", r.path(ns), opts, {}, {}};
  recordLocked(std::move(call));
  if (auto e = takeFailureLocked("list")) {
    return *e;
  }
  auto& scripted = scriptedPages_[resKey(r)];
  if (!scripted.empty()) {
    kube::ListResult page = std::move(scripted.front());
    scripted.pop_front();
    return page;
  }
  // Pages come from one snapshot taken at the first page, like the API server's consistent
  // paged reads, so writes between pages cannot be lost.
  std::string snapId;
  size_t offset = 0;
  if (!opts.continueToken.empty()) {
    size_t colon = opts.continueToken.find(':');
    snapId = opts.continueToken.substr(0, colon);
    offset = colon == std::string::npos ? 0 : std::stoul(opts.continueToken.substr(colon + 1));
    if (snapshots_.find(snapId) == snapshots_.end()) {
      return apiError(410, "Expired", "continue token expired");
    }
  } else {
    snapId = "snap" + std::to_string(++snapshotSeq_);
    Snapshot snap;
    snap.rv = std::to_string(rv_);
    for (const auto& [key, obj] : objects_[resKey(r)]) {
      if ((ns.empty() || metaString(obj, "namespace") == ns) &&
          selectorMatches(opts.labelSelector, obj)) {
        snap.items.push_back(obj);
      }
    }
    snapshots_[snapId] = std::move(snap);
  }
  Snapshot& snap = snapshots_[snapId];
  kube::ListResult out;
  out.resourceVersion = snap.rv;
  size_t end =
      opts.limit > 0 ? std::min(snap.items.size(), offset + opts.limit) : snap.items.size();
  for (size_t i = offset; i < end; ++i) {
    out.items.push_back(snap.items[i]);
  }
  if (end < snap.items.size()) {
    out.continueToken = snapId + ":" + std::to_string(end);
  } else {
    snapshots_.erase(snapId);
  }
  return out;
}

Result<Json> FakeKubeClient::create(const kube::ResourceRef& r, const std::string& ns,
                                    const Json& obj) {
  std::lock_guard lk(mu_);
  recordLocked(Call{"create", r.path(ns), {}, {}, obj});
  if (auto e = takeFailureLocked("create")) {
    return *e;
  }
  Json o = obj;
  if (!ns.empty()) {
    o["metadata"]["namespace"] = ns;
  }
  std::string name = metaString(o, "name");
  if (name.empty()) {
    return apiError(422, "Invalid", "metadata.name: Required value");
  }
  if (findLocked(resKey(r), keyOf(ns, name))) {
    return apiError(409, "AlreadyExists", r.resource + " \"" + name + "\" already exists");
  }
  o["metadata"]["uid"] = "uid-" + std::to_string(++uid_);
  o["metadata"]["generation"] = 1;
  o["metadata"]["creationTimestamp"] = "2026-11-28T00:00:00Z";
  return writeLocked(resKey(r), std::move(o), WatchEvent::Type::Added);
}

Result<Json> FakeKubeClient::update(const kube::ResourceRef& r, const std::string& ns,
                                    const Json& obj, const std::string& subresource) {
  std::lock_guard lk(mu_);
  std::string name = metaString(obj, "name");
  recordLocked(Call{"update", r.path(ns, name, subresource), {}, {}, obj});
  if (auto e = takeFailureLocked("update")) {
    return *e;
  }
  Json* cur = findLocked(resKey(r), keyOf(ns, name));
  if (!cur) {
    return apiError(404, "NotFound", r.resource + " \"" + name + "\" not found");
  }
  std::string rv = metaString(obj, "resourceVersion");
  if (!rv.empty() && rv != metaString(*cur, "resourceVersion")) {
    return apiError(409, "Conflict",
                    "Operation cannot be fulfilled on " + r.resource + " \"" + name +
                        "\": the object has been modified; please apply your changes to the "
                        "latest version and try again");
  }
  Json next = *cur;
  if (subresource == "status") {
    next["status"] = obj.value("status", Json::object());
  } else {
    next = obj;
    next["metadata"]["namespace"] = metaString(*cur, "namespace");
    next["metadata"]["uid"] = (*cur)["metadata"].value("uid", "");
    if (cur->contains("status")) {
      next["status"] = (*cur)["status"];
    } else {
      next.erase("status");
    }
    int gen = (*cur)["metadata"].value("generation", 1);
    next["metadata"]["generation"] =
        obj.value("spec", Json()) != cur->value("spec", Json()) ? gen + 1 : gen;
  }
  return writeLocked(resKey(r), std::move(next), WatchEvent::Type::Modified);
}

Result<Json> FakeKubeClient::patch(const kube::ResourceRef& r, const std::string& ns,
                                   const std::string& name, kube::PatchType type,
                                   const std::string& body, const kube::PatchOptions& /*opts*/,
                                   const std::string& subresource) {
  std::lock_guard lk(mu_);
  Json parsed = Json::parse(body, nullptr, false);
  recordLocked(Call{"patch", r.path(ns, name, subresource), {}, {}, parsed});
  if (auto e = takeFailureLocked("patch")) {
    return *e;
  }
  if (parsed.is_discarded()) {
    return apiError(400, "BadRequest", "patch body is not JSON");
  }
  Json* cur = findLocked(resKey(r), keyOf(ns, name));
  if (!cur) {
    if (type != kube::PatchType::Apply) {
      return apiError(404, "NotFound", r.resource + " \"" + name + "\" not found");
    }
    parsed["metadata"]["name"] = name;
    if (!ns.empty()) {
      parsed["metadata"]["namespace"] = ns;
    }
    parsed["metadata"]["uid"] = "uid-" + std::to_string(++uid_);
    parsed["metadata"]["generation"] = 1;
    return writeLocked(resKey(r), std::move(parsed), WatchEvent::Type::Added);
  }
  Json next = *cur;
  if (type == kube::PatchType::Json) {
    try {
      next = cur->patch(parsed);
    } catch (const std::exception& e) {
      return apiError(422, "Invalid", e.what());
    }
  } else {
    next.merge_patch(parsed);
  }
  // As the API server: a change of spec (not through /status) is a new generation.
  if (subresource.empty() && next.value("spec", Json()) != cur->value("spec", Json())) {
    next["metadata"]["generation"] = (*cur)["metadata"].value("generation", 1) + 1;
  }
  return writeLocked(resKey(r), std::move(next), WatchEvent::Type::Modified);
}

Status FakeKubeClient::remove(const kube::ResourceRef& r, const std::string& ns,
                              const std::string& name, const kube::DeleteOptions& /*opts*/) {
  std::lock_guard lk(mu_);
  recordLocked(Call{"delete", r.path(ns, name), {}, {}, {}});
  if (auto e = takeFailureLocked("delete")) {
    return errorStatus(*e);
  }
  Json* cur = findLocked(resKey(r), keyOf(ns, name));
  if (!cur) {
    return errorStatus(apiError(404, "NotFound", r.resource + " \"" + name + "\" not found"));
  }
  Json obj = *cur;
  auto fin = obj["metadata"].find("finalizers");
  if (fin != obj["metadata"].end() && fin->is_array() && !fin->empty()) {
    obj["metadata"]["deletionTimestamp"] = "2026-11-28T00:00:00Z";
    writeLocked(resKey(r), std::move(obj), WatchEvent::Type::Modified);
  } else {
    writeLocked(resKey(r), std::move(obj), WatchEvent::Type::Deleted);
  }
  return {};
}

std::unique_ptr<kube::WatchHandle> FakeKubeClient::watch(const kube::ResourceRef& r,
                                                         const std::string& ns,
                                                         const kube::WatchOptions& opts,
                                                         kube::WatchCallback onEvent,
                                                         kube::WatchDone onDone) {
  std::lock_guard lk(mu_);
  recordLocked(Call{"watch", r.path(ns), {}, opts, {}});
  auto w = std::make_shared<FakeWatch>(resKey(r), ns, opts.labelSelector, std::move(onEvent),
                                       std::move(onDone));
  w->startThread();
  if (auto e = takeFailureLocked("watch")) {
    w->end(errorStatus(*e));
    return std::make_unique<FakeWatchHandle>(w);
  }
  uint64_t from = opts.resourceVersion.empty() ? rv_ : std::stoull(opts.resourceVersion);
  if (from < compactedRv_) {
    Json status = {
        {"kind", "Status"},    {"apiVersion", "v1"},
        {"status", "Failure"}, {"code", 410},
        {"reason", "Expired"}, {"message", "too old resource version: " + opts.resourceVersion}};
    w->push(WatchEvent{WatchEvent::Type::Error, status});
    w->end(Status{});
    return std::make_unique<FakeWatchHandle>(w);
  }
  if (!silent_) {
    for (const auto& h : history_) {
      if (h.rv > from && w->matches(h.res, h.obj)) {
        w->push(WatchEvent{h.type, h.obj});
      }
    }
  }
  pruneWatchesLocked();
  watches_.push_back(w);
  return std::make_unique<FakeWatchHandle>(w);
}

}  // namespace waha::test
