// HubServer over real loopback HTTP, with FakeKubeClient as the API server and a fake
// UpstreamPool standing in for the workers: auth, routing to the right worker, 404/503 answers,
// list merge, and the session API through the WahaSession resource.

#include "hub/hub_server.h"

#include <catch2/catch.hpp>
#include <mutex>

#include "common/base64.h"
#include "support/fake_kube_client.h"
#include "support/test_http.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::test;
using Json = nlohmann::json;

namespace {

const kube::ResourceRef kSessions{"waha.io", "v1alpha1", "wahasessions", true};
const kube::ResourceRef kClusters{"waha.io", "v1alpha1", "wahaclusters", true};
const kube::ResourceRef kPods{"", "v1", "pods", true};
const kube::ResourceRef kSecrets{"", "v1", "secrets", true};

// Answers every forward as the worker at target.host would, naming itself in X-Waha-Worker.
class FakeUpstream : public http::UpstreamPool {
 public:
  struct Sent {
    http::UpstreamTarget target;
    http::UpstreamRequest request;
  };
  void forward(const http::UpstreamTarget& target, http::UpstreamRequest request,
               std::shared_ptr<http::Exchange> exchange, http::ForwardHooks hooks) override {
    http::Response r = http::Response::json(200, Json({{"path", request.target}}).dump());
    r.headers.set("X-Waha-Worker", target.host);
    record(target, std::move(request));
    exchange->respond(r);
    if (hooks.onDone) {
      hooks.onDone({200, true, std::chrono::duration<double>(0.001), ""});
    }
  }
  void fetch(const http::UpstreamTarget& target, http::UpstreamRequest request,
             std::function<void(Result<http::Response>)> done) override {
    record(target, request);
    std::lock_guard<std::mutex> lk(mu_);
    auto it = lists_.find(target.host);
    done(it == lists_.end() ? Result<http::Response>(Error::make(0, "", "refused"))
                            : Result<http::Response>(http::Response::json(200, it->second)));
  }
  void stop() override {}

  void setAnswer(const std::string& host, const Json& body) {
    std::lock_guard<std::mutex> lk(mu_);
    lists_[host] = body.dump();
  }
  std::vector<Sent> sent() {
    std::lock_guard<std::mutex> lk(mu_);
    return sent_;
  }

 private:
  void record(const http::UpstreamTarget& t, http::UpstreamRequest r) {
    std::lock_guard<std::mutex> lk(mu_);
    sent_.push_back({t, std::move(r)});
  }
  std::mutex mu_;
  std::vector<Sent> sent_;
  std::map<std::string, std::string> lists_;
};

Json pod(const std::string& name, const std::string& ip, bool ready) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"labels", {{"waha.io/cluster", "pool"}, {"app.kubernetes.io/component", "worker"}}}}},
          {"status",
           {{"podIP", ip},
            {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

Json session(const std::string& name, const std::string& worker, const std::string& ip,
             const std::string& cluster = "pool") {
  Json s = {{"apiVersion", "waha.io/v1alpha1"},
            {"kind", "WahaSession"},
            {"metadata", {{"name", name}, {"namespace", "ns"}}},
            {"spec", {{"clusterRef", {{"name", cluster}}}}}};
  if (!worker.empty()) {
    s["status"] = {
        {"phase", "Running"}, {"worker", worker}, {"workerIP", ip}, {"wahaStatus", "SCAN_QR_CODE"}};
  }
  return s;
}

struct World {
  FakeKubeClient kube;
  FakeUpstream upstream;
  StdRandom random;
  metrics::Metrics metrics;
  std::unique_ptr<hub::HubServer> hub;
  std::string base;
  std::map<std::string, std::string> key{{"X-Api-Key", "secret-key"}};

  World() {
    kube.put(kSecrets, {{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata", {{"name", "key"}, {"namespace", "ns"}}},
                        {"data", {{"api-key", base64Encode("secret-key")}}}});
    kube.put(kClusters, {{"apiVersion", "waha.io/v1alpha1"},
                         {"kind", "WahaCluster"},
                         {"metadata", {{"name", "pool"}, {"namespace", "ns"}}},
                         {"spec", {{"apiKeySecretRef", {{"name", "key"}, {"key", "api-key"}}}}}});
    kube.put(kPods, pod("w-1", "10.0.0.1", true));
    kube.put(kPods, pod("w-2", "10.0.0.2", true));
    kube.put(kSessions, session("alpha", "w-1", "10.0.0.1"));
    kube.put(kSessions, session("beta", "w-2", "10.0.0.2"));
    kube.put(kSessions, session("waiting", "", ""));
    kube.put(kSessions, session("other", "w-1", "10.0.0.1", "another-cluster"));
    hub::HubOptions o;
    o.cluster = "pool";
    o.ns = "ns";
    o.createWait = std::chrono::seconds(5);
    hub = std::make_unique<hub::HubServer>(kube, upstream, nullptr, SteadyClock::instance(), random,
                                           metrics, o);
    REQUIRE(hub->start().ok());
    base = "http://127.0.0.1:" + std::to_string(hub->port());
    REQUIRE(waitFor([&] { return hub->ready(); }, std::chrono::seconds(10)));
  }
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  std::map<std::string, std::string> headers = {}) {
    if (headers.empty()) {
      headers = key;
    }
    return httpRequest(method, base + path, body, headers);
  }
};

}  // namespace

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

  CHECK(w.call("PUT", "/api/sessions/beta", R"({"config":{"metadata":{"a":"b"}}})").status == 200);
  CHECK(w.call("POST", "/api/sessions/beta/stop").status == 201);
  Json beta;
  for (const auto& s : w.kube.objects(kSessions, "ns")) {
    if (s["metadata"]["name"] == "beta") {
      beta = s;
    }
  }
  CHECK(beta["spec"]["config"] == Json({{"metadata", {{"a", "b"}}}}));
  CHECK(beta["spec"]["state"] == "Stopped");
  CHECK(w.call("DELETE", "/api/sessions/beta").status == 200);
  CHECK(w.call("DELETE", "/api/sessions/beta").status == 200);  // idempotent, like WAHA
  CHECK(w.kube.objects(kSessions, "ns").size() == 5);
  CHECK(w.call("PUT", "/api/sessions/nobody", "{}").status == 404);
}
