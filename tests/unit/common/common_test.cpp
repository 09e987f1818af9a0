#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "common/backoff.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/result.h"

using namespace waha;
using namespace std::chrono_literals;

TEST_CASE("Result carries a value or an error") {
  Result<int> ok = 42;
  REQUIRE(ok.ok());
  REQUIRE(*ok == 42);
  Result<int> bad = Error::make(404, "NotFound", "no such thing");
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.error().code == 404);
  REQUIRE(bad.error().str() == "404 NotFound: no such thing");
  REQUIRE(bad.valueOr(7) == 7);
  Status s;
  REQUIRE(s.ok());
  Status f = Error::make(0, "Timeout", "slow", true);
  REQUIRE_FALSE(f.ok());
  REQUIRE(f.error().retryable);
}

TEST_CASE("Backoff grows exponentially up to its cap, jitter within bounds") {
  FixedRandom noJitter(0.0);
  Backoff b(5ms, 40ms, noJitter);
  REQUIRE(b.next() == 5ms);
  REQUIRE(b.next() == 10ms);
  REQUIRE(b.next() == 20ms);
  REQUIRE(b.next() == 40ms);
  REQUIRE(b.next() == 40ms);
  b.reset();
  REQUIRE(b.next() == 5ms);

  FixedRandom halfJitter(0.5);
  Backoff j(800ms, 30s, halfJitter, 2.0, 1.0);
  REQUIRE(j.next() == 1200ms);  // 800ms stretched by half of itself
  REQUIRE(j.next() == 2400ms);
}

TEST_CASE("ManualClock moves only when advanced and wakes waiters") {
  ManualClock clock;
  auto t0 = clock.now();
  auto w0 = clock.wallNow();
  clock.advance(30s);
  REQUIRE(clock.now() - t0 == 30s);
  REQUIRE(clock.wallNow() - w0 == 30s);

  std::mutex mu;
  std::condition_variable cv;
  bool timedOut = false;
  auto deadline = clock.now() + 10s;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lk(mu);
    timedOut = !clock.waitUntil(lk, cv, deadline, [] { return false; });
  });
  clock.advance(11s);
  waiter.join();
  REQUIRE(timedOut);
}

TEST_CASE("RFC 3339 timestamps format and parse") {
  WallTime t;
  REQUIRE(parseRfc3339("2026-11-28T02:11:16Z", t));
  REQUIRE(formatRfc3339(t) == "2026-11-28T02:11:16Z");
  REQUIRE(parseRfc3339("2026-11-28T03:11:16.123+01:00", t));
  REQUIRE(formatRfc3339(t) == "2026-11-28T02:11:16Z");
  REQUIRE_FALSE(parseRfc3339("2026-11-28 02:11:16", t));
  REQUIRE_FALSE(parseRfc3339("yesterday", t));
  REQUIRE_FALSE(parseRfc3339("2026-13-28T02:11:16Z", t));
}

namespace {
std::string gLast;
void capture(const std::string& line) { gLast = line; }
}  // namespace

TEST_CASE("Logs are key=value or JSON, and URLs lose their passwords") {
  log::setSink(capture);
  log::info("session placed", {{"session", "ns/a"}, {"worker", "w-1"}, {"note", "two words"}});
  REQUIRE(gLast.find("msg=\"session placed\" session=ns/a worker=w-1 note=\"two words\"") !=
          std::string::npos);
  log::setJson(true);
  log::warn("x", {{"k", "v\"q"}});
  REQUIRE(gLast.find(R"("level":"warn","msg":"x","k":"v\"q")") != std::string::npos);
  log::setJson(false);
  log::setLevel(log::Level::Error);
  gLast.clear();
  log::info("hidden");
  REQUIRE(gLast.empty());
  log::setLevel(log::Level::Info);
  log::setSink(nullptr);

  REQUIRE(log::redactUrl("postgres://waha:s3cret@db:5432/waha") ==
          "postgres://waha:***@db:5432/waha");
  REQUIRE(log::redactUrl("http://host/path@x") == "http://host/path@x");
  log::Level lv;
  REQUIRE(log::parseLevel("debug", lv));
  REQUIRE(lv == log::Level::Debug);
  REQUIRE_FALSE(log::parseLevel("loud", lv));
}

TEST_CASE("base64 encodes and decodes, strictly") {
  REQUIRE(base64Encode("") == "");
  REQUIRE(base64Encode("f") == "Zg==");
  REQUIRE(base64Encode("fo") == "Zm8=");
  REQUIRE(base64Encode("foo") == "Zm9v");
  REQUIRE(base64Encode("hello world") == "aGVsbG8gd29ybGQ=");
  REQUIRE(base64Decode("aGVsbG8gd29ybGQ=") == "hello world");
  REQUIRE(base64Decode("aGVs\nbG8") == "hello");  // line breaks skipped, padding optional
  REQUIRE_FALSE(base64Decode("aGV*bG8=").has_value());
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  REQUIRE(base64Decode(base64Encode(all)) == all);
}
