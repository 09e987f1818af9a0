#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "kube/leader_election.h"
#include "support/fake_kube_client.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;

namespace {

const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};

// One candidate and a log of its callbacks.
struct Candidate {
  std::mutex mu;
  std::vector<std::string> log;
  std::unique_ptr<LeaderElector> elector;

  Candidate(test::FakeKubeClient& api, Clock& clock, const std::string& id) {
    LeaderElectionConfig cfg;
    cfg.ns = "waha";
    cfg.name = "waha-operator";
    cfg.identity = id;
    LeaderCallbacks cb;
    cb.onStartedLeading = [this] { add("start"); };
    cb.onStoppedLeading = [this] { add("stop"); };
    cb.onNewLeader = [this](const std::string& who) { add("leader=" + who); };
    cb.onState = [this](bool on) { add(on ? "gauge=1" : "gauge=0"); };
    elector = std::make_unique<LeaderElector>(api, clock, cfg, cb);
  }
  void add(const std::string& s) {
    std::lock_guard<std::mutex> lk(mu);
    log.push_back(s);
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> lk(mu);
    auto out = log;
    log.clear();
    return out;
  }
};

Json lease(test::FakeKubeClient& api) {
  auto l = api.get(kLeases, "waha", "waha-operator");
  REQUIRE(l.ok());
  return (*l)["spec"];
}

using Log = std::vector<std::string>;

}  // namespace

TEST_CASE("MicroTime has six fractional digits in UTC") {
  WallTime t = WallTime{} + std::chrono::seconds(1764296476) + std::chrono::microseconds(42);
  REQUIRE(formatMicroTime(t) == "2025-11-28T02:21:16.000042Z");
}

TEST_CASE("The first candidate creates the Lease and renews it, keeping acquireTime") {
  test::FakeKubeClient api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  REQUIRE(a.take() == Log{"gauge=0"});
  a.elector->step();
  REQUIRE(a.elector->isLeader());
  REQUIRE(a.take() == Log{"leader=a", "gauge=1", "start"});
  Json spec = lease(api);
  REQUIRE(spec["holderIdentity"] == "a");
  REQUIRE(spec["leaseDurationSeconds"] == 15);
  REQUIRE(spec["leaseTransitions"] == 0);
  std::string acquired = spec["acquireTime"];
  REQUIRE(acquired.size() == std::string("2006-01-02T15:04:05.000000Z").size());

  clock.advance(2s);
  a.elector->step();
  Json renewed = lease(api);
  REQUIRE(renewed["acquireTime"] == acquired);
  REQUIRE(renewed["renewTime"] != spec["renewTime"]);
  REQUIRE(renewed["leaseTransitions"] == 0);
  REQUIRE(a.take().empty());
}

TEST_CASE("A standby waits while the lease is renewed and takes over once it expires") {
  test::FakeKubeClient api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  Candidate b(api, clock, "b");
  a.elector->step();
  b.elector->step();
  REQUIRE_FALSE(b.elector->isLeader());
  REQUIRE(b.elector->observedLeader() == "a");
  b.take();
  for (int i = 0; i < 10; ++i) {  // 20 s of renewals: b never gets in
    clock.advance(2s);
    a.elector->step();
    b.elector->step();
    REQUIRE_FALSE(b.elector->isLeader());
  }
  // a freezes (no renewals). b takes over only a full lease duration after it last saw a change.
  clock.advance(14s);
  b.elector->step();
  REQUIRE_FALSE(b.elector->isLeader());
  clock.advance(1s);
  b.elector->step();
  REQUIRE(b.elector->isLeader());
  REQUIRE(b.take() == Log{"leader=b", "gauge=1", "start"});
  Json spec = lease(api);
  REQUIRE(spec["holderIdentity"] == "b");
  REQUIRE(spec["leaseTransitions"] == 1);
  // a wakes up, sees b holding a valid lease and stops at once.
  a.take();
  a.elector->step();
  REQUIRE_FALSE(a.elector->isLeader());
  REQUIRE(a.take() == Log{"leader=b", "gauge=0", "stop"});
}

TEST_CASE("A leader whose renewals fail keeps leading until the renew deadline, then stops") {
  test::FakeKubeClient api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  a.elector->step();
  a.take();
  api.failNext("update", Error::make(409, "Conflict", "the object has been modified"), 100);
  for (int i = 0; i < 4; ++i) {
    clock.advance(2s);
    a.elector->step();
    REQUIRE(a.elector->isLeader());
  }
  clock.advance(2s);  // 10 s since the last good renewal
  a.elector->step();
  REQUIRE_FALSE(a.elector->isLeader());
  REQUIRE(a.take() == Log{"gauge=0", "stop"});
}

TEST_CASE("Read errors never make a candidate leader; a create race loses cleanly") {
  test::FakeKubeClient api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  api.failNext("get", Error::make(503, "ServiceUnavailable", "down", true));
  a.elector->step();
  REQUIRE_FALSE(a.elector->isLeader());
  api.failNext("create", Error::make(409, "AlreadyExists", "leases \"waha-operator\" exists"));
  a.elector->step();
  REQUIRE_FALSE(a.elector->isLeader());
  a.elector->step();
  REQUIRE(a.elector->isLeader());
}

TEST_CASE("Stopping releases the lease so a standby takes over without waiting") {
  test::FakeKubeClient api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  Candidate b(api, clock, "b");
  a.elector->step();
  b.elector->step();
  a.take();
  a.elector->stop();
  REQUIRE_FALSE(a.elector->isLeader());
  REQUIRE(a.take() == Log{"gauge=0", "stop"});
  Json spec = lease(api);
  REQUIRE(spec["holderIdentity"] == "");
  REQUIRE(spec["leaseDurationSeconds"] == 1);
  b.elector->step();  // no clock advance needed
  REQUIRE(b.elector->isLeader());
  REQUIRE(lease(api)["leaseTransitions"] == 1);
}

TEST_CASE("The election loop runs on its own thread and hands over when the leader stops") {
  test::FakeKubeClient api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  Candidate b(api, clock, "b");
  a.elector->start();
  REQUIRE(test::waitFor([&] { return a.elector->isLeader(); }));
  b.elector->start();
  REQUIRE(test::waitFor([&] { return b.elector->observedLeader() == "a"; }));
  REQUIRE_FALSE(b.elector->isLeader());
  a.elector->stop();
  // b retries every 2 s of (manual) time; move time until it notices the released lease.
  REQUIRE(test::waitFor([&] {
    clock.advance(500ms);
    return b.elector->isLeader();
  }));
  b.elector->stop();
  REQUIRE(lease(api)["holderIdentity"] == "");
}
