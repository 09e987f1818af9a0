#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "kube/work_queue.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> drain(WorkQueue& q) {
  std::vector<std::string> out;
  while (auto k = q.tryGet()) {
    out.push_back(*k);
    q.done(*k);
  }
  return out;
}

struct CountingMetrics : QueueMetrics {
  std::atomic<int> adds{0}, retries{0}, latencies{0}, works{0};
  std::atomic<std::size_t> lastDepth{99};
  double lastTotal = -1, lastLongest = -1;
  void added() override { ++adds; }
  void depth(std::size_t n) override { lastDepth = n; }
  void retried() override { ++retries; }
  void queueLatency(double) override { ++latencies; }
  void workDuration(double) override { ++works; }
  void unfinished(double total, double longest) override {
    lastTotal = total;
    lastLongest = longest;
  }
};

}  // namespace

TEST_CASE("a key waiting in the queue is there once") {
  ManualClock clock;
  WorkQueue q(clock);
  q.add("ns/a");
  q.add("ns/b");
  q.add("ns/a");
  CHECK(q.len() == 2);
  CHECK(drain(q) == std::vector<std::string>{"ns/a", "ns/b"});
  CHECK(q.len() == 0);
}

TEST_CASE("a key in progress is not handed out again; a change meanwhile re-queues it once") {
  ManualClock clock;
  WorkQueue q(clock);
  q.add("k");
  auto k = q.tryGet();
  REQUIRE(k == "k");
  q.add("k");
  q.add("k");
  CHECK(q.len() == 0);
  CHECK_FALSE(q.tryGet().has_value());
  q.done("k");
  CHECK(q.len() == 1);
  CHECK(q.tryGet() == "k");
  q.done("k");
  CHECK_FALSE(q.tryGet().has_value());
}

TEST_CASE("addAfter releases keys in due order, and the earliest request wins") {
  ManualClock clock;
  WorkQueue q(clock);
  q.addAfter("c", 3s);
  q.addAfter("a", 1s);
  q.addAfter("b", 2s);
  q.addAfter("a", 10s);  // later than the pending one: ignored
  q.addAfter("x", 10s);
  q.addAfter("x", 500ms);  // earlier: replaces
  CHECK(q.delayed() == 4);
  CHECK_FALSE(q.tryGet().has_value());
  clock.advance(500ms);
  CHECK(drain(q) == std::vector<std::string>{"x"});
  clock.advance(500ms);
  CHECK(drain(q) == std::vector<std::string>{"a"});
  clock.advance(1s);
  CHECK(drain(q) == std::vector<std::string>{"b"});
  clock.advance(1s);
  CHECK(drain(q) == std::vector<std::string>{"c"});
  clock.advance(20s);
  CHECK(drain(q).empty());
  CHECK(q.delayed() == 0);
}

TEST_CASE("per-key backoff doubles from 5 ms up to 1000 s; forget resets it") {
  ManualClock clock;
  WorkQueue q(clock);
  std::vector<Duration> got;
  for (int i = 0; i < 20; ++i) {
    got.push_back(q.addRateLimited("k"));
  }
  CHECK(got[0] == 5ms);
  CHECK(got[1] == 10ms);
  CHECK(got[2] == 20ms);
  CHECK(got[10] == 5ms * 1024);
  CHECK(got[17] == 5ms * (1 << 17));
  CHECK(got[18] == 1000s);
  CHECK(got[19] == 1000s);
  CHECK(q.numRequeues("k") == 20);
  q.forget("k");
  CHECK(q.numRequeues("k") == 0);
  CHECK(q.addRateLimited("k") == 5ms);
  // Other keys have their own backoff.
  CHECK(q.addRateLimited("other") == 5ms);
}

TEST_CASE("the overall token bucket (10 qps, burst 100) limits retries across keys") {
  ManualClock clock;
  WorkQueue q(clock);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(q.addRateLimited("k" + std::to_string(i)) == 5ms);
  }
  CHECK(q.addRateLimited("k100") == 100ms);
  CHECK(q.addRateLimited("k101") == 200ms);
  clock.advance(10s);  // the bucket refills (100 tokens at 10/s), minus the two borrowed
  CHECK(q.addRateLimited("k102") == 5ms);
}

TEST_CASE("fresh events go first, but initial-list keys still get every 4th pick") {
  ManualClock clock;
  WorkQueue q(clock);
  for (int i = 0; i < 6; ++i) {
    q.add("init" + std::to_string(i), Lane::Initial);
  }
  for (int i = 0; i < 5; ++i) {
    q.add("fresh" + std::to_string(i));
  }
  auto order = drain(q);
  CHECK(order == std::vector<std::string>{"fresh0", "fresh1", "fresh2", "init0", "fresh3", "fresh4",
                                          "init1", "init2", "init3", "init4", "init5"});
}

TEST_CASE("a key waiting in the initial lane moves to the fresh lane on a fresh add") {
  ManualClock clock;
  WorkQueue q(clock);
  q.add("a", Lane::Initial);
  q.add("b", Lane::Initial);
  q.add("b");
  CHECK(q.len() == 2);
  CHECK(drain(q) == std::vector<std::string>{"b", "a"});
}

TEST_CASE("a blocked get wakes for a delayed key and for shutdown") {
  ManualClock clock;
  WorkQueue q(clock);
  std::optional<std::string> got;
  std::atomic<bool> returned{false};
  std::thread t([&] {
    got = q.get();
    returned = true;
  });
  q.addAfter("later", 30s);
  clock.advance(29s);
  CHECK_FALSE(test::waitFor([&] { return returned.load(); }, 50ms));
  clock.advance(1s);
  REQUIRE(test::waitFor([&] { return returned.load(); }));
  t.join();
  CHECK(got == "later");
  q.done("later");

  std::atomic<bool> ended{false};
  std::thread t2([&] { ended = !q.get().has_value(); });
  q.shutDown();
  t2.join();
  CHECK(ended);
  q.add("ignored");
  CHECK(q.len() == 0);
}

TEST_CASE("metrics hooks see adds, depth, retries, latencies and work in progress") {
  ManualClock clock;
  CountingMetrics m;
  WorkQueue q(clock, {}, &m);
  CHECK(m.lastDepth == 0);
  q.add("a");
  q.add("a");
  q.add("b");
  CHECK(m.adds == 2);
  CHECK(m.lastDepth == 2);
  auto k = q.tryGet();
  clock.advance(3s);
  q.reportUnfinished();
  CHECK(m.lastTotal == Approx(3.0));
  CHECK(m.lastLongest == Approx(3.0));
  q.done(*k);
  CHECK(m.works == 1);
  CHECK(m.latencies == 1);
  q.addRateLimited("c");
  CHECK(m.retries == 1);
  CHECK(m.lastDepth == 1);
}

TEST_CASE(
    "with real threads a key is never processed by two workers at once, and no change is lost") {
  WorkQueue q(SteadyClock::instance());
  constexpr int kKeys = 8;
  std::mutex mu;
  std::map<std::string, int> inFlight;
  std::map<std::string, long> written, seenAtStart;  // version added vs version seen by a worker
  std::atomic<int> overlaps{0}, processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        {
          std::lock_guard lk(mu);
          if (++inFlight[*key] > 1) {
            ++overlaps;
          }
          seenAtStart[*key] = written[*key];
        }
        std::this_thread::yield();
        {
          std::lock_guard lk(mu);
          --inFlight[*key];
        }
        ++processed;
        q.done(*key);
      }
    });
  }
  for (int i = 0; i < 20000; ++i) {
    std::string key = "ns/k" + std::to_string(i % kKeys);
    {
      std::lock_guard lk(mu);
      ++written[key];
    }
    q.add(key);
  }
  // Level-triggered: every key's last write is seen by a reconcile that starts after it.
  bool caughtUp = test::waitFor([&] {
    std::lock_guard lk(mu);
    return q.len() == 0 && seenAtStart == written &&
           std::all_of(inFlight.begin(), inFlight.end(), [](auto& p) { return p.second == 0; });
  });
  q.shutDown();
  for (auto& t : workers) {
    t.join();
  }
  CHECK(caughtUp);
  CHECK(overlaps == 0);
  CHECK(processed >= kKeys);
}
