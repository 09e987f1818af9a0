// Route-by-route: status codes, JSON shapes and error shapes as WAHA answers them.

#include <zlib.h>

#include <catch2/catch.hpp>

#include "sim/waha/codec.h"
#include "sim_harness.h"

using waha::sim::testing::fastConfig;
using waha::sim::testing::js;
using waha::sim::testing::SimHarness;

namespace {

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

// Walks the chunks, checks every CRC and that IDAT inflates to height*(1+width) bytes.
void checkPng(const std::string& png) {
  REQUIRE(png.size() > 33);
  REQUIRE(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  REQUIRE(png.substr(12, 4) == "IHDR");
  REQUIRE(be32(png, 8) == 13);
  std::uint32_t width = be32(png, 16);
  std::uint32_t height = be32(png, 20);
  CHECK(width > 0);
  CHECK(height == width);
  CHECK(png[24] == 8);  // bit depth
  CHECK(png[25] == 0);  // grayscale
  std::string idat;
  bool sawEnd = false;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    std::uint32_t len = be32(png, at);
    std::string type = png.substr(at + 4, 4);
    REQUIRE(at + 12 + len <= png.size());
    auto crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + at + 4), len + 4);
    CHECK(static_cast<std::uint32_t>(crc) == be32(png, at + 8 + len));
    if (type == "IDAT") {
      idat += png.substr(at + 8, len);
    }
    sawEnd = sawEnd || type == "IEND";
    at += 12 + len;
  }
  CHECK(sawEnd);
  std::string raw(static_cast<std::size_t>(height) * (width + 1), '\0');
  uLongf rawLen = raw.size();
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(raw.data()), &rawLen,
                     reinterpret_cast<const Bytef*>(idat.data()), idat.size()) == Z_OK);
  CHECK(rawLen == raw.size());
}

}  // namespace

TEST_CASE("probes answer without a session and name the worker") {
  auto dir = waha::test::makeTempDir("wahasim");
  SimHarness h(fastConfig(dir, "worker-7"));
  auto ping = h.get("/ping");
  CHECK(ping.status == 200);
  CHECK(js(ping) == nlohmann::json{{"message", "pong"}});
  CHECK(ping.headers.getOr("X-Waha-Worker") == "worker-7");

  auto health = h.get("/health");
  CHECK(health.status == 200);
  CHECK(js(health)["status"] == "ok");

  auto status = h.get("/api/server/status");
  REQUIRE(status.status == 200);
  auto st = js(status);
  CHECK(st["startTimestamp"].is_number_integer());
  CHECK(st["uptime"].is_number_integer());
  CHECK(st["worker"]["id"] == "worker-7");

  for (const char* path : {"/api/server/version", "/api/version"}) {
    auto v = js(h.get(path));
    CHECK(v["version"].is_string());
    CHECK(v["engine"] == "NOWEB");
    CHECK(v["tier"].is_string());
    CHECK(v.contains("browser"));
  }
  auto missing = h.get("/api/nothing-here");
  CHECK(missing.status == 404);
  CHECK(js(missing)["message"] == "Cannot GET /api/nothing-here");
  CHECK(missing.headers.getOr("X-Waha-Worker") == "worker-7");
  CHECK(h.get("/metrics").status == 404);  // only with WAHA_PROMETHEUS_ENABLED
  CHECK(h.get("/").status == 200);
  CHECK(h.get("/dashboard").status == 200);
  CHECK(js(h.get("/-json"))["openapi"].is_string());
  CHECK(js(h.get("/api/server/environment"))["WAHA_WORKER_ID"] == "worker-7");
}

TEST_CASE("api key: 401 without it, excluded paths stay open, test hooks are guarded") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir);
  cfg.apiKey = "s3cret";
  cfg.excludePaths = {"ping", "health"};
  SimHarness h(cfg);
  auto denied = h.get("/api/sessions");
  CHECK(denied.status == 401);
  CHECK(js(denied) == nlohmann::json{{"statusCode", 401}, {"message", "Unauthorized"}});
  CHECK(denied.headers.getOr("X-Waha-Worker") == "w1");
  CHECK(h.call("GET", "/api/sessions", "", {{"X-Api-Key", "s3creT"}}).status == 401);
  CHECK(h.call("GET", "/api/sessions", "", {{"X-Api-Key", "s3cret"}}).status == 200);
  CHECK(h.get("/ping").status == 200);
  CHECK(h.get("/health").status == 200);
  CHECK(h.get("/api/server/status").status == 401);
  CHECK(h.get("/_sim/state").status == 401);
  h.useKey("s3cret");
  CHECK(h.get("/_sim/state").status == 200);
}

TEST_CASE("session CRUD: create, duplicate, get, list, update, delete") {
  auto dir = waha::test::makeTempDir("wahasim");
  SimHarness h(fastConfig(dir));
  nlohmann::json config = {
      {"metadata", {{"tenant", "a"}}}, {"webhooks", nlohmann::json::array()}, {"futureField", 42}};
  auto created = h.post("/api/sessions", {{"name", "alpha"}, {"config", config}});
  REQUIRE(created.status == 201);
  CHECK(js(created)["name"] == "alpha");
  CHECK(js(created)["status"] == "STOPPED");  // start defaults to false
  CHECK(js(created)["config"] == config);     // unknown fields pass through

  auto dup = h.post("/api/sessions", {{"name", "alpha"}, {"start", true}});
  CHECK(dup.status == 422);
  CHECK(js(dup)["message"] == "Session 'alpha' already exists. Use PUT to update it.");
  CHECK(js(dup)["statusCode"] == 422);

  auto got = js(h.get("/api/sessions/alpha"));
  CHECK(got["status"] == "STOPPED");
  CHECK(got["me"].is_null());
  CHECK(got["engine"]["engine"] == "NOWEB");

  auto absent = h.get("/api/sessions/nope");
  CHECK(absent.status == 404);
  CHECK(js(absent) == nlohmann::json{{"statusCode", 404},
                                     {"message", "Session not found"},
                                     {"error", "Not Found"}});

  REQUIRE(h.post("/api/sessions", {{"name", "beta"}, {"start", true}}).status == 201);
  REQUIRE(h.waitStatus("beta", "SCAN_QR_CODE"));
  auto running = js(h.get("/api/sessions"));
  REQUIRE(running.size() == 1);  // STOPPED ones are left out without all=true
  CHECK(running[0]["name"] == "beta");
  CHECK(js(h.get("/api/sessions?all=true")).size() == 2);

  auto put =
      h.call("PUT", "/api/sessions/beta", nlohmann::json{{"config", {{"debug", true}}}}.dump());
  CHECK(put.status == 200);
  CHECK(js(put)["config"]["debug"] == true);
  CHECK(js(put)["status"] == "STARTING");  // a running session restarts
  REQUIRE(h.waitStatus("beta", "SCAN_QR_CODE"));
  CHECK(h.call("PUT", "/api/sessions/zzz", "{}").status == 404);
  CHECK(h.post("/api/sessions", {{"name", 12}}).status == 400);  // wrong type
  CHECK(h.post("/api/sessions", {{"name", "bad/name"}}).status == 400);

  auto del = h.call("DELETE", "/api/sessions/beta");
  CHECK(del.status == 200);
  CHECK(del.body.empty());
  CHECK(h.call("DELETE", "/api/sessions/beta").status == 200);  // idempotent
  CHECK(h.get("/api/sessions/beta").status == 404);
}

TEST_CASE("lifecycle routes: start, already started, stop, restart, logout, me") {
  auto dir = waha::test::makeTempDir("wahasim");
  SimHarness h(fastConfig(dir));
  REQUIRE(h.post("/api/sessions", {{"name", "s1"}, {"start", false}}).status == 201);
  CHECK(h.post("/api/sessions/nope/start").status == 404);
  auto started = h.post("/api/sessions/s1/start");
  CHECK(started.status == 201);
  CHECK(js(started)["status"] == "STARTING");
  auto again = h.post("/api/sessions/s1/start");
  CHECK(again.status == 422);
  CHECK(js(again)["message"] == "Session 's1' is already started.");
  REQUIRE(h.waitStatus("s1", "SCAN_QR_CODE"));

  auto me = h.get("/api/sessions/s1/me");
  CHECK(me.status == 200);
  CHECK(me.body.empty());  // null before pairing
  REQUIRE(h.post("/_sim/sessions/s1/pair", {{"id", "79111111@c.us"}, {"pushName", "Ann"}}).status ==
          201);
  CHECK(h.sim().statusOf("s1") == "WORKING");
  CHECK(js(h.get("/api/sessions/s1/me")) ==
        nlohmann::json{{"id", "79111111@c.us"}, {"pushName", "Ann"}});
  CHECK(js(h.get("/api/sessions/s1"))["me"]["id"] == "79111111@c.us");

  auto stopped = h.post("/api/sessions/s1/stop");
  CHECK(stopped.status == 201);
  CHECK(js(stopped)["status"] == "STOPPED");
  CHECK(h.post("/api/sessions/s1/stop").status == 201);  // stopping a stopped one is fine

  auto restarted = h.post("/api/sessions/s1/restart");
  CHECK(restarted.status == 201);
  REQUIRE(h.waitStatus("s1", "WORKING"));  // auth is in the store: no QR needed

  CHECK(h.post("/api/sessions/s1/logout").status == 201);
  REQUIRE(h.waitStatus("s1", "SCAN_QR_CODE"));  // auth gone: back to QR
  CHECK(h.get("/api/sessions/s1/me").body.empty());

  // Deprecated body forms.
  CHECK(h.post("/api/sessions/stop", {{"name", "s1"}}).status == 201);
  CHECK(h.sim().statusOf("s1") == "STOPPED");
  CHECK(h.post("/api/sessions/start", {{"name", "legacy"}}).status == 201);
  CHECK(h.sim().statusOf("legacy") == "STARTING");
}

TEST_CASE("QR: PNG image, raw value, JSON image, 422 outside SCAN_QR_CODE; request-code") {
  auto dir = waha::test::makeTempDir("wahasim");
  SimHarness h(fastConfig(dir));
  REQUIRE(h.post("/api/sessions", {{"name", "q"}, {"start", true}}).status == 201);
  REQUIRE(h.waitStatus("q", "SCAN_QR_CODE"));

  auto png = h.get("/api/q/auth/qr?format=image");
  REQUIRE(png.status == 200);
  CHECK(png.headers.getOr("Content-Type") == "image/png");
  checkPng(png.body);
  CHECK(h.get("/api/q/auth/qr").body == png.body);  // image is the default format

  auto raw = js(h.get("/api/q/auth/qr?format=raw"));
  CHECK(raw["value"].is_string());
  CHECK(!raw["value"].get<std::string>().empty());

  auto asJson = h.call("GET", "/api/q/auth/qr?format=image", "", {{"Accept", "application/json"}});
  REQUIRE(asJson.status == 200);
  CHECK(js(asJson)["mimetype"] == "image/png");
  auto decoded = waha::sim::base64Decode(js(asJson)["data"].get<std::string>());
  REQUIRE(decoded);
  CHECK(*decoded == png.body);

  auto code = h.post("/api/q/auth/request-code", {{"phoneNumber", "12132132130"}});
  CHECK(code.status == 201);
  std::string c = js(code)["code"];
  CHECK(c.size() == 9);
  CHECK(c[4] == '-');
  CHECK(h.post("/api/q/auth/request-code", nlohmann::json::object()).status == 400);

  REQUIRE(h.post("/_sim/sessions/q/pair").status == 201);
  auto late = h.get("/api/q/auth/qr");
  CHECK(late.status == 422);
  CHECK(js(late)["expected"] == nlohmann::json::array({"SCAN_QR_CODE"}));
  CHECK(js(late)["status"] == "WORKING");
  CHECK(h.get("/api/unknown/auth/qr").status == 404);
}

TEST_CASE("session-scoped routes: path, body, query and files, with WAHA's errors") {
  auto dir = waha::test::makeTempDir("wahasim");
  SimHarness h(fastConfig(dir, "wk"));
  REQUIRE(h.post("/api/sessions", {{"name", "default"}, {"start", true}}).status == 201);
  REQUIRE(h.post("/api/sessions", {{"name", "s2"}, {"start", true}}).status == 201);
  REQUIRE(h.waitStatus("s2", "SCAN_QR_CODE"));
  auto notWorking =
      h.post("/api/sendText", {{"session", "s2"}, {"chatId", "1@c.us"}, {"text", "x"}});
  CHECK(notWorking.status == 422);
  CHECK(js(notWorking)["expected"] == nlohmann::json::array({"WORKING"}));
  CHECK(js(notWorking)["session"] == "s2");
  CHECK(js(notWorking)["error"].get<std::string>().find("not as expected") != std::string::npos);

  REQUIRE(h.waitStatus("default", "SCAN_QR_CODE"));
  REQUIRE(h.post("/_sim/sessions/s2/pair").status == 201);
  REQUIRE(h.post("/_sim/sessions/default/pair").status == 201);

  auto chats = h.get("/api/s2/chats");
  REQUIRE(chats.status == 200);
  CHECK(js(chats).is_array());
  CHECK(js(chats)[0]["session"] == "s2");
  CHECK(chats.headers.getOr("X-Waha-Worker") == "wk");
  for (const char* family : {"groups", "labels", "presence", "contacts", "profile", "channels"}) {
    auto r = h.get(std::string("/api/s2/") + family);
    CHECK(r.status == 200);
    CHECK(js(r)["session"] == "s2");
  }

  auto sent = h.post("/api/sendText", {{"session", "s2"}, {"chatId", "1@c.us"}, {"text", "hi"}});
  CHECK(sent.status == 201);
  CHECK(js(sent)["session"] == "s2");
  CHECK(js(sent)["worker"] == "wk");
  CHECK(js(sent)["id"].is_string());
  auto dflt = h.post("/api/sendSeen", {{"chatId", "1@c.us"}});
  CHECK(dflt.status == 201);
  CHECK(js(dflt)["session"] == "default");  // session defaults to "default"
  for (const char* route : {"/api/reaction", "/api/star"}) {
    auto r = h.call("PUT", route, nlohmann::json{{"session", "s2"}, {"messageId", "m"}}.dump());
    CHECK(r.status == 200);
    CHECK(js(r)["session"] == "s2");
  }
  CHECK(h.post("/api/contacts/block", {{"session", "s2"}, {"contactId", "1@c.us"}}).status == 201);
  CHECK(h.post("/api/sendText", {{"session", "ghost"}, {"text", "x"}}).status == 404);
  CHECK(h.call("POST", "/api/sendText", "{not json").status == 400);

  auto msgs = h.get("/api/messages?session=s2&chatId=1%40c.us");
  CHECK(msgs.status == 200);
  CHECK(js(msgs)[0]["session"] == "s2");
  auto check = js(h.get("/api/checkNumberStatus?session=s2&phone=7911"));
  CHECK(check["numberExists"] == true);
  CHECK(check["session"] == "s2");
  CHECK(js(h.get("/api/contacts?session=s2&contactId=1"))["session"] == "s2");
  CHECK(js(h.get("/api/contacts/all"))[0]["session"] == "default");
  auto ghost = h.get("/api/messages?session=ghost");
  CHECK(ghost.status == 404);
  CHECK(js(ghost)["error"] == "Not Found");

  // sendFile takes a multi-MB body; the answer proves it arrived intact, and the file is served.
  std::string payload(3 * 1024 * 1024, 'z');
  for (std::size_t i = 0; i < payload.size(); i += 7) {
    payload[i] = static_cast<char>('a' + i % 26);
  }
  nlohmann::json fileBody = {{"session", "s2"},
                             {"chatId", "1@c.us"},
                             {"file",
                              {{"filename", "big.bin"},
                               {"mimetype", "application/octet-stream"},
                               {"data", waha::sim::base64Encode(payload)}}}};
  std::string raw = fileBody.dump();
  auto file = h.call("POST", "/api/sendFile", raw);
  REQUIRE(file.status == 201);
  CHECK(js(file)["bodyBytes"] == raw.size());
  CHECK(js(file)["sha256"] == waha::sim::sha256Hex(raw));
  CHECK(js(file)["fileSha256"] == waha::sim::sha256Hex(payload));
  auto served = h.get("/api/files/s2/big.bin");
  REQUIRE(served.status == 200);
  CHECK(served.body == payload);
  CHECK(h.get("/api/files/s2/none.bin").status == 404);

  auto made = h.call("POST", "/_sim/files/s2/blob.bin?bytes=100000");
  REQUIRE(made.status == 201);
  auto blob = h.get("/api/files/s2/blob.bin");
  CHECK(blob.body.size() == 100000);
  CHECK(js(made)["sha256"] == waha::sim::sha256Hex(blob.body));
}

TEST_CASE("metrics: waha_sessions by status and engine when enabled") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir);
  cfg.prometheus = true;
  cfg.engine = "GOWS";
  SimHarness h(cfg);
  REQUIRE(h.post("/api/sessions", {{"name", "m1"}, {"start", true}}).status == 201);
  REQUIRE(h.post("/api/sessions", {{"name", "m2"}}).status == 201);
  REQUIRE(h.waitStatus("m1", "SCAN_QR_CODE"));
  REQUIRE(h.post("/_sim/sessions/m1/pair").status == 201);
  auto m = h.get("/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.body.find("waha_sessions{status=\"WORKING\",engine=\"GOWS\"} 1\n") != std::string::npos);
  CHECK(m.body.find("waha_sessions{status=\"STOPPED\",engine=\"GOWS\"} 1\n") != std::string::npos);
  CHECK(m.body.find("waha_sessions{status=\"FAILED\",engine=\"GOWS\"} 0\n") != std::string::npos);
  CHECK(m.body.find("# TYPE waha_sessions gauge") != std::string::npos);
}
