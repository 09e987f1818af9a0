#include <atomic>
#include <catch2/catch.hpp>
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

const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};

// A fake API server whose watch answers are streamed by the test.
struct WatchServer {
  std::unique_ptr<http::HttpServer> server = http::makeBeastServer({});
  std::mutex mu;
  std::shared_ptr<http::ResponseStream> stream;
  http::Request request;
  int status = 200;
  std::string errorBody;
  std::atomic<bool> closed{false};

  WatchServer() {
    REQUIRE(server
                ->start([this](http::Request& r, std::shared_ptr<http::Exchange> ex) {
                  std::lock_guard<std::mutex> lk(mu);
                  request = r;
                  if (status != 200) {
                    ex->respond(http::Response::json(status, errorBody));
                    return;
                  }
                  stream = ex->startStream(200, {});
                  stream->onClose([this] { closed = true; });
                })
                .ok());
  }
  ~WatchServer() { server->stop(); }
  std::shared_ptr<http::ResponseStream> waitStream() {
    REQUIRE(test::waitFor([&] {
      std::lock_guard<std::mutex> lk(mu);
      return stream != nullptr;
    }));
    std::lock_guard<std::mutex> lk(mu);
    return stream;
  }
};

struct Events {
  std::mutex mu;
  std::vector<WatchEvent> events;
  std::atomic<bool> done{false};
  Status status;
  size_t size() {
    std::lock_guard<std::mutex> lk(mu);
    return events.size();
  }
  WatchCallback onEvent() {
    return [this](WatchEvent e) {
      std::lock_guard<std::mutex> lk(mu);
      events.push_back(std::move(e));
    };
  }
  WatchDone onDone() {
    return [this](Status s) {
      status = s;
      done = true;
    };
  }
};

std::unique_ptr<RestKubeClient> clientFor(WatchServer& s, Clock& clock, Random& random) {
  RestOptions o;
  o.server = "http://127.0.0.1:" + std::to_string(s.server->port());
  o.token = [] { return std::string("tok"); };
  auto http = http::makeCpprestClient({});
  REQUIRE(http.ok());
  return std::make_unique<RestKubeClient>(*http, o, clock, random);
}

}  // namespace

TEST_CASE("Watch decodes newline-delimited events split across chunk boundaries") {
  WatchServer s;
  ManualClock clock;
  FixedRandom random;
  auto client = clientFor(s, clock, random);
  Events ev;
  WatchOptions wo;
  wo.resourceVersion = "100";
  wo.timeoutSeconds = 321;
  wo.labelSelector = "a=b";
  auto handle = client->watch(kLeases, "ns", wo, ev.onEvent(), ev.onDone());
  auto stream = s.waitStream();
  {
    std::lock_guard<std::mutex> lk(s.mu);
    REQUIRE(s.request.path == "/apis/coordination.k8s.io/v1/namespaces/ns/leases");
    REQUIRE(s.request.queryParam("watch") == "true");
    REQUIRE(s.request.queryParam("resourceVersion") == "100");
    REQUIRE(s.request.queryParam("allowWatchBookmarks") == "true");
    REQUIRE(s.request.queryParam("timeoutSeconds") == "321");
    REQUIRE(s.request.queryParam("labelSelector") == "a=b");
    REQUIRE(s.request.header("authorization") == "Bearer tok");
  }
  std::string body =
      R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"101"}}})"
      "\n"
      R"({"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"102"}}})"
      "\n"
      R"({"type":"BOOKMARK","object":{"kind":"Lease","metadata":{"resourceVersion":"150"}}})"
      "\n"
      R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"151"}}})"
      "\n"
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})"
      "\n";
  // Odd-sized chunks so events straddle chunk boundaries.
  for (size_t i = 0; i < body.size(); i += 37) {
    stream->write(body.substr(i, 37));
  }
  REQUIRE(test::waitFor([&] { return ev.size() == 5; }));
  stream->end();
  REQUIRE(test::waitFor([&] { return ev.done.load(); }));
  REQUIRE(ev.status.ok());
  std::lock_guard<std::mutex> lk(ev.mu);
  using T = WatchEvent::Type;
  REQUIRE(ev.events[0].type == T::Added);
  REQUIRE(ev.events[1].type == T::Modified);
  REQUIRE(ev.events[1].object["metadata"]["resourceVersion"] == "102");
  REQUIRE(ev.events[2].type == T::Bookmark);
  REQUIRE(ev.events[2].object["metadata"]["resourceVersion"] == "150");
  REQUIRE(ev.events[3].type == T::Deleted);
  REQUIRE(ev.events[4].type == T::Error);
  REQUIRE(ev.events[4].object["code"] == 410);
}

TEST_CASE("A malformed event ends the watch with an error") {
  WatchServer s;
  ManualClock clock;
  FixedRandom random;
  auto client = clientFor(s, clock, random);
  Events ev;
  auto handle = client->watch(kLeases, "", {}, ev.onEvent(), ev.onDone());
  auto stream = s.waitStream();
  stream->write("{\"type\":\"ADDED\",\"object\":{}}\nnot json\n");
  REQUIRE(test::waitFor([&] { return ev.done.load(); }));
  REQUIRE(ev.size() == 1);
  REQUIRE(ev.status.error().reason == "InvalidWatchEvent");
}

TEST_CASE("A watch refused by the server reports the Status as an Error") {
  WatchServer s;
  s.status = 410;
  s.errorBody = R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})";
  ManualClock clock;
  FixedRandom random;
  auto client = clientFor(s, clock, random);
  Events ev;
  auto handle = client->watch(kLeases, "ns", {}, ev.onEvent(), ev.onDone());
  REQUIRE(test::waitFor([&] { return ev.done.load(); }));
  REQUIRE(ev.status.error().code == 410);
  REQUIRE(ev.status.error().reason == "Expired");
  REQUIRE(ev.status.error().message == "too old");
}

TEST_CASE("Stopping a watch closes the stream and no callback follows") {
  WatchServer s;
  ManualClock clock;
  FixedRandom random;
  auto client = clientFor(s, clock, random);
  Events ev;
  auto handle = client->watch(kLeases, "ns", {}, ev.onEvent(), ev.onDone());
  auto stream = s.waitStream();
  stream->write("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\n");
  REQUIRE(test::waitFor([&] { return ev.size() == 1; }));
  handle->stop();
  stream->write("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"y\"}}}\n");
  REQUIRE(test::waitFor([&] { return s.closed.load(); }));
  REQUIRE(ev.size() == 1);
  REQUIRE_FALSE(ev.done.load());
}
