// HubServer over real loopback HTTP, with FakeKubeClient as the API server and a fake
// UpstreamPool standing in for the workers: auth, routing to the right worker, 404/503 answers,
// list merge, and the session API through the WahaSession resource.

#include "hub/hub_server.h"

#include <catch2/catch.hpp>

#include "hub_world.h"

using namespace waha;
using namespace waha::test;
using namespace waha::test::hubworld;

TEST_CASE("hub: API key, probes, refused routes") {
  World w;
  CHECK(httpGet(w.base + "/ping").status == 200);
  auto bad = w.call("GET", "/api/alpha/chats", "", {{"X-Api-Key", "wrong"}});
  CHECK(bad.status == 401);
  CHECK(Json::parse(bad.body) == Json({{"statusCode", 401}, {"message", "Unauthorized"}}));
  CHECK(w.call("GET", "/api/alpha/chats", "", {{"Accept", "*/*"}}).status == 401);
  CHECK(w.call("GET", "/api/server/environment").status == 403);
  CHECK(w.call("GET", "/api/server/version").status == 200);
  CHECK(w.upstream.sent().empty());
  CHECK(w.metrics.render().find("waha_hub_route_misses_total{reason=\"unauthorized\"} 2") !=
        std::string::npos);
}

TEST_CASE("hub: each session's calls reach its worker; unknown 404, unplaced 503") {
  World w;
  auto a = w.call("GET", "/api/alpha/chats?limit=1");
  CHECK(a.status == 200);
  CHECK(a.headers.getOr("X-Waha-Worker") == "10.0.0.1");
  auto b = w.call("POST", "/api/sendText", R"({"session":"beta","text":"x"})");
  CHECK(b.headers.getOr("X-Waha-Worker") == "10.0.0.2");
  auto q = w.call("GET", "/api/messages?session=beta&chatId=1");
  CHECK(q.headers.getOr("X-Waha-Worker") == "10.0.0.2");
  auto sent = w.upstream.sent();
  REQUIRE(sent.size() == 3);
  CHECK(sent[0].target == http::UpstreamTarget{"10.0.0.1", 3000});
  CHECK(sent[0].request.target == "/api/alpha/chats?limit=1");
  CHECK(sent[0].request.headers.getOr("X-Api-Key") == "secret-key");
  CHECK(sent[0].request.headers.getOr("X-Forwarded-For") == "127.0.0.1");
  CHECK(sent[1].request.body == R"({"session":"beta","text":"x"})");

  auto unknown = w.call("GET", "/api/nobody/chats");
  CHECK(unknown.status == 404);
  CHECK(Json::parse(unknown.body)["message"] == "Session not found");
  CHECK(w.call("GET", "/api/other/chats").status == 404);  // another cluster's session
  auto waiting = w.call("GET", "/api/waiting/chats");
  CHECK(waiting.status == 503);
  CHECK(waiting.headers.getOr("Retry-After") == "2");
  CHECK(Json::parse(waiting.body)["statusCode"] == 503);

  // The session moves: its old worker goes, the new assignment arrives.
  w.kube.erase(kPods, "ns", "w-1");
  REQUIRE(waitFor([&] { return w.call("GET", "/api/alpha/chats").status == 503; },
                  std::chrono::seconds(5)));
  w.kube.put(kSessions, session("alpha", "w-2", "10.0.0.2"));
  REQUIRE(waitFor([&] { return w.call("GET", "/api/alpha/chats").status == 200; },
                  std::chrono::seconds(5)));
  CHECK(w.call("GET", "/api/alpha/chats").headers.getOr("X-Waha-Worker") == "10.0.0.2");
}

TEST_CASE("hub: GET /api/sessions merges every worker's list") {
  World w;
  w.upstream.setAnswer("10.0.0.1", Json::array({{{"name", "alpha"}, {"status", "WORKING"}},
                                                {{"name", "old"}, {"status", "STOPPED"}}}));
  w.upstream.setAnswer("10.0.0.2", Json::array({{{"name", "beta"}, {"status", "STARTING"}}}));
  auto r = w.call("GET", "/api/sessions");
  REQUIRE(r.status == 200);
  CHECK(Json::parse(r.body).size() == 2);
  auto all = w.call("GET", "/api/sessions?all=true");
  CHECK(Json::parse(all.body).size() == 3);
  for (const auto& s : w.upstream.sent()) {
    CHECK(s.request.target == "/api/sessions?all=true");
  }
}

TEST_CASE("hub: create, update, stop and delete go through the WahaSession") {
  World w;
  CHECK(w.call("POST", "/api/sessions", R"({"name":"alpha"})").status == 422);
  CHECK(w.call("POST", "/api/sessions", R"({"name":"sessions"})").status == 422);
  auto stopped = w.call("POST", "/api/sessions", R"({"name":"New_One","start":false})");
  CHECK(stopped.status == 201);
  auto created = w.kube.objects(kSessions, "ns");
  auto it = std::find_if(created.begin(), created.end(), [](const Json& s) {
    return s["spec"].value("sessionName", "") == "New_One";
  });
  REQUIRE(it != created.end());
  CHECK((*it)["spec"]["state"] == "Stopped");
  CHECK((*it)["metadata"]["name"].get<std::string>().rfind("new-one-", 0) == 0);

  // Placed by "the operator" while the hub waits: the answer is the worker's session JSON.
  w.upstream.setAnswer("10.0.0.2", Json({{"name", "gamma"}, {"status", "SCAN_QR_CODE"}}));
  std::thread op([&] {
    waitFor([&] { return w.kube.callCount("create") == 2; }, std::chrono::seconds(5));
    w.kube.put(kSessions, session("gamma", "w-2", "10.0.0.2"));
  });
  auto r = w.call("POST", "/api/sessions", R"({"name":"gamma","config":{"debug":true}})");
  op.join();
  CHECK(r.status == 201);
  CHECK(Json::parse(r.body)["status"] == "SCAN_QR_CODE");

  {
    // What the worker confirms is tested in hub_session_api_test; here only the writes.
    FakeOperator op(
        w, "beta", [](const Json& s) { return s["spec"].contains("config"); },
        status("Running", "WORKING", "w-2", "10.0.0.2"));
    CHECK(w.call("PUT", "/api/sessions/beta", R"({"config":{"metadata":{"a":"b"}}})").status ==
          200);
  }
  {
    FakeOperator op(
        w, "beta", [](const Json& s) { return s["spec"].value("state", "") == "Stopped"; },
        status("Stopped", "STOPPED", "w-2", "10.0.0.2"));
    CHECK(w.call("POST", "/api/sessions/beta/stop").status == 201);
  }
  Json beta = w.find("beta");
  CHECK(beta["spec"]["config"] == Json({{"metadata", {{"a", "b"}}}}));
  CHECK(beta["spec"]["state"] == "Stopped");
  CHECK(w.call("DELETE", "/api/sessions/beta").status == 200);
  CHECK(w.call("DELETE", "/api/sessions/beta").status == 200);  // idempotent, like WAHA
  CHECK(w.kube.objects(kSessions, "ns").size() == 5);
  CHECK(w.call("PUT", "/api/sessions/nobody", "{}").status == 404);
}
