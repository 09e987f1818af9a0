#pragma once

// client-go's reflector / kube-rs's watcher: LIST (paged) + WATCH (from the list's RV, with
// bookmarks) + re-watch on close + re-LIST on 410 Gone, with the list replacing the cache.
//
// Split in two so the rules are testable without threads:
//  - WatcherMachine: a pure state machine. Inputs are list pages, watch events, stream ends and
//    timer ticks; outputs are Store mutations, the notifications to hand to event handlers and
//    the next action to perform (list a page, open a watch, wait, or keep streaming).
//  - Watcher: a thin driver running the machine over a KubeClient on its own thread; watch
//    events are applied on the watch's I/O thread (never a reconcile worker).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/random.h"
#include "kube/client.h"
#include "kube/store.h"

namespace waha::kube {

struct WatcherOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int pageSize = 500;  // client-go's reflector page size
  // Each watch asks the server to end it after a random time in [min, max) so that many
  // clients do not reconnect in lock-step (client-go: 5-10 minutes).
  std::chrono::seconds minWatchTimeout{300};
  std::chrono::seconds maxWatchTimeout{600};
  // A stream with no event and no bookmark for this long is presumed dead (a half-open TCP
  // connection never ends by itself). Servers send bookmarks about every minute.
  Duration silenceTimeout = std::chrono::seconds(70);
  Duration backoffBase = std::chrono::milliseconds(800);
  Duration backoffMax = std::chrono::seconds(30);
  // The backoff starts over after this long without a failure.
  Duration backoffReset = std::chrono::minutes(2);
  // The namespace this watcher lists ("" = all): a re-list replaces only that part of the store.
  std::string scope;
};

// One change handed to event handlers, after it was applied to the store.
struct Notification {
  enum class Type { Added, Updated, Deleted };
  Type type = Type::Added;
  ObjectPtr oldObj;  // Updated, Deleted
  ObjectPtr newObj;  // Added, Updated
  // From a LIST (initial sync or re-list) rather than a watch event: queues give these a lower
  // priority so a large initial sync does not starve fresh events.
  bool fromList = false;
};

struct WatcherAction {
  enum class Kind {
    Continue,  // keep streaming the current watch
    List,      // fetch a page with `list`
    Watch,     // (re)open a watch with `watch`; any current stream is abandoned first
    Wait,      // back off for `delay`, then call onTimer()
  };
  Kind kind = Kind::Continue;
  ListOptions list;
  WatchOptions watch;
  Duration delay{0};
};

struct WatcherStep {
  std::vector<Notification> notifications;
  WatcherAction next;
  // A full list is in the store: once `notifications` are delivered, markSynced() (so a cache
  // reported synced has also been seen by every handler: the hub's route table, the queues).
  bool listed = false;
};

class WatcherMachine {
 public:
  enum class Phase { Idle, Listing, Watching, BackingOff };

  WatcherMachine(Store& store, Clock& clock, Random& random, WatcherOptions options = {});

  WatcherStep start();
  WatcherStep onListPage(const Result<ListResult>& page);
  WatcherStep onEvent(const WatchEvent& event);
  // The current stream ended: ok = normal close (server timeout), else a failure.
  WatcherStep onStreamEnd(const Status& status);
  // The backoff delay from a Wait action elapsed.
  WatcherStep onTimer();
  // Periodic check while watching: a silent stream is abandoned and re-opened.
  WatcherStep onTick();
  // When onTick() should next be called (while watching).
  TimePoint silenceDeadline() const { return lastActivity_ + options_.silenceTimeout; }

  Phase phase() const { return phase_; }
  // Marks this watcher's scope of the store synced (after a step with `listed` was delivered).
  void markSynced();
  const std::string& lastResourceVersion() const { return lastRv_; }
  // Full LISTs started after the first one (410s, list failures).
  int relists() const { return listsStarted_ > 0 ? listsStarted_ - 1 : 0; }
  int failures() const { return failures_; }

 private:
  WatcherAction listAction() const;
  WatcherAction watchAction();
  WatcherStep beginList();
  WatcherStep fail(const std::string& what, const Error& err);
  void touch() { lastActivity_ = clock_.now(); }

  Store& store_;
  Clock& clock_;
  Random& random_;
  WatcherOptions options_;
  Backoff backoff_;
  Phase phase_ = Phase::Idle;
  bool relistAfterWait_ = true;
  std::string lastRv_;
  std::string continueToken_;
  std::vector<ObjectPtr> pending_;  // pages collected so far
  TimePoint lastActivity_{};
  TimePoint lastFailure_{};
  bool everFailed_ = false;
  int listsStarted_ = 0;
  TimePoint watchOpenedAt_{};
  int eventsThisWatch_ = 0;
  int failures_ = 0;
};

using NotificationHandler = std::function<void(const Notification&)>;

// Runs a WatcherMachine over a KubeClient. Handlers run on the watcher's threads (the list
// thread or the watch's I/O thread), serialised, after the store was updated; they must be quick
// (enqueue keys) and must not call stop().
class Watcher {
 public:
  Watcher(KubeClient& client, ResourceRef resource, std::string ns, Store& store, Clock& clock,
          Random& random, WatcherOptions options = {});
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void addHandler(NotificationHandler handler);
  void start();
  void stop();
  // Counters for tests and logs.
  int relists() const;
  int watchesOpened() const { return watchesOpened_.load(); }

 private:
  void run();
  void deliver(const WatcherStep& step);
  void openWatch(const WatchOptions& opts, std::unique_lock<std::mutex>& lk);
  void closeWatch(std::unique_lock<std::mutex>& lk);

  KubeClient& client_;
  ResourceRef resource_;
  std::string ns_;
  Clock& clock_;
  WatcherMachine machine_;
  std::vector<NotificationHandler> handlers_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool pending_ = false;  // an action from a watch callback is waiting for the driver
  WatcherAction pendingAction_;
  uint64_t generation_ = 0;  // callbacks of abandoned streams are ignored
  std::unique_ptr<WatchHandle> handle_;
  std::atomic<int> watchesOpened_{0};
  std::thread thread_;
};

}  // namespace waha::kube
