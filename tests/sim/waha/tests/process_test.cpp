// The real waha-sim binary: env configuration, resume across two process runs, the double-run
// detector across two processes, kernel-released locks after a crash, signals.

#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "support/process.h"
#include "support/test_http.h"
#include "support/wait.h"

using waha::test::httpRequest;
using waha::test::Process;
using waha::test::waitFor;

namespace {

struct RunningSim {
  std::unique_ptr<Process> proc;
  std::string base;
  std::string key;

  waha::test::HttpResult call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr) {
    std::map<std::string, std::string> headers;
    if (!key.empty()) {
      headers["X-Api-Key"] = key;
    }
    std::string text = body.is_null() ? "" : body.dump();
    if (!text.empty()) {
      headers["Content-Type"] = "application/json";
    }
    return httpRequest(method, base + path, text, headers, std::chrono::seconds(10));
  }
  std::string status(const std::string& name) {
    auto r = call("GET", "/api/sessions/" + name);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return (r.status == 200 && j.is_object()) ? j.value("status", "") : "";
  }
  bool waitStatus(const std::string& name, const std::string& want) {
    return waitFor([&] { return status(name) == want; }, std::chrono::seconds(10),
                   std::chrono::milliseconds(20));
  }
};

RunningSim startSim(const std::string& dir, const std::string& worker,
                    std::vector<std::string> args = {},
                    std::map<std::string, std::string> env = {}) {
  static int counter = 0;
  std::string portFile = dir + "/" + worker + "-" + std::to_string(++counter) + ".port";
  std::vector<std::string> argv = {waha::test::binaryPath("tests/sim/waha/waha-sim"),
                                   "--port",
                                   "0",
                                   "--port-file",
                                   portFile,
                                   "--qr-delay-ms",
                                   "20",
                                   "--slow-op-ms",
                                   "10",
                                   "--conflict-poll-ms",
                                   "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  env.emplace("WAHA_WORKER_ID", worker);
  env.emplace("WAHA_LOCAL_STORE_BASE_DIR", dir + "/store-" + worker);
  RunningSim sim;
  sim.proc = std::make_unique<Process>(argv, env, dir + "/" + worker + ".log");
  bool up = waitFor(
      [&] { return std::filesystem::exists(portFile) && !waha::test::readFile(portFile).empty(); },
      std::chrono::seconds(20));
  INFO(sim.proc->log());
  REQUIRE(up);
  std::string port = waha::test::readFile(portFile);
  while (!port.empty() && port.back() == '\n') {
    port.pop_back();
  }
  sim.base = "http://127.0.0.1:" + port;
  auto it = env.find("WHATSAPP_API_KEY");
  sim.key = it == env.end() ? "" : it->second;
  return sim;
}

std::string readOrEmpty(const std::string& path) {
  return std::filesystem::exists(path) ? waha::test::readFile(path) : "";
}

}  // namespace

TEST_CASE("waha-sim --help and bad flags") {
  auto bin = waha::test::binaryPath("tests/sim/waha/waha-sim");
  auto help = waha::test::runCommand({bin, "--help"});
  CHECK(help.exitCode == 0);
  CHECK(help.out.find("--phone-registry") != std::string::npos);
  CHECK(help.out.find("WHATSAPP_API_KEY") != std::string::npos);
  auto bad = waha::test::runCommand({bin, "--no-such-flag"});
  CHECK(bad.exitCode == 2);
  CHECK(bad.err.find("unknown flag") != std::string::npos);
}

TEST_CASE("configured by WAHA's environment variables") {
  auto dir = waha::test::makeTempDir("wahasim-proc");
  auto sim = startSim(dir, "pod-env", {},
                      {{"WHATSAPP_API_KEY", "k1"},
                       {"WHATSAPP_API_KEY_EXCLUDE_PATH", "ping,health"},
                       {"WHATSAPP_DEFAULT_ENGINE", "WEBJS"},
                       {"WAHA_PROMETHEUS_ENABLED", "true"}});
  auto ping = httpRequest("GET", sim.base + "/ping");
  CHECK(ping.status == 200);
  CHECK(ping.headers.getOr("X-Waha-Worker") == "pod-env");
  CHECK(httpRequest("GET", sim.base + "/api/sessions").status == 401);
  CHECK(sim.call("GET", "/api/sessions").status == 200);
  auto version = nlohmann::json::parse(sim.call("GET", "/api/server/version").body);
  CHECK(version["engine"] == "WEBJS");
  CHECK(sim.call("GET", "/metrics").body.find("engine=\"WEBJS\"") != std::string::npos);
  CHECK(sim.proc->stop() == 0);
}

TEST_CASE("resume after restart across two process runs") {
  auto dir = waha::test::makeTempDir("wahasim-proc");
  std::map<std::string, std::string> env = {{"WAHA_WORKER_RESTART_SESSIONS", "true"}};
  {
    auto first = startSim(dir, "pod-r", {}, env);
    REQUIRE(first.call("POST", "/api/sessions", {{"name", "keep"}, {"start", true}}).status == 201);
    REQUIRE(first.waitStatus("keep", "SCAN_QR_CODE"));
    REQUIRE(first.call("POST", "/_sim/sessions/keep/pair", {{"id", "7912@c.us"}}).status == 201);
    REQUIRE(first.call("POST", "/api/sessions", {{"name", "off"}, {"start", true}}).status == 201);
    REQUIRE(first.call("POST", "/api/sessions/off/stop").status == 201);
    CHECK(first.proc->stop() == 0);  // SIGTERM: prompt, clean exit
  }
  auto second = startSim(dir, "pod-r", {}, env);
  REQUIRE(second.waitStatus("keep", "WORKING"));
  auto me = nlohmann::json::parse(second.call("GET", "/api/sessions/keep/me").body);
  CHECK(me["id"] == "7912@c.us");
  CHECK(second.status("off") == "STOPPED");
}

TEST_CASE("double-run detector fires on a real double start across two processes") {
  auto dir = waha::test::makeTempDir("wahasim-proc");
  std::string registry = dir + "/phones";
  auto a = startSim(dir, "pod-a", {"--phone-registry", registry});
  auto b = startSim(dir, "pod-b", {}, {{"WAHA_SIM_PHONE_REGISTRY", registry}});
  REQUIRE(a.call("POST", "/api/sessions", {{"name", "acct"}, {"start", true}}).status == 201);
  REQUIRE(a.waitStatus("acct", "SCAN_QR_CODE"));
  CHECK(readOrEmpty(registry + "/conflicts.log").empty());

  REQUIRE(b.call("POST", "/api/sessions", {{"name", "acct"}, {"start", true}}).status == 201);
  CHECK(b.waitStatus("acct", "FAILED"));
  CHECK(a.waitStatus("acct", "FAILED"));
  std::string log = readOrEmpty(registry + "/conflicts.log");
  CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  CHECK(log.find("session=acct") != std::string::npos);
  CHECK(log.find("pod-a") != std::string::npos);
  CHECK(log.find("pod-b") != std::string::npos);
}

TEST_CASE("a crashed holder's lock is released by the kernel: no false conflict") {
  auto dir = waha::test::makeTempDir("wahasim-proc");
  std::string registry = dir + "/phones";
  auto a = startSim(dir, "pod-a", {"--phone-registry", registry});
  REQUIRE(a.call("POST", "/api/sessions", {{"name", "acct"}, {"start", true}}).status == 201);
  REQUIRE(a.waitStatus("acct", "SCAN_QR_CODE"));
  REQUIRE(a.call("POST", "/_sim/crash", {{"mode", "kill"}}).status == 200);
  int status = 0;
  REQUIRE(a.proc->wait(std::chrono::seconds(10), &status));
  CHECK(status == 128 + 9);

  auto b = startSim(dir, "pod-b", {"--phone-registry", registry});
  REQUIRE(b.call("POST", "/api/sessions", {{"name", "acct"}, {"start", true}}).status == 201);
  CHECK(b.waitStatus("acct", "SCAN_QR_CODE"));
  CHECK(readOrEmpty(registry + "/conflicts.log").empty());
}

TEST_CASE("signals and crash faults") {
  auto dir = waha::test::makeTempDir("wahasim-proc");
  SECTION("SIGTERM ignored under the fault: only SIGKILL ends it") {
    auto sim = startSim(dir, "pod-stuck", {"--ignore-sigterm"});
    CHECK(sim.proc->stop(std::chrono::milliseconds(300)) == 128 + 9);
  }
  SECTION("SIGUSR1 kills the process without cleanup") {
    auto sim = startSim(dir, "pod-usr1");
    sim.proc->kill(SIGUSR1);
    int status = 0;
    REQUIRE(sim.proc->wait(std::chrono::seconds(10), &status));
    CHECK(status == 128 + 9);
  }
  SECTION("crash on stop: the worker dies under the stop call") {
    auto sim = startSim(dir, "pod-noweb", {"--crash-on-stop"});
    REQUIRE(sim.call("POST", "/api/sessions", {{"name", "x"}, {"start", true}}).status == 201);
    auto r = sim.call("POST", "/api/sessions/x/stop");
    CHECK(r.status != 201);
    int status = 0;
    REQUIRE(sim.proc->wait(std::chrono::seconds(10), &status));
    CHECK(status == 128 + 9);
  }
}
