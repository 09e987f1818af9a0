// HttpWahaClient against a tiny in-process server that answers the way real WAHA 2024.10 does
// (../shared/docs/waha-api.md): 201 on create, 422 for "already exists"/"already started",
// NestJS-shaped errors, idempotent DELETE.

#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <mutex>

#include "http/client.h"
#include "http/server.h"
#include "waha/http_client.h"

using namespace waha;
using namespace waha::wahaapi;

namespace {

http::Response nest(int code, const std::string& msg) {
  return http::Response::json(
      code, "{\"statusCode\":" + std::to_string(code) + ",\"message\":\"" + msg + "\"}");
}

// Just enough of WAHA's session API to exercise the client's mapping.
class MiniWaha {
 public:
  MiniWaha() : server_(http::makeBeastServer({})) {
    auto st =
        server_->start(http::syncHandler([this](const http::Request& r) { return handle(r); }));
    REQUIRE(st.ok());
    ep_.baseUrl = "http://127.0.0.1:" + std::to_string(server_->port());
    ep_.apiKey = "secret-key";
  }
  const Endpoint& ep() const { return ep_; }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lk(mu_);
    return calls_;
  }

 private:
  http::Response handle(const http::Request& r) {
    std::lock_guard<std::mutex> lk(mu_);
    calls_.push_back(r.method + " " + r.target);
    if (r.header("X-Api-Key") != "secret-key") {
      return nest(401, "Unauthorized");
    }
    if (r.method == "GET" && r.path == "/api/sessions") {
      nlohmann::json arr = nlohmann::json::array();
      for (auto& [name, status] : sessions_) {
        arr.push_back(
            {{"name", name},
             {"status", status},
             {"config", {{"debug", false}}},
             {"me", status == "WORKING" ? nlohmann::json{{"id", "7911@c.us"}, {"pushName", "Ann"}}
                                        : nlohmann::json(nullptr)}});
      }
      arr.push_back({{"status", "WORKING"}});  // malformed entry: skipped, not fatal
      return http::Response::json(200, arr.dump());
    }
    if (r.method == "POST" && r.path == "/api/sessions") {
      auto body = nlohmann::json::parse(r.body);
      std::string name = body["name"];
      if (!body.contains("start")) {
        return nest(400, "start must be sent");
      }
      if (sessions_.count(name) != 0) {
        return nest(422, "Session '" + name + "' already exists. Use PUT to update it.");
      }
      sessions_[name] = body["start"].get<bool>() ? "STARTING" : "STOPPED";
      return http::Response{201, {}, ""};  // empty body, as real WAHA may answer
    }
    auto prefix = std::string("/api/sessions/");
    if (r.path.rfind(prefix, 0) == 0) {
      auto rest = r.path.substr(prefix.size());
      auto slash = rest.find('/');
      auto name = rest.substr(0, slash);
      auto action = slash == std::string::npos ? "" : rest.substr(slash + 1);
      auto it = sessions_.find(name);
      if (r.method == "DELETE") {
        sessions_.erase(name);
        return http::Response{200, {}, ""};
      }
      if (it == sessions_.end()) {
        return nest(404, "Session not found");
      }
      if (r.method == "GET") {
        return http::Response::json(200,
                                    nlohmann::json{{"name", name}, {"status", it->second}}.dump());
      }
      if (action == "start") {
        if (it->second != "STOPPED") {
          return nest(422, "Session '" + name + "' is already started.");
        }
        it->second = "STARTING";
        return http::Response::json(201, "{}");
      }
      if (action == "stop") {
        it->second = "STOPPED";
        return http::Response::json(201, "{}");
      }
      if (action == "logout") {
        return http::Response::json(201, "{}");
      }
      if (r.method == "PUT") {
        return http::Response::json(200, "{}");
      }
    }
    return nest(500, "unexpected " + r.method + " " + r.path);
  }

  std::unique_ptr<http::HttpServer> server_;
  Endpoint ep_;
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::map<std::string, std::string> sessions_{{"busy", "WORKING"}};
};

template <typename T>
Result<T> await(const std::function<void(Callback<T>)>& call) {
  std::promise<Result<T>> p;
  call([&](Result<T> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

std::unique_ptr<WahaClient> makeClient() {
  auto http = http::makeCpprestClient({});
  REQUIRE(http.ok());
  return makeHttpWahaClient(*http, {});
}

}  // namespace

TEST_CASE("Create sends name and start, and 'already exists' is success") {
  MiniWaha w;
  auto c = makeClient();
  auto r1 = await<CreateOutcome>([&](auto cb) {
    c->create(w.ep(), "s1", {{"debug", true}}, true, cb);
  });
  REQUIRE(r1.ok());
  REQUIRE(*r1 == CreateOutcome::Created);
  auto r2 = await<CreateOutcome>([&](auto cb) { c->create(w.ep(), "s1", nullptr, true, cb); });
  REQUIRE(r2.ok());
  REQUIRE(*r2 == CreateOutcome::AlreadyExisted);
}

TEST_CASE("Lifecycle calls map WAHA's answers") {
  MiniWaha w;
  auto c = makeClient();
  REQUIRE(await<void>([&](auto cb) { c->start(w.ep(), "busy", cb); }).ok());  // already started
  REQUIRE(await<void>([&](auto cb) { c->stop(w.ep(), "busy", cb); }).ok());
  REQUIRE(await<void>([&](auto cb) { c->start(w.ep(), "busy", cb); }).ok());
  REQUIRE(await<void>([&](auto cb) { c->update(w.ep(), "busy", {{"debug", true}}, cb); }).ok());
  REQUIRE(await<void>([&](auto cb) { c->logout(w.ep(), "busy", cb); }).ok());
  auto missing = await<void>([&](auto cb) { c->stop(w.ep(), "nope", cb); });
  REQUIRE_FALSE(missing.ok());
  REQUIRE(missing.error().code == 404);
  REQUIRE(missing.error().message.find("Session not found") != std::string::npos);
  REQUIRE_FALSE(missing.error().retryable);
  // Delete is idempotent.
  REQUIRE(await<void>([&](auto cb) { c->remove(w.ep(), "busy", cb); }).ok());
  REQUIRE(await<void>([&](auto cb) { c->remove(w.ep(), "busy", cb); }).ok());
}

TEST_CASE("List asks for all sessions and tolerates malformed entries") {
  MiniWaha w;
  auto c = makeClient();
  auto r = await<std::vector<SessionInfo>>([&](auto cb) { c->list(w.ep(), cb); });
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  REQUIRE((*r)[0].name == "busy");
  REQUIRE((*r)[0].status == "WORKING");
  REQUIRE((*r)[0].me->id == "7911@c.us");
  REQUIRE(w.calls().front() == "GET /api/sessions?all=true");
  auto one = await<SessionInfo>([&](auto cb) { c->get(w.ep(), "busy", cb); });
  REQUIRE(one.ok());
  REQUIRE(one->status == "WORKING");
}

TEST_CASE("A wrong key is a 401, an unreachable worker a retryable error") {
  MiniWaha w;
  auto c = makeClient();
  Endpoint bad = w.ep();
  bad.apiKey = "wrong";
  auto r = await<std::vector<SessionInfo>>([&](auto cb) { c->list(bad, cb); });
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().code == 401);

  Endpoint gone{"http://127.0.0.1:1", "k"};
  auto g = await<void>([&](auto cb) { c->stop(gone, "x", cb); });
  REQUIRE_FALSE(g.ok());
  REQUIRE(g.error().code == 0);
  REQUIRE(g.error().retryable);
  REQUIRE(g.error().message.find("POST http://127.0.0.1:1/api/sessions/x/stop") == 0);
  // The key never appears in error messages.
  REQUIRE(r.error().message.find("wrong") == std::string::npos);
}
