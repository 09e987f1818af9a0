#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "kube/watcher.h"
#include "support/fake_kube_client.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;
using Kind = WatcherAction::Kind;
using NT = Notification::Type;

namespace {

Json pod(const std::string& name, int rv, const std::string& ns = "ns") {
  return {
      {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", std::to_string(rv)}}}};
}

ListResult page(int from, int count, const std::string& rv, const std::string& cont) {
  ListResult p;
  for (int i = from; i < from + count; ++i) {
    p.items.push_back(pod("p" + std::to_string(i), 10));
  }
  p.resourceVersion = rv;
  p.continueToken = cont;
  return p;
}

WatchEvent ev(WatchEvent::Type t, Json o) { return WatchEvent{t, std::move(o)}; }

WatchEvent gone() {
  return ev(WatchEvent::Type::Error,
            {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}, {"message", "too old"}});
}

struct Fixture {
  Store store;
  ManualClock clock;
  FixedRandom random{0.0};
  WatcherMachine m{store, clock, random};

  // Initial sync of `names` at list RV `rv`; returns the watch action.
  WatcherAction sync(const std::vector<std::string>& names, const std::string& rv) {
    m.start();
    ListResult p;
    for (const auto& n : names) {
      p.items.push_back(pod(n, 5));
    }
    p.resourceVersion = rv;
    return m.onListPage(p).next;
  }
};

}  // namespace

TEST_CASE("initial list is paged by 500, then a watch opens from the list RV") {
  Fixture f;
  FixedRandom half(0.5);
  WatcherMachine m(f.store, f.clock, half);
  auto s = m.start();
  REQUIRE(s.next.kind == Kind::List);
  CHECK(s.next.list.limit == 500);
  CHECK(s.next.list.continueToken.empty());
  s = m.onListPage(page(0, 500, "900", "c1"));
  REQUIRE(s.next.kind == Kind::List);
  CHECK(s.next.list.continueToken == "c1");
  CHECK(s.notifications.empty());
  CHECK_FALSE(f.store.hasSynced());
  s = m.onListPage(page(500, 500, "900", "c2"));
  CHECK(s.next.list.continueToken == "c2");
  s = m.onListPage(page(1000, 203, "900", ""));
  REQUIRE(s.next.kind == Kind::Watch);
  CHECK(s.next.watch.resourceVersion == "900");
  CHECK(s.next.watch.allowBookmarks);
  CHECK(s.next.watch.timeoutSeconds == 450);  // 300 + 0.5 * 300
  CHECK(s.notifications.size() == 1203);
  CHECK(std::all_of(s.notifications.begin(), s.notifications.end(),
                    [](const Notification& n) { return n.type == NT::Added && n.fromList; }));
  CHECK(f.store.size() == 1203);
  CHECK(s.listed);
  CHECK_FALSE(f.store.hasSynced());  // not before the driver delivered the notifications
  m.markSynced();
  CHECK(f.store.hasSynced());
  CHECK(m.phase() == WatcherMachine::Phase::Watching);
}

TEST_CASE("watch timeouts are spread over [300, 600) seconds") {
  Fixture f;
  FixedRandom high(0.999);
  WatcherMachine m(f.store, f.clock, high);
  m.start();
  auto s = m.onListPage(page(0, 1, "7", ""));
  CHECK(s.next.watch.timeoutSeconds == 599);
  CHECK(f.sync({}, "1").watch.timeoutSeconds == 300);
}

TEST_CASE("watch events update the store and produce add/update/delete notifications") {
  Fixture f;
  f.sync({"a", "b"}, "20");
  auto s = f.m.onEvent(ev(WatchEvent::Type::Added, pod("c", 21)));
  REQUIRE(s.notifications.size() == 1);
  CHECK(s.notifications[0].type == NT::Added);
  CHECK_FALSE(s.notifications[0].fromList);
  s = f.m.onEvent(ev(WatchEvent::Type::Modified, pod("a", 22)));
  REQUIRE(s.notifications.size() == 1);
  CHECK(s.notifications[0].type == NT::Updated);
  CHECK(resourceVersionOf(*s.notifications[0].oldObj) == "5");
  CHECK(resourceVersionOf(*s.notifications[0].newObj) == "22");
  s = f.m.onEvent(ev(WatchEvent::Type::Deleted, pod("b", 23)));
  REQUIRE(s.notifications.size() == 1);
  CHECK(s.notifications[0].type == NT::Deleted);
  CHECK(s.next.kind == Kind::Continue);
  CHECK(f.store.keys() == std::vector<std::string>{"ns/a", "ns/c"});
  CHECK(f.m.lastResourceVersion() == "23");
  // A delete of something never seen changes nothing and notifies nobody.
  CHECK(f.m.onEvent(ev(WatchEvent::Type::Deleted, pod("zz", 24))).notifications.empty());
}

TEST_CASE("bookmarks advance the RV the next watch starts from") {
  Fixture f;
  f.sync({"a"}, "20");
  auto s = f.m.onEvent(ev(WatchEvent::Type::Bookmark, {{"metadata", {{"resourceVersion", "95"}}}}));
  CHECK(s.notifications.empty());
  CHECK(f.m.lastResourceVersion() == "95");
  f.clock.advance(5min);
  s = f.m.onStreamEnd(Status{});  // the server's timeoutSeconds: re-watch at once, no relist
  REQUIRE(s.next.kind == Kind::Watch);
  CHECK(s.next.watch.resourceVersion == "95");
  CHECK(f.m.relists() == 0);
}

TEST_CASE("410 Gone re-lists and reports objects deleted in between as deletes") {
  Fixture f;
  f.sync({"a", "b", "c"}, "20");
  f.m.onEvent(ev(WatchEvent::Type::Modified, pod("c", 30)));
  auto s = f.m.onEvent(gone());
  REQUIRE(s.next.kind == Kind::List);
  CHECK(s.next.list.continueToken.empty());
  // Meanwhile: b deleted, a modified, d created, c unchanged.
  ListResult fresh;
  fresh.items = {pod("a", 40), pod("c", 30), pod("d", 41)};
  fresh.resourceVersion = "45";
  s = f.m.onListPage(fresh);
  std::map<std::string, NT> got;
  for (const auto& n : s.notifications) {
    CHECK(n.fromList);
    got[objectKey(n.newObj ? *n.newObj : *n.oldObj)] = n.type;
  }
  CHECK(got == std::map<std::string, NT>{
                   {"ns/a", NT::Updated}, {"ns/b", NT::Deleted}, {"ns/d", NT::Added}});
  CHECK(f.store.keys() == std::vector<std::string>{"ns/a", "ns/c", "ns/d"});
  REQUIRE(s.next.kind == Kind::Watch);
  CHECK(s.next.watch.resourceVersion == "45");
  CHECK(f.m.relists() == 1);
}

TEST_CASE("an HTTP 410 ending the stream re-lists too") {
  Fixture f;
  f.sync({"a"}, "20");
  auto s = f.m.onStreamEnd(Status(Error::make(410, "Gone", "expired")));
  CHECK(s.next.kind == Kind::List);
  CHECK(f.m.relists() == 1);
}

TEST_CASE("a dropped stream backs off, then re-watches from the last RV without re-listing") {
  Fixture f;
  f.sync({"a"}, "20");
  f.m.onEvent(ev(WatchEvent::Type::Added, pod("b", 21)));
  auto s = f.m.onStreamEnd(Status(Error::make(0, "Transport", "connection reset", true)));
  REQUIRE(s.next.kind == Kind::Wait);
  CHECK(s.next.delay == 800ms);
  // Events of the abandoned stream no longer count.
  CHECK(f.m.onEvent(ev(WatchEvent::Type::Added, pod("x", 22))).notifications.empty());
  s = f.m.onTimer();
  REQUIRE(s.next.kind == Kind::Watch);
  CHECK(s.next.watch.resourceVersion == "21");
  CHECK(f.m.relists() == 0);
  CHECK(f.store.size() == 2);
}

TEST_CASE("a non-410 ERROR event is a failure: back off and re-watch") {
  Fixture f;
  f.sync({"a"}, "20");
  auto s = f.m.onEvent(ev(WatchEvent::Type::Error, {{"code", 500}, {"message", "boom"}}));
  REQUIRE(s.next.kind == Kind::Wait);
  CHECK(f.m.onTimer().next.kind == Kind::Watch);
}

TEST_CASE("a watch closed at once without events counts as a failure") {
  Fixture f;
  f.sync({"a"}, "20");
  CHECK(f.m.onStreamEnd(Status{}).next.kind == Kind::Wait);
}

TEST_CASE("a silent stream is declared dead after the silence timeout") {
  Fixture f;
  f.sync({"a"}, "20");
  f.clock.advance(60s);
  CHECK(f.m.onTick().next.kind == Kind::Continue);
  f.m.onEvent(ev(WatchEvent::Type::Bookmark, {{"metadata", {{"resourceVersion", "25"}}}}));
  f.clock.advance(60s);  // 120 s since the watch opened, 60 s since the bookmark
  CHECK(f.m.onTick().next.kind == Kind::Continue);
  f.clock.advance(11s);
  auto s = f.m.onTick();
  REQUIRE(s.next.kind == Kind::Wait);
  s = f.m.onTimer();
  REQUIRE(s.next.kind == Kind::Watch);
  CHECK(s.next.watch.resourceVersion == "25");
}

TEST_CASE("a failed list backs off and starts the list over") {
  Fixture f;
  f.m.start();
  f.m.onListPage(page(0, 500, "9", "c1"));
  auto s = f.m.onListPage(Error::make(503, "ServiceUnavailable", "busy", true));
  REQUIRE(s.next.kind == Kind::Wait);
  s = f.m.onTimer();
  REQUIRE(s.next.kind == Kind::List);
  CHECK(s.next.list.continueToken.empty());
  s = f.m.onListPage(page(0, 3, "9", ""));
  CHECK(f.store.size() == 3);
  CHECK(s.notifications.size() == 3);
}

TEST_CASE("backoff grows 0.8 s -> 30 s and resets after 2 minutes healthy") {
  Fixture f;
  f.sync({"a"}, "20");
  std::vector<Duration> delays;
  auto dropOnce = [&] {
    auto s = f.m.onStreamEnd(Status(Error::make(0, "Transport", "reset", true)));
    REQUIRE(s.next.kind == Kind::Wait);
    delays.push_back(s.next.delay);
    f.clock.advance(s.next.delay);
    REQUIRE(f.m.onTimer().next.kind == Kind::Watch);
  };
  for (int i = 0; i < 8; ++i) {
    dropOnce();
  }
  std::vector<Duration> want = {800ms, 1600ms, 3200ms, 6400ms, 12800ms, 25600ms, 30s, 30s};
  CHECK(delays == want);
  f.clock.advance(2min);
  dropOnce();
  CHECK(delays.back() == 800ms);
}

TEST_CASE("jitter stretches the backoff but never beyond the cap") {
  Fixture f;
  FixedRandom full(0.999);
  WatcherMachine m(f.store, f.clock, full);
  m.start();
  auto s = m.onListPage(Error::make(500, "x", "y"));
  CHECK(s.next.delay > 1500ms);
  CHECK(s.next.delay < 1600ms);
  for (int i = 0; i < 10; ++i) {
    m.onTimer();
    s = m.onListPage(Error::make(500, "x", "y"));
    CHECK(s.next.delay <= 30s);
  }
}

// ------------------------------------------------------------------------------------------
// The driver over FakeKubeClient: real threads, ManualClock for the timers.

namespace {

const ResourceRef kPods{"", "v1", "pods", true};

struct Recorder {
  std::mutex mu;
  std::vector<std::pair<NT, std::string>> seen;
  void operator()(const Notification& n) {
    std::lock_guard lk(mu);
    seen.emplace_back(n.type, objectKey(n.newObj ? *n.newObj : *n.oldObj));
  }
  bool has(NT t, const std::string& key) {
    std::lock_guard lk(mu);
    return std::find(seen.begin(), seen.end(), std::make_pair(t, key)) != seen.end();
  }
};

struct Driven {
  test::FakeKubeClient client;
  Store store;
  ManualClock clock;
  FixedRandom random{0.0};
  Recorder rec;
  std::unique_ptr<Watcher> w;
  void start() {
    w = std::make_unique<Watcher>(client, kPods, "", store, clock, random);
    w->addHandler([this](const Notification& n) { rec(n); });
    w->start();
  }
  // Advances the manual clock in steps until `pred` holds (timers fire promptly this way).
  bool advanceUntil(const std::function<bool()>& pred) {
    return test::waitFor([&] {
      if (pred()) {
        return true;
      }
      clock.advance(500ms);
      return false;
    });
  }
};

}  // namespace

TEST_CASE("driver: paged initial sync, live events, re-watch after a normal close") {
  Driven d;
  for (int i = 0; i < 1203; ++i) {
    d.client.put(kPods, pod("p" + std::to_string(i), 0));
  }
  d.start();
  REQUIRE(test::waitFor([&] { return d.store.hasSynced() && d.client.openWatches() == 1; }));
  CHECK(d.store.size() == 1203);
  CHECK(d.client.callCount("list") == 3);
  for (const auto& c : d.client.calls()) {
    if (c.verb == "list") {
      CHECK(c.list.limit == 500);
    }
  }
  d.client.put(kPods, pod("late", 0));
  REQUIRE(test::waitFor([&] { return d.rec.has(NT::Added, "ns/late"); }));
  std::string rv = d.client.resourceVersion();
  d.clock.advance(10s);  // a long-lived watch, so a normal close is not "short"
  d.client.closeWatches();
  REQUIRE(test::waitFor([&] { return d.client.callCount("watch") == 2; }));
  CHECK(d.client.calls().back().watch.resourceVersion == rv);
  CHECK(d.client.callCount("list") == 3);
  d.client.erase(kPods, "ns", "p7");
  REQUIRE(test::waitFor([&] { return d.rec.has(NT::Deleted, "ns/p7"); }));
  d.w->stop();
}

TEST_CASE("driver: forced 410 with deletions while disconnected ends with the server's state") {
  Driven d;
  for (int i = 0; i < 20; ++i) {
    d.client.put(kPods, pod("p" + std::to_string(i), 0));
  }
  d.start();
  REQUIRE(test::waitFor([&] { return d.store.hasSynced() && d.client.openWatches() == 1; }));
  d.client.setSilent(true);  // the next writes never reach the open stream
  d.client.erase(kPods, "ns", "p3");
  d.client.put(kPods, pod("new", 0));
  d.client.compact();
  d.client.setSilent(false);
  d.client.expireWatches();
  REQUIRE(test::waitFor(
      [&] { return d.rec.has(NT::Deleted, "ns/p3") && d.rec.has(NT::Added, "ns/new"); }));
  CHECK(d.w->relists() == 1);
  std::vector<std::string> want;
  for (const auto& o : d.client.objects(kPods)) {
    want.push_back(objectKey(o));
  }
  CHECK(d.store.keys() == want);
  d.w->stop();
}

TEST_CASE("driver: a silent stream is re-opened and catches up from the last RV") {
  Driven d;
  d.client.put(kPods, pod("a", 0));
  d.start();
  REQUIRE(test::waitFor([&] { return d.store.hasSynced() && d.client.openWatches() == 1; }));
  d.client.setSilent(true);
  d.client.put(kPods, pod("b", 0));
  d.client.setSilent(false);  // only new streams get events; the open one stays mute
  REQUIRE(d.advanceUntil([&] { return d.rec.has(NT::Added, "ns/b"); }));
  CHECK(d.client.callCount("watch") >= 2);
  CHECK(d.client.callCount("list") == 1);
  d.w->stop();
}

TEST_CASE("driver: list and watch failures are retried with backoff") {
  Driven d;
  d.client.put(kPods, pod("a", 0));
  d.client.failNext("list", Error::make(503, "ServiceUnavailable", "busy", true), 2);
  d.client.failNext("watch", Error::make(0, "Transport", "refused", true), 2);
  d.start();
  REQUIRE(d.advanceUntil([&] { return d.store.hasSynced() && d.client.openWatches() == 1; }));
  CHECK(d.client.callCount("list") == 3);
  CHECK(d.client.callCount("watch") == 3);
  d.client.put(kPods, pod("b", 0));
  REQUIRE(test::waitFor([&] { return d.rec.has(NT::Added, "ns/b"); }));
  d.w->stop();
}

TEST_CASE("driver: scripted list pages, then a scripted 410 ERROR event re-lists and deletes") {
  Driven d;
  d.client.scriptListPages(kPods, {page(0, 2, "50", "c"), page(2, 1, "50", "")});
  d.start();
  REQUIRE(test::waitFor([&] { return d.store.hasSynced() && d.client.openWatches() == 1; }));
  CHECK(d.store.size() == 3);
  auto calls = d.client.calls();
  REQUIRE(calls.size() >= 3);
  CHECK(calls[1].list.continueToken == "c");
  CHECK(calls[2].watch.resourceVersion == "50");
  d.client.sendEvent(gone());
  // The server really holds nothing: the re-list reports all three as deleted.
  REQUIRE(test::waitFor([&] {
    return d.rec.has(NT::Deleted, "ns/p0") && d.rec.has(NT::Deleted, "ns/p1") &&
           d.rec.has(NT::Deleted, "ns/p2");
  }));
  CHECK(d.store.size() == 0);
  CHECK(d.w->relists() == 1);
  d.w->stop();
}
