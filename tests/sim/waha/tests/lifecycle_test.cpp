// Transitions, persistence across restarts, the in-process double-run detector and faults.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>

#include "sim_harness.h"

using waha::sim::testing::fastConfig;
using waha::sim::testing::js;
using waha::sim::testing::SimHarness;

namespace {

// Raw socket client: the shared test client's timeout does not bound synchronous reads, and a
// hung call must be observed as "no byte within the deadline".
bool answersWithin(const std::string& base, const std::string& path,
                   std::chrono::milliseconds wait) {
  int port = std::stoi(base.substr(base.rfind(':') + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return false;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  bool sent = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  pollfd p{fd, POLLIN, 0};
  bool readable = sent && ::poll(&p, 1, static_cast<int>(wait.count())) == 1;
  char buf[16] = {};
  bool gotBytes = readable && ::recv(fd, buf, sizeof(buf), 0) > 0;
  ::close(fd);
  return gotBytes;
}

}  // namespace

TEST_CASE("transitions: STARTING then SCAN_QR_CODE after the configured delay") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir);
  cfg.qrDelayMs = 300;
  SimHarness h(cfg);
  REQUIRE(h.post("/api/sessions", {{"name", "t"}, {"start", true}}).status == 201);
  CHECK(js(h.get("/api/sessions/t"))["status"] == "STARTING");
  REQUIRE(h.waitStatus("t", "SCAN_QR_CODE"));
  CHECK(js(h.get("/api/sessions/t"))["status"] == "SCAN_QR_CODE");
  // A stop during STARTING must not be overwritten by the pending timer.
  REQUIRE(h.post("/api/sessions/t/restart").status == 201);
  REQUIRE(h.post("/api/sessions/t/stop").status == 201);
  REQUIRE(h.post("/api/sessions", {{"name", "probe"}, {"start", true}}).status == 201);
  REQUIRE(h.waitStatus("probe", "SCAN_QR_CODE"));  // a later timer has fired, so t's one has too
  CHECK(h.sim().statusOf("t") == "STOPPED");
}

TEST_CASE("a status wait lets a call succeed once the session reaches the expected status") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir);
  cfg.qrDelayMs = 100;
  cfg.statusWaitMs = 5000;
  SimHarness h(cfg);
  REQUIRE(h.post("/api/sessions", {{"name", "w"}, {"start", true}}).status == 201);
  auto qr = h.get("/api/w/auth/qr?format=raw");  // asked while STARTING: waits, then answers
  CHECK(qr.status == 200);
  CHECK(js(qr)["value"].is_string());
}

TEST_CASE("resume after restart: only with WAHA_WORKER_RESTART_SESSIONS, only own sessions") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir, "pod-a");
  cfg.workerRestartSessions = true;
  {
    SimHarness h(cfg);
    REQUIRE(h.post("/api/sessions", {{"name", "run"}, {"start", true}}).status == 201);
    REQUIRE(h.post("/api/sessions", {{"name", "idle"}, {"start", false}}).status == 201);
    REQUIRE(h.post("/api/sessions", {{"name", "halted"}, {"start", true}}).status == 201);
    REQUIRE(h.waitStatus("run", "SCAN_QR_CODE"));
    REQUIRE(h.post("/_sim/sessions/run/pair", {{"id", "7900@c.us"}}).status == 201);
    REQUIRE(h.post("/api/sessions/halted/stop").status == 201);
  }
  SECTION("same worker id and store: running sessions come back, paired ones WORKING") {
    SimHarness h(cfg);
    REQUIRE(h.waitStatus("run", "WORKING"));
    CHECK(js(h.get("/api/sessions/run/me"))["id"] == "7900@c.us");
    CHECK(h.sim().statusOf("idle") == "STOPPED");
    CHECK(h.sim().statusOf("halted") == "STOPPED");
    CHECK(js(h.get("/api/sessions?all=true")).size() == 3);
  }
  SECTION("flag off: nothing starts") {
    auto off = cfg;
    off.workerRestartSessions = false;
    SimHarness h(off);
    CHECK(h.sim().statusOf("run") == "STOPPED");
    CHECK(js(h.get("/api/sessions")).empty());
  }
  SECTION("another worker id on the same store resumes nothing, unless told to restart all") {
    auto other = cfg;
    other.workerId = "pod-b";
    {
      SimHarness h(other);
      CHECK(h.sim().statusOf("run") == "STOPPED");
    }
    other.restartAllSessions = true;
    SimHarness h(other);
    REQUIRE(h.waitStatus("run", "WORKING"));
    REQUIRE(h.waitStatus("halted", "SCAN_QR_CODE"));  // every stored session, the dangerous mode
    REQUIRE(h.waitStatus("idle", "SCAN_QR_CODE"));
  }
}

TEST_CASE("shared storage: a session paired on one worker starts WORKING on another") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto a = fastConfig(dir, "a");
  auto b = fastConfig(dir, "b");
  a.sharedStoreDir = dir + "/shared";
  b.sharedStoreDir = dir + "/shared";
  SimHarness ha(a);
  SimHarness hb(b);
  REQUIRE(ha.post("/api/sessions", {{"name", "mv"}, {"start", true}}).status == 201);
  REQUIRE(ha.waitStatus("mv", "SCAN_QR_CODE"));
  REQUIRE(ha.post("/_sim/sessions/mv/pair", {{"id", "7911@c.us"}, {"pushName", "M"}}).status ==
          201);
  // The move: stop on a, see STOPPED, start on b.
  REQUIRE(ha.post("/api/sessions/mv/stop").status == 201);
  CHECK(hb.post("/api/sessions", {{"name", "mv"}, {"start", false}}).status ==
        422);  // in the shared DB
  REQUIRE(hb.post("/api/sessions/mv/start").status == 201);
  REQUIRE(hb.waitStatus("mv", "WORKING"));
  CHECK(js(hb.get("/api/sessions/mv/me"))["pushName"] == "M");
  // A local store is not reachable from another worker: a QR scan is needed there.
  auto c = fastConfig(dir, "c");
  SimHarness hc(c);
  REQUIRE(hc.post("/api/sessions", {{"name", "mv"}, {"start", true}}).status == 201);
  REQUIRE(hc.waitStatus("mv", "SCAN_QR_CODE"));
}

TEST_CASE("phone registry: a double start fails both copies and is logged") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto a = fastConfig(dir, "a");
  auto b = fastConfig(dir, "b");
  a.phoneRegistry = b.phoneRegistry = dir + "/registry";
  SimHarness ha(a);
  SimHarness hb(b);
  REQUIRE(ha.post("/api/sessions", {{"name", "dup"}, {"start", true}}).status == 201);
  REQUIRE(ha.waitStatus("dup", "SCAN_QR_CODE"));
  // A proper move (stop, then start elsewhere) is not a conflict.
  REQUIRE(ha.post("/api/sessions", {{"name", "ok"}, {"start", true}}).status == 201);
  REQUIRE(ha.post("/api/sessions/ok/stop").status == 201);
  REQUIRE(hb.post("/api/sessions", {{"name", "ok"}, {"start", true}}).status == 201);
  REQUIRE(hb.waitStatus("ok", "SCAN_QR_CODE"));
  CHECK(waha::test::readFile(dir + "/registry/conflicts.log").empty());

  REQUIRE(hb.post("/api/sessions", {{"name", "dup"}, {"start", true}}).status == 201);
  REQUIRE(hb.waitStatus("dup", "FAILED"));
  REQUIRE(ha.waitStatus("dup", "FAILED"));  // the holder is kicked too
  std::string log = waha::test::readFile(dir + "/registry/conflicts.log");
  CHECK(log.find("session=dup") != std::string::npos);
  CHECK(log.find("holder=\"a ") != std::string::npos);
  CHECK(log.find("newcomer=\"b ") != std::string::npos);
  CHECK(hb.sim().statusOf("ok") == "SCAN_QR_CODE");  // other sessions are untouched
  // After both failed, the session can start cleanly on one worker again.
  REQUIRE(ha.post("/api/sessions/dup/start").status == 201);
  REQUIRE(ha.waitStatus("dup", "SCAN_QR_CODE"));
}

TEST_CASE("faults: 500 share, latency, hang, session limit, restart in place") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir);
  cfg.workerRestartSessions = true;
  SimHarness h(cfg);

  SECTION("every call 500, then some, then none; test hooks stay reachable") {
    REQUIRE(h.post("/_sim/faults", {{"errorShare", 1.0}}).status == 200);
    auto r = h.get("/api/sessions");
    CHECK(r.status == 500);
    CHECK(js(r)["statusCode"] == 500);
    CHECK(r.headers.getOr("X-Waha-Worker") == "w1");
    REQUIRE(h.post("/_sim/faults", {{"errorShare", 0.5}}).status == 200);
    int failures = 0;
    for (int i = 0; i < 60; ++i) {
      failures += h.get("/api/sessions").status == 500 ? 1 : 0;
      // Probes are exempt: the pod stays Ready while its API fails.
      CHECK(h.get("/ping").status == 200);
    }
    CHECK(failures > 5);
    CHECK(failures < 55);
    REQUIRE(h.post("/_sim/faults", {{"errorShare", 0.0}}).status == 200);
    CHECK(h.get("/api/sessions").status == 200);
  }
  SECTION("latency delays the answer") {
    REQUIRE(h.post("/_sim/faults", {{"latencyMs", 200}}).status == 200);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(h.get("/ping").status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(200));
  }
  SECTION("hang: the call is never answered, other paths still are") {
    REQUIRE(h.post("/_sim/faults", {{"hang", "/api/sessions"}}).status == 200);
    CHECK(!answersWithin(h.base(), "/api/sessions", std::chrono::milliseconds(300)));
    CHECK(answersWithin(h.base(), "/api/server/status", std::chrono::seconds(10)));
    CHECK(h.get("/ping").status == 200);
    CHECK(js(h.get("/_sim/state"))["hungCalls"] == 1);
    REQUIRE(h.post("/_sim/faults", {{"hang", ""}}).status == 200);
    CHECK(h.get("/api/sessions").status == 200);
  }
  SECTION("starts past the session limit are refused") {
    REQUIRE(h.post("/_sim/faults", {{"maxSessions", 1}}).status == 200);
    CHECK(h.post("/api/sessions", {{"name", "one"}, {"start", true}}).status == 201);
    REQUIRE(h.post("/api/sessions", {{"name", "two"}}).status == 201);
    auto refused = h.post("/api/sessions/two/start");
    CHECK(refused.status == 422);
    CHECK(js(refused)["message"].get<std::string>().find("limit") != std::string::npos);
    CHECK(h.sim().statusOf("two") == "STOPPED");
    REQUIRE(h.post("/api/sessions/one/stop").status == 201);
    CHECK(h.post("/api/sessions/two/start").status == 201);
  }
  SECTION("restart in place resumes owned sessions and resets the start time") {
    REQUIRE(h.post("/api/sessions", {{"name", "r"}, {"start", true}}).status == 201);
    REQUIRE(h.waitStatus("r", "SCAN_QR_CODE"));
    REQUIRE(h.post("/_sim/sessions/r/pair").status == 201);
    auto before = js(h.get("/api/server/status"))["startTimestamp"].get<long long>();
    REQUIRE(h.post("/_sim/restart").status == 200);
    CHECK(h.sim().statusOf("r") == "STARTING");
    REQUIRE(h.waitStatus("r", "WORKING"));
    CHECK(js(h.get("/api/server/status"))["startTimestamp"].get<long long>() >= before);
  }
  SECTION("crash on stop calls the crash handler instead of stopping") {
    std::atomic<int> crashes{0};
    h.sim().setCrashHandler([&](const std::string&) { ++crashes; });
    REQUIRE(h.post("/api/sessions", {{"name", "c"}, {"start", true}}).status == 201);
    REQUIRE(h.post("/_sim/faults", {{"crashOnStop", true}}).status == 200);
    CHECK(h.post("/api/sessions/c/stop").status == 500);
    CHECK(crashes == 1);
    REQUIRE(h.post("/_sim/crash", {{"mode", "kill"}}).status == 200);
    CHECK(waha::test::waitFor([&] { return crashes == 2; }));
  }
}

TEST_CASE("slow operations answer after WAHA's fixed sleep") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir);
  cfg.slowOpMs = 250;
  SimHarness h(cfg);
  REQUIRE(h.post("/api/sessions", {{"name", "slow"}, {"start", true}}).status == 201);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(h.post("/api/sessions/slow/stop").status == 201);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(250));
  REQUIRE(h.post("/api/sessions/slow/stop").status == 201);  // already stopped: no sleep
  CHECK(h.get("/api/sessions/slow").status == 200);
}
