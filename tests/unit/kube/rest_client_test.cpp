#include <atomic>
#include <catch2/catch.hpp>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "http/server.h"
#include "kube/rest_client.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;

namespace {

const ResourceRef kPods{"", "v1", "pods", true};
const ResourceRef kDeployments{"apps", "v1", "deployments", true};
const ResourceRef kNodes{"", "v1", "nodes", false};

std::string status(int code, const std::string& reason, const std::string& message) {
  return Json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
              {"code", code},     {"reason", reason},   {"message", message}}
      .dump();
}

// A fake API server on port 0: records every request and answers from a script (queued answers
// first, then `fallback`).
struct FakeApi {
  std::unique_ptr<http::HttpServer> server = http::makeBeastServer({});
  std::mutex mu;
  std::vector<http::Request> seen;
  std::deque<http::Response> queued;
  std::function<http::Response(const http::Request&)> fallback = [](const http::Request&) {
    return http::Response::json(200, R"({"kind":"Pod","metadata":{"name":"p"}})");
  };
  std::function<void(http::Request&, std::shared_ptr<http::Exchange>)> streamer;

  FakeApi() {
    REQUIRE(server
                ->start([this](http::Request& r, std::shared_ptr<http::Exchange> ex) {
                  std::unique_lock<std::mutex> lk(mu);
                  seen.push_back(r);
                  if (r.queryParam("watch") && streamer) {
                    auto s = streamer;
                    lk.unlock();
                    s(r, ex);
                    return;
                  }
                  if (!queued.empty()) {
                    auto res = queued.front();
                    queued.pop_front();
                    ex->respond(res);
                    return;
                  }
                  auto fb = fallback;
                  lk.unlock();
                  ex->respond(fb(r));
                })
                .ok());
  }
  ~FakeApi() { server->stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  void enqueue(http::Response r) {
    std::lock_guard<std::mutex> lk(mu);
    queued.push_back(std::move(r));
  }
  std::vector<http::Request> requests() {
    std::lock_guard<std::mutex> lk(mu);
    return seen;
  }
  http::Request last() {
    std::lock_guard<std::mutex> lk(mu);
    return seen.back();
  }
};

struct Harness {
  FakeApi api;
  ManualClock clock;
  FixedRandom random{0.0};
  std::vector<Duration> sleeps;
  std::vector<std::string> hooks;
  std::mutex hookMu;
  std::unique_ptr<RestKubeClient> client;

  explicit Harness(std::function<void(RestOptions&)> tweak = {}) {
    RestOptions o;
    o.server = api.url();
    o.token = [] { return std::string("s3cret"); };
    o.sleep = [this](Duration d) { sleeps.push_back(d); };
    o.onRequest = [this](const std::string& m, int code, const std::string& host) {
      std::lock_guard<std::mutex> lk(hookMu);
      hooks.push_back(m + " " + std::to_string(code) + " " + host);
    };
    if (tweak) {
      tweak(o);
    }
    auto http = http::makeCpprestClient({});
    REQUIRE(http.ok());
    client = std::make_unique<RestKubeClient>(*http, o, clock, random);
  }
};

http::Response withHeader(http::Response r, const std::string& name, const std::string& value) {
  r.headers.set(name, value);
  return r;
}

}  // namespace

TEST_CASE("Verbs, paths, query parameters and content types follow the API conventions") {
  Harness h;
  REQUIRE(h.client->get(kPods, "ns1", "p").ok());
  auto r = h.api.last();
  REQUIRE(r.method == "GET");
  REQUIRE(r.target == "/api/v1/namespaces/ns1/pods/p");
  REQUIRE(r.header("authorization") == "Bearer s3cret");
  REQUIRE(r.header("accept") == "application/json");

  REQUIRE(h.client->get(kNodes, "", "n1").ok());
  REQUIRE(h.api.last().target == "/api/v1/nodes/n1");
  REQUIRE(h.client->get(kDeployments, "ns1", "d", "scale").ok());
  REQUIRE(h.api.last().target == "/apis/apps/v1/namespaces/ns1/deployments/d/scale");

  Json obj = {{"metadata", {{"name", "d"}, {"resourceVersion", "7"}}}, {"status", {{"x", 1}}}};
  REQUIRE(h.client->create(kDeployments, "ns1", obj).ok());
  r = h.api.last();
  REQUIRE(r.method == "POST");
  REQUIRE(r.target == "/apis/apps/v1/namespaces/ns1/deployments");
  REQUIRE(r.header("content-type") == "application/json");
  REQUIRE(Json::parse(r.body) == obj);

  REQUIRE(h.client->update(kDeployments, "ns1", obj, "status").ok());
  r = h.api.last();
  REQUIRE(r.method == "PUT");
  REQUIRE(r.target == "/apis/apps/v1/namespaces/ns1/deployments/d/status");

  struct PatchCase {
    PatchType type;
    std::string contentType;
  };
  for (auto pc : {PatchCase{PatchType::Merge, "application/merge-patch+json"},
                  PatchCase{PatchType::Json, "application/json-patch+json"},
                  PatchCase{PatchType::StrategicMerge, "application/strategic-merge-patch+json"}}) {
    REQUIRE(h.client->patch(kDeployments, "ns1", "d", pc.type, "{}").ok());
    REQUIRE(h.api.last().header("content-type") == pc.contentType);
    REQUIRE(h.api.last().method == "PATCH");
  }
  REQUIRE(h.client
              ->patch(kDeployments, "ns1", "d", PatchType::Apply, "{\"spec\":{}}",
                      {"waha-operator", true}, "status")
              .ok());
  r = h.api.last();
  REQUIRE(r.header("content-type") == "application/apply-patch+yaml");
  REQUIRE(r.target ==
          "/apis/apps/v1/namespaces/ns1/deployments/d/status?fieldManager=waha-operator"
          "&force=true");
  auto noManager = h.client->patch(kDeployments, "ns1", "d", PatchType::Apply, "{}");
  REQUIRE(noManager.error().code == 400);

  DeleteOptions del;
  del.propagationPolicy = "Foreground";
  del.preconditionResourceVersion = "9";
  REQUIRE(h.client->remove(kPods, "ns1", "p", del).ok());
  r = h.api.last();
  REQUIRE(r.method == "DELETE");
  Json body = Json::parse(r.body);
  REQUIRE(body["propagationPolicy"] == "Foreground");
  REQUIRE(body["preconditions"]["resourceVersion"] == "9");
  REQUIRE(body["kind"] == "DeleteOptions");
}

TEST_CASE("List encodes selectors and paging and fills kind/apiVersion of items") {
  Harness h;
  h.api.enqueue(http::Response::json(
      200, R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42",
      "continue":"tok2"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})"));
  ListOptions lo;
  lo.labelSelector = "app=waha,tier in (a,b)";
  lo.fieldSelector = "metadata.name=a";
  lo.limit = 500;
  lo.continueToken = "tok1";
  auto res = h.client->list(kPods, "", lo);
  REQUIRE(res.ok());
  auto r = h.api.last();
  REQUIRE(r.path == "/api/v1/pods");
  REQUIRE(r.queryParam("labelSelector") == "app=waha,tier in (a,b)");
  REQUIRE(r.queryParam("fieldSelector") == "metadata.name=a");
  REQUIRE(r.queryParam("limit") == "500");
  REQUIRE(r.queryParam("continue") == "tok1");
  REQUIRE(res->resourceVersion == "42");
  REQUIRE(res->continueToken == "tok2");
  REQUIRE(res->items.size() == 2);
  REQUIRE(res->items[1]["kind"] == "Pod");
  REQUIRE(res->items[1]["apiVersion"] == "v1");
}

TEST_CASE("Status bodies become Errors with code, reason, message and retryability") {
  Harness h;
  h.api.enqueue(http::Response::json(404, status(404, "NotFound", "pods \"p\" not found")));
  auto nf = h.client->get(kPods, "ns", "p");
  REQUIRE(nf.error().code == 404);
  REQUIRE(nf.error().reason == "NotFound");
  REQUIRE(nf.error().message == "pods \"p\" not found");
  REQUIRE_FALSE(nf.error().retryable);

  h.api.enqueue(http::Response::json(409, status(409, "Conflict", "the object has been modified")));
  auto conflict = h.client->update(kPods, "ns", {{"metadata", {{"name", "p"}}}});
  REQUIRE(conflict.error().reason == "Conflict");

  h.api.enqueue(http::Response::json(422, status(422, "Invalid", "spec.replicas: Invalid value")));
  auto invalid = h.client->create(kPods, "ns", {{"metadata", {{"name", "p"}}}});
  REQUIRE(invalid.error().code == 422);
  REQUIRE(invalid.error().reason == "Invalid");

  h.api.enqueue(http::Response::text(403, "forbidden by proxy"));
  auto plain = h.client->remove(kPods, "ns", "p");
  REQUIRE(plain.error().code == 403);
  REQUIRE(plain.error().reason == "Forbidden");
  REQUIRE(plain.error().message == "forbidden by proxy");
  REQUIRE(h.sleeps.empty());  // none of these is retried

  Error e500 = errorFromResponse(500, "boom");
  REQUIRE(e500.retryable);
  REQUIRE(e500.reason == "InternalError");
  REQUIRE_FALSE(errorFromResponse(501, "").retryable);
}

TEST_CASE("429 waits for Retry-After, 5xx back off with jitter, and attempts are bounded") {
  Harness h;
  h.api.enqueue(withHeader(http::Response::json(429, status(429, "TooManyRequests", "slow")),
                           "Retry-After", "3"));
  h.api.enqueue(http::Response::json(503, status(503, "ServiceUnavailable", "x")));
  auto ok = h.client->get(kPods, "ns", "p");
  REQUIRE(ok.ok());
  REQUIRE(h.api.requests().size() == 3);
  REQUIRE(h.sleeps.size() == 2);
  REQUIRE(h.sleeps[0] == std::chrono::seconds(3));
  REQUIRE(h.sleeps[1] == std::chrono::milliseconds(500));  // base 250 ms, second step
  {
    std::lock_guard<std::mutex> lk(h.hookMu);
    REQUIRE(h.hooks.size() == 3);
    REQUIRE(h.hooks[0] == "GET 429 127.0.0.1:" + std::to_string(h.api.server->port()));
    REQUIRE(h.hooks[2].rfind("GET 200 ", 0) == 0);
  }

  h.sleeps.clear();
  h.api.fallback = [](const http::Request&) {
    return http::Response::json(503, status(503, "ServiceUnavailable", "down"));
  };
  auto down = h.client->get(kPods, "ns", "p");
  REQUIRE(down.error().code == 503);
  REQUIRE(down.error().retryable);
  REQUIRE(h.api.requests().size() == 3 + 5);
  REQUIRE(h.sleeps.size() == 4);
  for (size_t i = 1; i < h.sleeps.size(); ++i) {
    REQUIRE(h.sleeps[i] >= h.sleeps[i - 1]);
  }
}

TEST_CASE("Create is retried on 429 only; client errors are never retried") {
  Harness h;
  h.api.enqueue(http::Response::json(503, status(503, "ServiceUnavailable", "x")));
  auto c1 = h.client->create(kPods, "ns", {{"metadata", {{"name", "p"}}}});
  REQUIRE(c1.error().code == 503);
  REQUIRE(h.api.requests().size() == 1);

  h.api.enqueue(withHeader(http::Response::json(429, status(429, "TooManyRequests", "x")),
                           "Retry-After", "1"));
  REQUIRE(h.client->create(kPods, "ns", {{"metadata", {{"name", "p"}}}}).ok());
  REQUIRE(h.api.requests().size() == 3);

  for (int code : {400, 401, 404, 409, 422}) {
    h.api.enqueue(http::Response::json(code, status(code, "X", "no")));
    REQUIRE_FALSE(h.client->get(kPods, "ns", "p").ok());
  }
  REQUIRE(h.api.requests().size() == 8);
}

TEST_CASE("Transport failures are retried for reads and surface as code 0") {
  auto http = http::makeCpprestClient({});
  REQUIRE(http.ok());
  ManualClock clock;
  FixedRandom random;
  int port;
  {
    FakeApi gone;
    port = gone.server->port();
  }
  RestOptions o;
  o.server = "http://127.0.0.1:" + std::to_string(port);
  o.maxAttempts = 3;
  int slept = 0;
  o.sleep = [&](Duration) { ++slept; };
  RestKubeClient client(*http, o, clock, random);
  auto res = client.get(kPods, "ns", "p");
  REQUIRE(res.error().code == 0);
  REQUIRE(res.error().retryable);
  REQUIRE(slept == 2);
}

TEST_CASE("retryOnConflict re-runs the read-modify-write until it stops conflicting") {
  Harness h;
  h.api.enqueue(http::Response::json(409, status(409, "Conflict", "modified")));
  h.api.enqueue(http::Response::json(409, status(409, "Conflict", "modified")));
  int runs = 0;
  auto res = retryOnConflict([&] {
    ++runs;
    return h.client->update(kPods, "ns", {{"metadata", {{"name", "p"}}}});
  });
  REQUIRE(res.ok());
  REQUIRE(runs == 3);

  h.api.fallback = [](const http::Request&) {
    return http::Response::json(409, status(409, "Conflict", "modified"));
  };
  runs = 0;
  auto gaveUp = retryOnConflict(
      [&] {
        ++runs;
        return h.client->update(kPods, "ns", {{"metadata", {{"name", "p"}}}});
      },
      4);
  REQUIRE(gaveUp.error().code == 409);
  REQUIRE(runs == 4);
}

TEST_CASE("Basic auth is used when there is no token; the optional QPS limit queues requests") {
  Harness h([](RestOptions& o) {
    o.token = {};
    o.username = "admin";
    o.password = "pw";
    o.qps = 2;
    o.burst = 2;
  });
  for (int i = 0; i < 4; ++i) {
    REQUIRE(h.client->get(kPods, "ns", "p").ok());
  }
  REQUIRE(h.api.last().header("authorization") == "Basic YWRtaW46cHc=");
  // Burst 2 passes at once; the next two wait 0.5 s and 1 s for tokens at 2/s.
  REQUIRE(h.sleeps.size() == 2);
  REQUIRE(h.sleeps[0] == std::chrono::milliseconds(500));
  REQUIRE(h.sleeps[1] == std::chrono::milliseconds(1000));
}
