// Configuration parsing and the byte helpers.

#include <catch2/catch.hpp>

#include "sim/waha/codec.h"
#include "sim/waha/sim_config.h"

using waha::sim::parseConfig;

TEST_CASE("config: env like WAHA, flags win, defaults") {
  auto def = parseConfig({}, {});
  REQUIRE(def.ok());
  CHECK(def->port == 3000);
  CHECK(def->host == "127.0.0.1");
  CHECK(def->engine == "NOWEB");
  CHECK(!def->workerRestartSessions);

  std::map<std::string, std::string> env = {
      {"WHATSAPP_API_PORT", "3100"},
      {"POD_IP", "10.1.2.3"},
      {"WAHA_API_KEY", "fallback"},
      {"WHATSAPP_API_KEY_EXCLUDE_PATH", "ping, /health"},
      {"WAHA_WORKER_ID", "pod-1"},
      {"WAHA_WORKER_RESTART_SESSIONS", "True"},
      {"WHATSAPP_SESSIONS_POSTGRESQL_URL", "file:///tmp/shared"},
      {"WAHA_PROMETHEUS_ENABLED", "true"}};
  auto cfg = parseConfig({"--port", "0", "--worker-id=flag-wins", "--restart-all-sessions"}, env);
  REQUIRE(cfg.ok());
  CHECK(cfg->port == 0);
  CHECK(cfg->host == "10.1.2.3");
  CHECK(cfg->apiKey == "fallback");
  CHECK(cfg->excludePaths == std::vector<std::string>{"ping", "health"});
  CHECK(cfg->workerId == "flag-wins");
  CHECK(cfg->workerRestartSessions);
  CHECK(cfg->restartAllSessions);
  CHECK(cfg->prometheus);
  CHECK(cfg->sharedStoreDir == "/tmp/shared");
  CHECK(cfg->storeDir() == "/tmp/shared");

  env["WHATSAPP_API_KEY"] = "primary";
  CHECK(parseConfig({}, env)->apiKey == "primary");
}

TEST_CASE("config: errors and help") {
  CHECK(!parseConfig({"--bogus"}, {}).ok());
  CHECK(!parseConfig({"--port"}, {}).ok());
  CHECK(!parseConfig({"--port", "x"}, {}).ok());
  CHECK(!parseConfig({}, {{"WHATSAPP_API_PORT", "99999"}}).ok());
  CHECK(!parseConfig({"--error-share", "1.5"}, {}).ok());
  bool help = false;
  CHECK(parseConfig({"--help"}, {}, &help).ok());
  CHECK(help);
  CHECK(waha::sim::usage().find("--slow-op-ms") != std::string::npos);
}

TEST_CASE("shared directory from a PostgreSQL URL") {
  using waha::sim::sharedDirFromUrl;
  CHECK(sharedDirFromUrl("/data/x", "/tmp") == "/data/x");
  CHECK(sharedDirFromUrl("file:///data/y", "/tmp") == "/data/y");
  std::string pg = sharedDirFromUrl("postgres://user:pw@db.ns.svc:5432/waha?sslmode=disable", "/t");
  CHECK(pg == "/t/waha-sim-pg/db.ns.svc_5432_waha");
  CHECK(pg.find("pw") == std::string::npos);  // credentials never reach the path
  CHECK(sharedDirFromUrl("postgres://other@db.ns.svc:5432/waha", "/t") == pg);
}

TEST_CASE("codec: base64, sha256, constant-time compare") {
  using namespace waha::sim;
  CHECK(base64Encode("") == "");
  CHECK(base64Encode("f") == "Zg==");
  CHECK(base64Encode("fo") == "Zm8=");
  CHECK(base64Encode("foobar") == "Zm9vYmFy");
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
  }
  CHECK(base64Decode(base64Encode(bytes)) == bytes);
  CHECK(!base64Decode("@@@").has_value());
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(constantTimeEquals("key", "key"));
  CHECK(!constantTimeEquals("key", "kez"));
  CHECK(!constantTimeEquals("key", "key2"));
}
