#include <catch2/catch.hpp>
#include <random>

#include "scaling/scaling.h"

using namespace waha::scaling;

TEST_CASE("Replicas follow sessions, within min and max") {
  struct Case {
    PoolLoad load;
    int replicas;
  };
  std::vector<Case> cases = {
      {{0, 100, 1, 10}, 1},   {{1, 100, 1, 10}, 1},   {{100, 100, 1, 10}, 1},
      {{101, 100, 1, 10}, 2}, {{250, 100, 1, 10}, 3}, {{5000, 100, 1, 10}, 10},
      {{0, 10, 0, 5}, 0},     {{0, 10, 3, 5}, 3},     {{31, 10, 0, 5}, 4},
      {{10, 0, 1, 20}, 10},  // a zero capacity is treated as 1, never a division by zero
      {{-5, 10, 2, 4}, 2},
  };
  for (const auto& c : cases) {
    CAPTURE(c.load.sessions, c.load.sessionsPerWorker, c.load.minWorkers, c.load.maxWorkers);
    REQUIRE(desiredReplicas(c.load).replicas == c.replicas);
  }
  REQUIRE(desiredReplicas({5000, 100, 1, 10}).reason.find("capped at workers.max 10") !=
          std::string::npos);
}

TEST_CASE("Replicas stay within bounds and cover the load when allowed (random)") {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> s(0, 20000), per(1, 500), lo(0, 20), span(0, 200);
  for (int i = 0; i < 2000; ++i) {
    PoolLoad l{s(gen), per(gen), lo(gen), 0};
    l.maxWorkers = l.minWorkers + span(gen);
    int r = desiredReplicas(l).replicas;
    REQUIRE(r >= l.minWorkers);
    REQUIRE(r <= l.maxWorkers);
    if (r < l.maxWorkers) {
      REQUIRE(r * l.sessionsPerWorker >= l.sessions);
    }
  }
}

TEST_CASE("Drain candidate: not ready first, then fewest sessions, then name") {
  REQUIRE_FALSE(drainCandidate({}).has_value());
  REQUIRE(drainCandidate({{"a", true, 5}, {"b", true, 2}, {"c", true, 9}}) == "b");
  REQUIRE(drainCandidate({{"a", true, 0}, {"b", false, 50}}) == "b");
  REQUIRE(drainCandidate({{"b", true, 2}, {"a", true, 2}}) == "a");
}
