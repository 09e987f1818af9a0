#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "placement/placement.h"

using namespace waha::placement;

namespace {
WorkerView w(std::string name, int load, int cap = 10, bool ready = true, bool draining = false) {
  return WorkerView{std::move(name), ready, draining, cap, load};
}
}  // namespace

TEST_CASE("LeastLoaded picks the worker with the most free room, ties by name") {
  struct Case {
    std::vector<WorkerView> workers;
    std::optional<std::string> expected;
  };
  std::vector<Case> cases = {
      {{w("a", 5), w("b", 3), w("c", 4)}, "b"},
      {{w("b", 3), w("a", 3)}, "a"},                  // tie -> name
      {{w("a", 1, 10, false), w("b", 9)}, "b"},       // not ready skipped
      {{w("a", 1, 10, true, true), w("b", 9)}, "b"},  // draining skipped
      {{w("a", 10), w("b", 10)}, std::nullopt},       // all full
      {{}, std::nullopt},                             // no workers
      {{w("a", 2, 4), w("b", 5, 10)}, "b"},           // free 2 vs free 5
  };
  for (const auto& c : cases) {
    CAPTURE(c.workers.size());
    REQUIRE(choose(c.workers, Strategy::LeastLoaded).worker == c.expected);
  }
}

TEST_CASE("BinPack picks the fullest worker that still has room") {
  REQUIRE(choose({w("a", 5), w("b", 9), w("c", 10)}, Strategy::BinPack).worker == "b");
  REQUIRE(choose({w("b", 9), w("a", 9)}, Strategy::BinPack).worker == "a");
  REQUIRE_FALSE(choose({w("a", 10)}, Strategy::BinPack).worker.has_value());
}

TEST_CASE("No room gives a reason that says why") {
  REQUIRE(choose({}, Strategy::LeastLoaded).reason == "no worker pods exist yet");
  REQUIRE(choose({w("a", 0, 10, false)}, Strategy::LeastLoaded).reason.find("no Ready") == 0);
  REQUIRE(choose({w("a", 10), w("b", 10)}, Strategy::LeastLoaded).reason ==
          "all 2 Ready workers are full");
}

TEST_CASE("A burst of placements never overfills a worker (random invariants)") {
  std::mt19937 gen(12345);
  for (int round = 0; round < 200; ++round) {
    std::uniform_int_distribution<int> nWorkers(0, 8), cap(1, 20), coin(0, 9), nSessions(0, 120);
    std::vector<WorkerView> workers;
    int n = nWorkers(gen);
    for (int i = 0; i < n; ++i) {
      int c = cap(gen);
      std::uniform_int_distribution<int> load(0, c);
      workers.push_back(w("w" + std::to_string(i), load(gen), c, coin(gen) > 1, coin(gen) == 0));
    }
    std::vector<std::string> sessions;
    int ns = nSessions(gen);
    for (int i = 0; i < ns; ++i) {
      sessions.push_back("s" + std::to_string(i));
    }
    auto strategy = round % 2 == 0 ? Strategy::LeastLoaded : Strategy::BinPack;
    int room = freeCapacity(workers);
    auto result = plan(workers, sessions, strategy);
    REQUIRE(result.size() == sessions.size());
    std::map<std::string, int> load;
    for (const auto& wv : workers) {
      load[wv.name] = wv.load;
    }
    int placed = 0;
    std::set<std::string> seen;
    for (const auto& a : result) {
      REQUIRE(seen.insert(a.session).second);  // one decision per session
      if (!a.worker) {
        continue;
      }
      ++placed;
      auto it = std::find_if(workers.begin(), workers.end(),
                             [&](const WorkerView& x) { return x.name == *a.worker; });
      REQUIRE(it != workers.end());
      REQUIRE(it->ready);
      REQUIRE_FALSE(it->draining);
      REQUIRE(++load[it->name] <= it->capacity);
    }
    // Everything that fits is placed; nothing beyond the free room.
    REQUIRE(placed == std::min(room, ns));
  }
}

TEST_CASE("LeastLoaded spreads evenly over equal workers") {
  auto result = plan({w("a", 0), w("b", 0), w("c", 0)}, {"1", "2", "3", "4", "5", "6"},
                     Strategy::LeastLoaded);
  std::map<std::string, int> count;
  for (const auto& a : result) {
    ++count[*a.worker];
  }
  REQUIRE(count == std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}});
}
