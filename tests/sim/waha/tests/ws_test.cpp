// The WebSocket /ws route: session.status and message events, filters and the API key.

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "http/websocket.h"
#include "sim_harness.h"
#include "support/ws_listener.h"

using waha::sim::testing::fastConfig;
using waha::sim::testing::js;
using waha::sim::testing::SimHarness;
using waha::test::WsListener;
namespace http = waha::http;

namespace {

std::string wsUrl(const SimHarness& h, const std::string& query) {
  return "ws://" + h.base().substr(7) + "/ws" + query;
}

waha::Result<std::shared_ptr<http::WebSocket>> open(http::WsConnector& c, const SimHarness& h,
                                                    const std::string& query,
                                                    const std::string& key = "") {
  return waha::test::openWs(c, wsUrl(h, query), key);
}

// Subscribes `l` to `query` (the test stops at a refused subscription).
std::shared_ptr<http::WebSocket> subscribe(http::WsConnector& c, const SimHarness& h,
                                           const std::string& query, WsListener& l,
                                           const std::string& key = "") {
  auto ws = waha::test::subscribeWs(c, wsUrl(h, query), l, key);
  INFO(query << ": " << (ws.ok() ? "" : ws.error().str()));
  REQUIRE(ws.ok());
  return *ws;
}

}  // namespace

TEST_CASE("ws: session.status events arrive in order, for the subscribed session only") {
  auto dir = waha::test::makeTempDir("wahasim");
  SimHarness h(fastConfig(dir));
  WsListener one, all;
  auto conn = http::makeBeastWsConnector();
  auto wsOne = subscribe(*conn, h, "?session=a&events=session.status", one);
  auto wsAll = subscribe(*conn, h, "?session=*&events=*", all);
  REQUIRE(waha::test::waitFor([&] { return h.sim().eventSubscribers() == 2; }));

  REQUIRE(h.post("/api/sessions", {{"name", "a"}, {"start", true}}).status == 201);
  REQUIRE(h.post("/api/sessions", {{"name", "b"}, {"start", true}}).status == 201);
  REQUIRE(h.waitStatus("a", "SCAN_QR_CODE"));
  REQUIRE(h.post("/_sim/sessions/a/pair", {{"id", "79000000001@c.us"}}).status == 201);
  std::vector<std::string> want = {"STARTING", "SCAN_QR_CODE", "WORKING"};
  REQUIRE(waha::test::waitFor([&] { return one.statuses("a") == want; }));
  REQUIRE(waha::test::waitFor([&] { return all.statuses("a") == want; }));
  REQUIRE(waha::test::waitFor([&] { return all.statuses("b").size() == 2; }));
  CHECK(one.statuses("b").empty());

  auto events = one.snapshot();
  const auto& working = events.back();
  CHECK(working["id"].get<std::string>().rfind("evt_", 0) == 0);
  CHECK(working["timestamp"].is_number_integer());
  CHECK(working["me"]["id"] == "79000000001@c.us");
  CHECK(working["engine"] == "NOWEB");
  CHECK(working["environment"]["tier"] == "CORE");
  CHECK(working["environment"]["browser"].is_null());
  CHECK(events.front()["me"].is_null());

  REQUIRE(h.post("/api/sessions/a/stop").status == 201);
  want.push_back("STOPPED");
  REQUIRE(waha::test::waitFor([&] { return one.statuses("a") == want; }));
  conn->stop();
}

TEST_CASE("ws: the events filter and the message hook") {
  auto dir = waha::test::makeTempDir("wahasim");
  SimHarness h(fastConfig(dir));
  WsListener msgs, both;
  auto conn = http::makeBeastWsConnector();
  auto wsMsgs = subscribe(*conn, h, "?session=*&events=message", msgs);
  auto wsBoth = subscribe(*conn, h, "?session=a,b&events=message,session.status", both);
  REQUIRE(waha::test::waitFor([&] { return h.sim().eventSubscribers() == 2; }));

  REQUIRE(h.post("/api/sessions", {{"name", "a"}, {"start", true}}).status == 201);
  REQUIRE(h.waitStatus("a", "SCAN_QR_CODE"));
  // Not WORKING yet: no message can arrive.
  CHECK(h.post("/_sim/sessions/a/message", {{"from", "79111111111@c.us"}, {"body", "hi"}}).status ==
        422);
  REQUIRE(h.post("/_sim/sessions/a/pair").status == 201);
  auto sent = h.post("/_sim/sessions/a/message", {{"from", "79111111111@c.us"}, {"body", "hi"}});
  REQUIRE(sent.status == 201);

  REQUIRE(waha::test::waitFor([&] { return msgs.snapshot().size() == 1; }));
  auto m = msgs.snapshot().front();
  CHECK(m["event"] == "message");
  CHECK(m["session"] == "a");
  CHECK(m["payload"]["from"] == "79111111111@c.us");
  CHECK(m["payload"]["body"] == "hi");
  CHECK(m["payload"]["fromMe"] == false);
  CHECK(m["payload"]["hasMedia"] == false);
  CHECK(m["payload"]["id"] == js(sent)["id"]);
  // The status subscriber got the statuses and the message, in order.
  REQUIRE(waha::test::waitFor([&] { return both.snapshot().size() == 4; }));
  CHECK(both.snapshot().back()["event"] == "message");
  CHECK(msgs.snapshot().size() == 1);  // never a session.status
  conn->stop();
}

TEST_CASE("ws: the API key by header or query; a wrong or missing key is refused with 401") {
  auto dir = waha::test::makeTempDir("wahasim");
  auto cfg = fastConfig(dir);
  cfg.apiKey = "s3cret";
  SimHarness h(cfg);
  h.useKey("s3cret");
  WsListener byHeader, byQuery;  // outlive the connector, whose threads call into them
  auto conn = http::makeBeastWsConnector();

  auto missing = open(*conn, h, "?session=*");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == 401);
  auto wrong = open(*conn, h, "?session=*", "nope");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == 401);
  auto wrongQuery = open(*conn, h, "?session=*&x-api-key=nope");
  REQUIRE_FALSE(wrongQuery.ok());
  CHECK(wrongQuery.error().code == 401);

  auto a = subscribe(*conn, h, "?session=*", byHeader, "s3cret");
  auto b = subscribe(*conn, h, "?session=*&x-api-key=s3cret", byQuery);
  REQUIRE(waha::test::waitFor([&] { return h.sim().eventSubscribers() == 2; }));
  REQUIRE(h.post("/api/sessions", {{"name", "k"}, {"start", true}}).status == 201);
  REQUIRE(waha::test::waitFor([&] { return byHeader.statuses("k").size() == 2; }));
  REQUIRE(waha::test::waitFor([&] { return byQuery.statuses("k").size() == 2; }));
  conn->stop();
}
