#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>

#include "controller/runner.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::controller;
using namespace std::chrono_literals;

namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("N workers never reconcile one key concurrently, and the last change is always seen") {
  constexpr int kKeys = 6;
  std::mutex mu;
  std::map<std::string, int> inFlight;
  std::map<std::string, long> written, seen;
  std::atomic<int> overlaps{0}, calls{0};
  std::set<std::thread::id> threads;
  metrics::Metrics m;
  Runner r(
      {"test", 4, {}}, SteadyClock::instance(),
      [&](const std::string& key) -> Result<Action> {
        {
          std::lock_guard lk(mu);
          threads.insert(std::this_thread::get_id());
          if (++inFlight[key] > 1) {
            ++overlaps;
          }
          seen[key] = written[key];
        }
        std::this_thread::yield();
        {
          std::lock_guard lk(mu);
          --inFlight[key];
        }
        ++calls;
        return Action::awaitChange();
      },
      &m);
  r.start();
  for (int i = 0; i < 5000; ++i) {
    std::string key = "ns/k" + std::to_string(i % kKeys);
    {
      std::lock_guard lk(mu);
      ++written[key];
    }
    r.queue().add(key);
  }
  bool caughtUp = test::waitFor([&] {
    std::lock_guard lk(mu);
    return seen == written;
  });
  r.stop();
  CHECK(caughtUp);
  CHECK(overlaps == 0);
  CHECK(calls >= kKeys);
  CHECK(threads.size() >= 1);
  std::string text = m.render();
  CHECK(has(text, "controller_runtime_reconcile_total{controller=\"test\",result=\"success\"} " +
                      std::to_string(calls.load())));
  CHECK(has(text, "controller_runtime_active_workers{controller=\"test\"} 0"));
}

TEST_CASE("errors retry with growing backoff; success forgets it") {
  ManualClock clock;
  metrics::Metrics m;
  std::atomic<int> calls{0};
  Runner r(
      {"flaky", 1, {}}, clock,
      [&](const std::string&) -> Result<Action> {
        int n = ++calls;
        if (n <= 3) {
          return Error::make(500, "Boom", "try again", true);
        }
        return Action::awaitChange();
      },
      &m);
  r.start();
  r.queue().add("ns/a");
  REQUIRE(test::waitFor([&] { return calls == 1 && r.queue().delayed() == 1; }));
  CHECK(r.queue().numRequeues("ns/a") == 1);
  clock.advance(5ms);  // first retry after 5 ms
  REQUIRE(test::waitFor([&] { return calls == 2 && r.queue().delayed() == 1; }));
  clock.advance(9ms);  // second after 10 ms: not yet
  CHECK_FALSE(test::waitFor([&] { return calls == 3; }, 50ms));
  clock.advance(1ms);
  REQUIRE(test::waitFor([&] { return calls == 3 && r.queue().delayed() == 1; }));
  clock.advance(20ms);
  REQUIRE(test::waitFor([&] { return calls == 4; }));
  REQUIRE(test::waitFor([&] { return r.queue().numRequeues("ns/a") == 0; }));
  r.stop();
  std::string text = m.render();
  CHECK(has(text, "controller_runtime_reconcile_errors_total{controller=\"flaky\"} 3"));
  CHECK(has(text, "controller_runtime_reconcile_total{controller=\"flaky\",result=\"error\"} 3"));
  CHECK(has(text, "controller_runtime_reconcile_total{controller=\"flaky\",result=\"success\"} 1"));
  CHECK(has(text, "workqueue_retries_total{name=\"flaky\"} 3"));
}

TEST_CASE("requeueAfter runs the key again after the delay") {
  ManualClock clock;
  metrics::Metrics m;
  std::atomic<int> calls{0};
  Runner r(
      {"periodic", 2, {}}, clock,
      [&](const std::string&) -> Result<Action> {
        ++calls;
        return Action::requeueAfter(30s);
      },
      &m);
  r.start();
  r.queue().add("ns/a");
  REQUIRE(test::waitFor([&] { return calls == 1 && r.queue().delayed() == 1; }));
  clock.advance(29s);
  CHECK_FALSE(test::waitFor([&] { return calls == 2; }, 50ms));
  clock.advance(1s);
  REQUIRE(test::waitFor([&] { return calls == 2; }));
  r.stop();
  CHECK(has(
      m.render(),
      "controller_runtime_reconcile_total{controller=\"periodic\",result=\"requeue_after\"} 2"));
}

TEST_CASE(
    "requeue goes through the rate limiter without counting an error; exceptions are errors") {
  ManualClock clock;
  metrics::Metrics m;
  std::atomic<int> calls{0};
  Runner r(
      {"mixed", 1, {}}, clock,
      [&](const std::string& key) -> Result<Action> {
        ++calls;
        if (key == "ns/throws") {
          throw std::runtime_error("bug");
        }
        return Action::requeue();
      },
      &m);
  r.start();
  r.queue().add("ns/a");
  r.queue().add("ns/throws");
  REQUIRE(test::waitFor([&] { return calls == 2 && r.queue().delayed() == 2; }));
  r.stop();
  std::string text = m.render();
  CHECK(has(text, "controller_runtime_reconcile_total{controller=\"mixed\",result=\"requeue\"} 1"));
  CHECK(has(text, "controller_runtime_reconcile_errors_total{controller=\"mixed\"} 1"));
}

TEST_CASE("a runner without metrics works, and stop() is idempotent") {
  std::atomic<int> calls{0};
  Runner r({"bare", 2, {}}, SteadyClock::instance(), [&](const std::string&) -> Result<Action> {
    ++calls;
    return Action::awaitChange();
  });
  r.queue().add("before-start");
  r.start();
  REQUIRE(test::waitFor([&] { return calls == 1; }));
  r.stop();
  r.stop();
}
