#include <catch2/catch.hpp>

#include "kube/informer.h"
#include "support/fake_kube_client.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;

namespace {

const ResourceRef kSessions{"waha.io", "v1alpha1", "wahasessions", true};

Json session(const std::string& name, const std::string& worker, const std::string& owner = "") {
  Json o = {{"metadata", {{"namespace", "ns"}, {"name", name}}}, {"status", {{"worker", worker}}}};
  if (!owner.empty()) {
    o["metadata"]["ownerReferences"] = Json::array(
        {{{"apiVersion", "waha.io/v1alpha1"}, {"kind", "WahaCluster"}, {"name", owner}}});
  }
  return o;
}

std::vector<std::string> drain(WorkQueue& q) {
  std::vector<std::string> out;
  while (auto k = q.tryGet()) {
    out.push_back(*k);
    q.done(*k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> byWorker(const Json& o) {
  auto w = o.value("/status/worker"_json_pointer, std::string());
  return w.empty() ? std::vector<std::string>{} : std::vector<std::string>{w};
}

}  // namespace

TEST_CASE("ownerKeys maps ownerReferences to keys in the object's namespace") {
  Json o = session("s", "w", "c1");
  o["metadata"]["ownerReferences"].push_back({{"kind", "Other"}, {"name", "x"}});
  CHECK(ownerKeys(o, "WahaCluster") == std::vector<std::string>{"ns/c1"});
  CHECK(ownerKeys(o) == std::vector<std::string>{"ns/c1", "ns/x"});
  CHECK(ownerKeys(Json::object()).empty());
}

TEST_CASE("an informer syncs, indexes, and enqueues own and owner keys") {
  test::FakeKubeClient client;
  client.put(kSessions, session("s1", "w-0", "c1"));
  client.put(kSessions, session("s2", "w-1", "c1"));
  ManualClock clock;
  StdRandom random(7);
  Informer inf(client, kSessions, "", clock, random);
  WorkQueue sessions(clock);
  WorkQueue clusters(clock);
  inf.addIndex("byWorker", byWorker);
  inf.enqueueTo(sessions);
  inf.enqueueMappedTo(clusters, [](const Json& o) { return ownerKeys(o, "WahaCluster"); });
  inf.start();
  REQUIRE(inf.waitForSync(10s));
  CHECK(inf.store().size() == 2);
  CHECK(inf.store().byIndex("byWorker", "w-1").size() == 1);
  CHECK(drain(sessions) == std::vector<std::string>{"ns/s1", "ns/s2"});
  CHECK(drain(clusters) == std::vector<std::string>{"ns/c1"});

  // A session moving from w-1 to w-0: the index follows, its key and its owner's are enqueued.
  client.put(kSessions, session("s2", "w-0", "c1"));
  REQUIRE(test::waitFor([&] { return inf.store().byIndex("byWorker", "w-0").size() == 2; }));
  CHECK(inf.store().byIndex("byWorker", "w-1").empty());
  REQUIRE(test::waitFor([&] { return sessions.len() == 1 && clusters.len() == 1; }));
  CHECK(drain(sessions) == std::vector<std::string>{"ns/s2"});
  CHECK(drain(clusters) == std::vector<std::string>{"ns/c1"});

  client.erase(kSessions, "ns", "s1");
  REQUIRE(test::waitFor([&] { return sessions.len() == 1; }));
  CHECK(drain(sessions) == std::vector<std::string>{"ns/s1"});
  CHECK(inf.store().get("ns/s1") == nullptr);
  inf.stop();
}

TEST_CASE("initial-list keys go to the Initial lane, watch events to Fresh") {
  test::FakeKubeClient client;
  for (int i = 0; i < 10; ++i) {
    client.put(kSessions, session("old" + std::to_string(i), "w"));
  }
  ManualClock clock;
  StdRandom random(1);
  Informer inf(client, kSessions, "ns", clock, random);
  WorkQueue q(clock);
  inf.enqueueTo(q);
  inf.start();
  REQUIRE(inf.waitForSync(10s));
  REQUIRE(test::waitFor([&] { return client.openWatches() == 1; }));
  client.put(kSessions, session("fresh", "w"));
  REQUIRE(test::waitFor([&] { return q.len() == 11; }));
  auto first = q.tryGet();
  CHECK(first == "ns/fresh");
  inf.stop();
}

TEST_CASE("custom handlers see adds, updates with the old object, and deletes") {
  test::FakeKubeClient client;
  ManualClock clock;
  StdRandom random(2);
  Informer inf(client, kSessions, "", clock, random);
  std::mutex mu;
  std::vector<std::string> log;
  EventHandler h;
  h.onAdd = [&](const ObjectPtr& o, bool) {
    std::lock_guard lk(mu);
    log.push_back("add " + objectKey(*o));
  };
  h.onUpdate = [&](const ObjectPtr& o, const ObjectPtr& n, bool) {
    std::lock_guard lk(mu);
    log.push_back("update " + o->value("/status/worker"_json_pointer, std::string()) + "->" +
                  n->value("/status/worker"_json_pointer, std::string()));
  };
  h.onDelete = [&](const ObjectPtr& o, bool) {
    std::lock_guard lk(mu);
    log.push_back("delete " + objectKey(*o));
  };
  inf.addHandler(h);
  inf.start();
  REQUIRE(inf.waitForSync(10s));
  REQUIRE(test::waitFor([&] { return client.openWatches() == 1; }));
  client.put(kSessions, session("a", "w-0"));
  client.put(kSessions, session("a", "w-1"));
  client.erase(kSessions, "ns", "a");
  REQUIRE(test::waitFor([&] {
    std::lock_guard lk(mu);
    return log.size() == 3;
  }));
  CHECK(log == std::vector<std::string>{"add ns/a", "update w-0->w-1", "delete ns/a"});
  inf.stop();
}
