// What the hub answers to start, stop and PUT of a session: WAHA answers once its worker has
// done it, so the hub waits (bounded by --create-wait) for the operator's status to show the
// worker confirmed the write, and answers 202 with the last status it saw when that takes longer.

#include <catch2/catch.hpp>

#include "hub_world.h"

using namespace waha;
using namespace waha::test;
using namespace waha::test::hubworld;

namespace {

std::function<bool(const Json&)> stateIs(const std::string& state) {
  return [state](const Json& s) { return s.value("/spec/state"_json_pointer, "") == state; };
}

// A running session whose spec is at generation 2 while the operator has applied generation 1.
Json behindSession(const std::string& name) {
  Json s = session(name, "w-1", "10.0.0.1");
  s["metadata"]["generation"] = 2;
  s["status"] = status("Running", "WORKING", "w-1", "10.0.0.1", 1);
  return s;
}

}  // namespace

TEST_CASE("hub: stop and start answer the worker's status once the operator reports it") {
  World w;
  // Stop: the answer waits for phase Stopped, then is the worker's own session JSON.
  w.upstream.setAnswer("10.0.0.2",
                       Json({{"name", "beta"}, {"status", "STOPPED"}, {"me", nullptr}}));
  {
    FakeOperator op(w, "beta", stateIs("Stopped"), status("Stopped", "STOPPED", "w-2", "10.0.0.2"));
    auto r = w.call("POST", "/api/sessions/beta/stop");
    CHECK(op.reported());  // not answered before the operator's status
    CHECK(r.status == 201);
    CHECK(Json::parse(r.body)["status"] == "STOPPED");
    CHECK(r.headers.getOr("X-Waha-Worker") == "10.0.0.2");
  }
  // Start, through the deprecated body route: a report of an earlier generation does not confirm
  // it, even one showing the session up (a status left from before the stop was acted on).
  w.upstream.setAnswer("10.0.0.2", Json({{"name", "beta"}, {"status", "STARTING"}}));
  {
    std::int64_t before = w.find("beta")["metadata"].value("generation", std::int64_t{1});
    FakeOperator early(w, "beta", stateIs("Running"),
                       status("Starting", "STARTING", "w-2", "10.0.0.2", before));
    FakeOperator op(
        w, "beta",
        [&early](const Json& s) {
          return early.reported() && s.value("/status/phase"_json_pointer, "") == "Starting";
        },
        status("Starting", "STARTING", "w-2", "10.0.0.2"));
    auto r = w.call("POST", "/api/sessions/start", R"({"name":"beta"})");
    CHECK(op.reported());
    CHECK(r.status == 201);
    CHECK(Json::parse(r.body)["status"] == "STARTING");
    CHECK(r.headers.getOr("X-Waha-Worker") == "10.0.0.2");
  }
  // Stopped without a worker (never placed): the answer is built from the resource's status.
  {
    FakeOperator op(w, "waiting", stateIs("Stopped"), status("Stopped", ""));
    auto r = w.call("POST", "/api/sessions/waiting/stop");
    CHECK(op.reported());
    CHECK(r.status == 201);
    CHECK(Json::parse(r.body) ==
          Json({{"name", "waiting"}, {"status", "STOPPED"}, {"config", nullptr}, {"me", nullptr}}));
  }
  CHECK(w.call("POST", "/api/sessions/nobody/start").status == 404);
}

TEST_CASE("hub: PUT answers once the operator applied the new config's generation") {
  World w;
  w.kube.put(kSessions, behindSession("delta"));
  REQUIRE(waitFor([&] { return w.call("GET", "/api/delta/chats").status == 200; }));
  w.upstream.setAnswer("10.0.0.1", Json({{"name", "delta"}, {"status", "WORKING"}}));
  Json config = {{"metadata", {{"team", "a"}}}};
  {
    FakeOperator op(
        w, "delta",
        [&](const Json& s) { return s.value("/spec/config"_json_pointer, Json()) == config; },
        status("Running", "WORKING", "w-1", "10.0.0.1"));  // the PUT's generation observed
    auto r = w.call("PUT", "/api/sessions/delta", Json({{"config", config}}).dump());
    CHECK(op.reported());  // WORKING at generation 1 did not count as applied
    CHECK(r.status == 200);
    CHECK(Json::parse(r.body)["status"] == "WORKING");
  }
  // A stopped session only stores its config, as on WAHA: answered at once.
  Json stopped = session("epsilon", "", "");
  stopped["spec"]["state"] = "Stopped";
  stopped["status"] = status("Stopped", "");
  w.kube.put(kSessions, stopped);
  REQUIRE(waitFor([&] { return w.call("GET", "/api/epsilon/chats").status == 503; }));
  auto r = w.call("PUT", "/api/sessions/epsilon", R"({"config":{"debug":true}})");
  CHECK(r.status == 200);
  CHECK(Json::parse(r.body) == Json({{"name", "epsilon"},
                                     {"status", "STOPPED"},
                                     {"config", {{"debug", true}}},
                                     {"me", nullptr}}));
}

TEST_CASE("hub: start, stop and PUT answer 202 with the last status seen when not confirmed") {
  World w(std::chrono::seconds(1));  // no operator here: every wait runs out
  w.kube.put(kSessions, behindSession("delta"));
  REQUIRE(waitFor([&] { return w.call("GET", "/api/delta/chats").status == 200; }));

  auto stop = w.call("POST", "/api/sessions/beta/stop");
  CHECK(stop.status == 202);
  auto body = Json::parse(stop.body);
  CHECK(body["name"] == "beta");
  CHECK(body["status"] == "SCAN_QR_CODE");  // what the worker last reported, not the wish
  CHECK(body["me"] == nullptr);
  CHECK(body["message"].get<std::string>().find("poll GET /api/sessions/beta") !=
        std::string::npos);
  CHECK(w.find("beta")["spec"]["state"] == "Stopped");  // written all the same

  auto start = w.call("POST", "/api/sessions/waiting/start");
  CHECK(start.status == 202);
  CHECK(Json::parse(start.body)["status"] == "STARTING");  // not placed: no WAHA status yet

  auto put = w.call("PUT", "/api/sessions/delta", R"({"config":{"debug":true}})");
  CHECK(put.status == 202);
  CHECK(Json::parse(put.body)["status"] == "WORKING");
  CHECK(Json::parse(put.body)["config"] == Json({{"debug", true}}));
  // Nothing was fetched from a worker for an answer it had not confirmed.
  for (const auto& s : w.upstream.sent()) {
    CHECK(s.request.target.rfind("/api/sessions/", 0) != 0);
  }
}

TEST_CASE("hub: waiting session writes hold no thread; a stopping hub answers them with 202") {
  World w(std::chrono::seconds(60));  // no operator: the waits would run a minute
  const int n = 8;                    // twice the control threads
  for (int i = 0; i < n; ++i) {
    w.kube.put(kSessions, session("bulk-" + std::to_string(i), "w-1", "10.0.0.1"));
  }
  REQUIRE(waitFor([&] { return w.call("GET", "/api/bulk-7/chats").status == 200; }));
  std::vector<int> codes(n, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back([&w, &codes, i] {
      codes[i] = w.call("POST", "/api/sessions/bulk-" + std::to_string(i) + "/stop").status;
    });
  }
  // Every stop is written while the earlier ones still wait: a wait that held a control thread
  // would leave the last four unwritten for a minute.
  bool allWritten = waitFor(
      [&] {
        for (int i = 0; i < n; ++i) {
          if (w.find("bulk-" + std::to_string(i)).value("/spec/state"_json_pointer, "") !=
              "Stopped") {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(10));
  CHECK(allWritten);
  w.hub->stop();  // the pending waits end now, each with its 202
  for (auto& t : clients) {
    t.join();
  }
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(codes[i] == 202);
  }
}
