#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <string>

#include "kube/event_recorder.h"
#include "support/fake_kube_client.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;

namespace {

const ResourceRef kEvents{"", "v1", "events", true};

ObjectReference session(const std::string& name = "s1") {
  return ObjectReference::fromObject({{"apiVersion", "waha.io/v1alpha1"},
                                      {"kind", "WahaSession"},
                                      {"metadata",
                                       {{"name", name},
                                        {"namespace", "team"},
                                        {"uid", "uid-" + name},
                                        {"resourceVersion", "5"}}}});
}

// Forwards to the fake, but holds every create until released: an API server that hangs.
class StallingClient final : public KubeClient {
 public:
  explicit StallingClient(test::FakeKubeClient& fake) : fake_(fake) {}
  void release() {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::atomic<int> waiting{0};

  Result<Json> create(const ResourceRef& r, const std::string& ns, const Json& obj) override {
    std::unique_lock<std::mutex> lk(mu_);
    ++waiting;
    cv_.wait(lk, [this] { return open_; });
    --waiting;
    lk.unlock();
    return fake_.create(r, ns, obj);
  }
  Result<Json> get(const ResourceRef& r, const std::string& ns, const std::string& n,
                   const std::string& s) override {
    return fake_.get(r, ns, n, s);
  }
  Result<ListResult> list(const ResourceRef& r, const std::string& ns,
                          const ListOptions& o) override {
    return fake_.list(r, ns, o);
  }
  Result<Json> update(const ResourceRef& r, const std::string& ns, const Json& obj,
                      const std::string& s) override {
    return fake_.update(r, ns, obj, s);
  }
  Result<Json> patch(const ResourceRef& r, const std::string& ns, const std::string& n, PatchType t,
                     const std::string& b, const PatchOptions& o, const std::string& s) override {
    return fake_.patch(r, ns, n, t, b, o, s);
  }
  Status remove(const ResourceRef& r, const std::string& ns, const std::string& n,
                const DeleteOptions& o) override {
    return fake_.remove(r, ns, n, o);
  }
  std::unique_ptr<WatchHandle> watch(const ResourceRef& r, const std::string& ns,
                                     const WatchOptions& o, WatchCallback e, WatchDone d) override {
    return fake_.watch(r, ns, o, std::move(e), std::move(d));
  }

 private:
  test::FakeKubeClient& fake_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace

TEST_CASE("An event is created in the object's namespace with its reference and source") {
  test::FakeKubeClient api;
  ManualClock clock;
  EventRecorderOptions opts;
  opts.host = "pod-1";
  EventRecorder rec(api, clock, opts);
  rec.record(session(), EventType::Warning, "WorkerUnreachable", "worker w-3 did not answer");
  REQUIRE(test::waitFor([&] { return rec.written() == 1; }));
  auto events = api.objects(kEvents, "team");
  REQUIRE(events.size() == 1);
  const Json& ev = events[0];
  REQUIRE(ev["type"] == "Warning");
  REQUIRE(ev["reason"] == "WorkerUnreachable");
  REQUIRE(ev["message"] == "worker w-3 did not answer");
  REQUIRE(ev["count"] == 1);
  REQUIRE(ev["involvedObject"]["kind"] == "WahaSession");
  REQUIRE(ev["involvedObject"]["uid"] == "uid-s1");
  REQUIRE(ev["involvedObject"]["namespace"] == "team");
  REQUIRE(ev["source"]["component"] == "waha-operator");
  REQUIRE(ev["source"]["host"] == "pod-1");
  REQUIRE(ev["metadata"]["name"].get<std::string>().rfind("s1.", 0) == 0);
  REQUIRE(ev["firstTimestamp"] == ev["lastTimestamp"]);
}

TEST_CASE("Repeats of the same event aggregate into one Event with a growing count") {
  test::FakeKubeClient api;
  ManualClock clock;
  EventRecorder rec(api, clock);
  rec.record(session(), EventType::Normal, "Assigned", "to worker w-1");
  REQUIRE(test::waitFor([&] { return rec.written() == 1; }));
  for (int i = 0; i < 3; ++i) {
    clock.advance(std::chrono::seconds(30));
    rec.record(session(), EventType::Normal, "Assigned", "to worker w-1");
  }
  REQUIRE(test::waitFor([&] { return rec.written() == 4; }));
  auto events = api.objects(kEvents, "team");
  REQUIRE(events.size() == 1);
  REQUIRE(events[0]["count"] == 4);
  WallTime first, last;
  REQUIRE(parseRfc3339(events[0]["firstTimestamp"], first));
  REQUIRE(parseRfc3339(events[0]["lastTimestamp"], last));
  REQUIRE(last - first == std::chrono::seconds(90));
  REQUIRE(api.callCount("patch") == 3);

  // A different message, object or type is a different Event.
  rec.record(session(), EventType::Normal, "Assigned", "to worker w-2");
  rec.record(session("s2"), EventType::Normal, "Assigned", "to worker w-1");
  rec.record(session(), EventType::Warning, "Assigned", "to worker w-1");
  REQUIRE(test::waitFor([&] { return rec.written() == 7; }));
  REQUIRE(api.objects(kEvents, "team").size() == 4);
}

TEST_CASE("An aggregated Event that expired is created again with the running count") {
  test::FakeKubeClient api;
  ManualClock clock;
  EventRecorder rec(api, clock);
  rec.record(session(), EventType::Normal, "Moved", "m");
  REQUIRE(test::waitFor([&] { return rec.written() == 1; }));
  auto first = api.objects(kEvents, "team").at(0);
  REQUIRE(api.erase(kEvents, "team", first["metadata"]["name"]));
  rec.record(session(), EventType::Normal, "Moved", "m");
  REQUIRE(test::waitFor([&] { return rec.written() == 2; }));
  auto events = api.objects(kEvents, "team");
  REQUIRE(events.size() == 1);
  REQUIRE(events[0]["count"] == 2);
  REQUIRE(events[0]["firstTimestamp"] == first["firstTimestamp"]);
}

TEST_CASE("Cluster-scoped objects get their events in the default namespace") {
  test::FakeKubeClient api;
  ManualClock clock;
  EventRecorder rec(api, clock);
  ObjectReference node{"v1", "Node", "", "node-a", "u1", "", ""};
  rec.record(node, EventType::Normal, "Seen", "x");
  REQUIRE(test::waitFor([&] { return rec.written() == 1; }));
  REQUIRE(api.objects(kEvents, "default").size() == 1);
}

TEST_CASE("record() never waits for a hanging API server; overflow is dropped and counted") {
  test::FakeKubeClient api;
  StallingClient stalling(api);
  ManualClock clock;
  std::atomic<int> dropHook{0};
  EventRecorderOptions opts;
  opts.queueSize = 5;
  opts.onDropped = [&] { ++dropHook; };
  EventRecorder rec(stalling, clock, opts);
  rec.record(session("s0"), EventType::Normal, "R", "m");
  REQUIRE(test::waitFor([&] { return stalling.waiting.load() == 1; }));  // writer is stuck
  for (int i = 1; i <= 20; ++i) {
    rec.record(session("s" + std::to_string(i)), EventType::Normal, "R", "m");
  }
  // One in flight, five queued, the rest dropped, and every record() call returned.
  REQUIRE(rec.dropped() == 15);
  REQUIRE(dropHook == 15);
  stalling.release();
  rec.stop();  // drains the queue before returning
  REQUIRE(rec.written() == 6);
  REQUIRE(api.objects(kEvents, "team").size() == 6);
  rec.record(session(), EventType::Normal, "R", "after stop");
  REQUIRE(rec.dropped() == 16);
}

TEST_CASE("A failing API server loses the event but not the recorder") {
  test::FakeKubeClient api;
  ManualClock clock;
  EventRecorder rec(api, clock);
  api.failNext("create", Error::make(500, "InternalError", "etcd down", true));
  rec.record(session(), EventType::Normal, "A", "m");
  rec.record(session(), EventType::Normal, "B", "m");
  REQUIRE(test::waitFor([&] { return rec.written() == 1; }));
  auto events = api.objects(kEvents, "team");
  REQUIRE(events.size() == 1);
  REQUIRE(events[0]["reason"] == "B");
}
