#include "kube/watcher.h"

#include "common/log.h"

namespace waha::kube {

namespace {

// A watch the server closed "normally" this soon without sending anything is treated as a
// failure (client-go does the same), or a misbehaving server would make us spin.
constexpr auto kShortWatch = std::chrono::seconds(1);

int statusCode(const Json& status) {
  auto it = status.find("code");
  return it != status.end() && it->is_number_integer() ? it->get<int>() : 0;
}

std::string statusMessage(const Json& status) {
  auto it = status.find("message");
  return it != status.end() && it->is_string() ? it->get<std::string>() : status.dump();
}

}  // namespace

WatcherMachine::WatcherMachine(Store& store, Clock& clock, Random& random, WatcherOptions options)
    : store_(store),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      backoff_(options_.backoffBase, options_.backoffMax, random_) {}

WatcherAction WatcherMachine::listAction() const {
  WatcherAction a;
  a.kind = WatcherAction::Kind::List;
  a.list.labelSelector = options_.labelSelector;
  a.list.fieldSelector = options_.fieldSelector;
  a.list.limit = options_.pageSize;
  a.list.continueToken = continueToken_;
  return a;
}

WatcherAction WatcherMachine::watchAction() {
  phase_ = Phase::Watching;
  watchOpenedAt_ = clock_.now();
  eventsThisWatch_ = 0;
  touch();
  WatcherAction a;
  a.kind = WatcherAction::Kind::Watch;
  a.watch.resourceVersion = lastRv_;
  a.watch.labelSelector = options_.labelSelector;
  a.watch.fieldSelector = options_.fieldSelector;
  a.watch.allowBookmarks = true;
  auto lo = options_.minWatchTimeout.count();
  auto span = options_.maxWatchTimeout.count() - lo;
  a.watch.timeoutSeconds = static_cast<int>(lo + static_cast<long>(random_.uniform() * span));
  return a;
}

WatcherStep WatcherMachine::beginList() {
  phase_ = Phase::Listing;
  ++listsStarted_;
  continueToken_.clear();
  pending_.clear();
  return WatcherStep{{}, listAction()};
}

WatcherStep WatcherMachine::start() { return beginList(); }

WatcherStep WatcherMachine::fail(const std::string& what, const Error& err) {
  auto now = clock_.now();
  // Healthy for a while: the next failure is treated as a first one again.
  if (everFailed_ && now - lastFailure_ >= options_.backoffReset) {
    backoff_.reset();
  }
  everFailed_ = true;
  lastFailure_ = now;
  ++failures_;
  relistAfterWait_ = phase_ == Phase::Listing;
  phase_ = Phase::BackingOff;
  WatcherAction a;
  a.kind = WatcherAction::Kind::Wait;
  a.delay = backoff_.next();
  log::warn("watcher failure", {{"what", what},
                                {"error", err.str()},
                                {"retry_in_ms", std::to_string(a.delay.count() / 1000000)}});
  return WatcherStep{{}, a};
}

WatcherStep WatcherMachine::onListPage(const Result<ListResult>& page) {
  if (phase_ != Phase::Listing) {
    return {};
  }
  if (!page.ok()) {
    return fail("list", page.error());
  }
  for (const auto& item : page->items) {
    pending_.push_back(std::make_shared<const Json>(item));
  }
  if (!page->continueToken.empty()) {
    continueToken_ = page->continueToken;
    return WatcherStep{{}, listAction()};
  }
  WatcherStep step;
  // The fresh list is the truth: whatever the cache holds that the list lacks was deleted while
  // we were not watching, and is reported as such.
  for (auto& change : store_.replace(pending_, options_.scope)) {
    Notification n;
    n.fromList = true;
    n.oldObj = change.oldObj;
    n.newObj = change.newObj;
    n.type = !change.oldObj   ? Notification::Type::Added
             : !change.newObj ? Notification::Type::Deleted
                              : Notification::Type::Updated;
    step.notifications.push_back(std::move(n));
  }
  pending_.clear();
  continueToken_.clear();
  step.listed = true;
  lastRv_ = page->resourceVersion;
  step.next = watchAction();
  return step;
}

void WatcherMachine::markSynced() { store_.markSynced(options_.scope); }

WatcherStep WatcherMachine::onEvent(const WatchEvent& event) {
  WatcherStep step;
  if (phase_ != Phase::Watching) {
    return step;
  }
  touch();
  ++eventsThisWatch_;
  using T = WatchEvent::Type;
  if (event.type == T::Error) {
    if (statusCode(event.object) == 410) {
      log::info("watch expired, re-listing", {{"rv", lastRv_}});
      return beginList();
    }
    return fail("watch error event", Error::make(statusCode(event.object), "WatchError",
                                                 statusMessage(event.object), true));
  }
  std::string rv = resourceVersionOf(event.object);
  if (event.type == T::Bookmark) {
    if (!rv.empty()) {
      lastRv_ = rv;
    }
    return step;
  }
  auto obj = std::make_shared<const Json>(event.object);
  Notification n;
  if (event.type == T::Deleted) {
    ObjectPtr old = store_.remove(objectKey(*obj));
    if (old) {
      n.type = Notification::Type::Deleted;
      n.oldObj = obj;  // the final state, as the server sent it
      step.notifications.push_back(std::move(n));
    }
  } else {
    ObjectPtr old = store_.upsert(obj);
    n.type = old ? Notification::Type::Updated : Notification::Type::Added;
    n.oldObj = old;
    n.newObj = obj;
    step.notifications.push_back(std::move(n));
  }
  if (!rv.empty()) {
    lastRv_ = rv;
  }
  return step;
}

WatcherStep WatcherMachine::onStreamEnd(const Status& status) {
  if (phase_ != Phase::Watching) {
    return {};
  }
  if (status.ok()) {
    if (eventsThisWatch_ == 0 && clock_.now() - watchOpenedAt_ < kShortWatch) {
      return fail("watch", Error::make(0, "ShortWatch", "watch closed at once without events"));
    }
    return WatcherStep{{}, watchAction()};
  }
  if (status.error().code == 410) {
    log::info("watch expired, re-listing", {{"rv", lastRv_}});
    return beginList();
  }
  return fail("watch", status.error());
}

WatcherStep WatcherMachine::onTimer() {
  if (phase_ != Phase::BackingOff) {
    return {};
  }
  if (relistAfterWait_) {
    return beginList();
  }
  return WatcherStep{{}, watchAction()};
}

WatcherStep WatcherMachine::onTick() {
  if (phase_ != Phase::Watching || clock_.now() < silenceDeadline()) {
    return {};
  }
  return fail("watch", Error::make(0, "Silent", "no event or bookmark within the silence timeout"));
}

// ---------------------------------------------------------------------------------------------

namespace {
WatcherOptions withScope(WatcherOptions o, const std::string& ns) {
  o.scope = ns;
  return o;
}
}  // namespace

Watcher::Watcher(KubeClient& client, ResourceRef resource, std::string ns, Store& store,
                 Clock& clock, Random& random, WatcherOptions options)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      clock_(clock),
      machine_(store, clock, random, withScope(std::move(options), ns_)) {}

Watcher::~Watcher() { stop(); }

void Watcher::addHandler(NotificationHandler handler) {
  std::lock_guard lk(mu_);
  handlers_.push_back(std::move(handler));
}

void Watcher::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Watcher::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

int Watcher::relists() const {
  std::lock_guard lk(mu_);
  return machine_.relists();
}

void Watcher::deliver(const WatcherStep& step) {
  for (const auto& n : step.notifications) {
    for (const auto& h : handlers_) {
      h(n);
    }
  }
  if (step.listed) {
    machine_.markSynced();
  }
}

void Watcher::closeWatch(std::unique_lock<std::mutex>& lk) {
  ++generation_;
  pending_ = false;
  auto h = std::move(handle_);
  if (h) {
    // Unlocked: a callback in flight needs the lock to see it is stale and return, and stop()
    // waits for it.
    lk.unlock();
    h->stop();
    h.reset();
    lk.lock();
  }
}

void Watcher::openWatch(const WatchOptions& opts, std::unique_lock<std::mutex>& lk) {
  uint64_t gen = ++generation_;
  ++watchesOpened_;
  auto onEvent = [this, gen](WatchEvent ev) {
    std::lock_guard g(mu_);
    if (gen != generation_ || stopping_ || pending_) {
      return;
    }
    WatcherStep step = machine_.onEvent(ev);
    deliver(step);
    if (step.next.kind != WatcherAction::Kind::Continue) {
      pending_ = true;
      pendingAction_ = step.next;
      cv_.notify_all();
    }
  };
  auto onDone = [this, gen](Status st) {
    std::lock_guard g(mu_);
    if (gen != generation_ || stopping_ || pending_) {
      return;
    }
    WatcherStep step = machine_.onStreamEnd(st);
    deliver(step);
    if (step.next.kind != WatcherAction::Kind::Continue) {
      pending_ = true;
      pendingAction_ = step.next;
      cv_.notify_all();
    }
  };
  lk.unlock();
  auto h = client_.watch(resource_, ns_, opts, std::move(onEvent), std::move(onDone));
  lk.lock();
  handle_ = std::move(h);
}

void Watcher::run() {
  std::unique_lock lk(mu_);
  WatcherStep step = machine_.start();
  deliver(step);
  WatcherAction act = step.next;
  while (!stopping_) {
    switch (act.kind) {
      case WatcherAction::Kind::List: {
        closeWatch(lk);
        lk.unlock();
        auto page = client_.list(resource_, ns_, act.list);
        lk.lock();
        if (stopping_) {
          break;
        }
        step = machine_.onListPage(page);
        deliver(step);
        act = step.next;
        break;
      }
      case WatcherAction::Kind::Watch:
        closeWatch(lk);
        openWatch(act.watch, lk);
        act = WatcherAction{};
        break;
      case WatcherAction::Kind::Wait: {
        closeWatch(lk);
        clock_.waitUntil(lk, cv_, clock_.now() + act.delay, [this] { return stopping_; });
        if (stopping_) {
          break;
        }
        step = machine_.onTimer();
        deliver(step);
        act = step.next;
        break;
      }
      case WatcherAction::Kind::Continue: {
        clock_.waitUntil(lk, cv_, machine_.silenceDeadline(),
                         [this] { return stopping_ || pending_; });
        if (stopping_) {
          break;
        }
        if (pending_) {
          pending_ = false;
          act = pendingAction_;
          break;
        }
        step = machine_.onTick();
        deliver(step);
        act = step.next;
        break;
      }
    }
  }
  closeWatch(lk);
}

}  // namespace waha::kube
