#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "http/client.h"
#include "http/server.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::http;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<HttpClient> makeClient(std::chrono::milliseconds timeout = 5s) {
  ClientOptions opts;
  opts.timeout = timeout;
  auto c = makeCpprestClient(opts);
  REQUIRE(c.ok());
  return *c;
}

struct Collected {
  std::mutex mu;
  std::vector<std::string> lines;
  std::atomic<bool> done{false};
  Status status;
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lk(mu);
    return lines;
  }
};

StreamCallbacks collectInto(Collected& c) {
  return StreamCallbacks{[&c](std::string line) {
                           std::lock_guard<std::mutex> lk(c.mu);
                           c.lines.push_back(std::move(line));
                           return true;
                         },
                         [&c](Status s) {
                           c.status = s;
                           c.done = true;
                         }};
}

}  // namespace

TEST_CASE("cpprest client sends method, headers and body and reads the answer") {
  auto server = makeBeastServer({});
  REQUIRE(server
              ->start(syncHandler([](const Request& r) {
                Response res =
                    Response::json(r.method == "PATCH" ? 200 : 201,
                                   r.method + " " + r.target + " " + r.header("content-type") +
                                       " " + r.header("authorization") + " " + r.body);
                res.headers.set("X-Echo", "yes");
                return res;
              }))
              .ok());
  auto client = makeClient();
  auto base = "http://127.0.0.1:" + std::to_string(server->port());
  ClientRequest req{"PATCH", base + "/apis/x/v1/things/a?fieldManager=m", {}, "{\"a\":1}"};
  req.headers.set("Content-Type", "application/merge-patch+json");
  req.headers.set("Authorization", "Bearer t0k");
  auto res = client->send(req);
  REQUIRE(res.ok());
  REQUIRE(res->status == 200);
  REQUIRE(res->body ==
          "PATCH /apis/x/v1/things/a?fieldManager=m application/merge-patch+json Bearer t0k "
          "{\"a\":1}");
  REQUIRE(res->headers.getOr("x-echo") == "yes");
  // The cached connection pool is reused for the next call.
  auto again = client->send({"GET", base + "/b", {}, ""});
  REQUIRE(again.ok());
  REQUIRE(again->status == 201);
  server->stop();
}

TEST_CASE("An unreachable server is a retryable transport error, not an exception") {
  auto server = makeBeastServer({});
  REQUIRE(server->start(syncHandler([](const Request&) { return Response::text(200, ""); })).ok());
  int port = server->port();
  server->stop();
  auto res = makeClient()->send({"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, ""});
  REQUIRE_FALSE(res.ok());
  REQUIRE(res.error().code == 0);
  REQUIRE(res.error().retryable);
}

TEST_CASE("A silent server times out") {
  auto server = makeBeastServer({});
  std::vector<std::shared_ptr<Exchange>> parked;
  std::mutex mu;
  REQUIRE(server
              ->start([&](Request&, std::shared_ptr<Exchange> ex) {
                std::lock_guard<std::mutex> lk(mu);
                parked.push_back(ex);  // never answered until the test ends
              })
              .ok());
  auto res = makeClient(300ms)->send(
      {"GET", "http://127.0.0.1:" + std::to_string(server->port()) + "/slow", {}, ""});
  REQUIRE_FALSE(res.ok());
  REQUIRE(res.error().reason == "Timeout");
  {
    std::lock_guard<std::mutex> lk(mu);
    parked.clear();
  }
  server->stop();
}

TEST_CASE("Streams deliver lines split across chunks, then end cleanly") {
  auto server = makeBeastServer({});
  std::shared_ptr<ResponseStream> stream;
  std::mutex mu;
  REQUIRE(server
              ->start([&](Request&, std::shared_ptr<Exchange> ex) {
                std::lock_guard<std::mutex> lk(mu);
                stream = ex->startStream(200, {});
              })
              .ok());
  Collected c;
  auto handle = makeClient()->stream(
      {"GET", "http://127.0.0.1:" + std::to_string(server->port()) + "/watch", {}, ""},
      collectInto(c));
  REQUIRE(test::waitFor([&] {
    std::lock_guard<std::mutex> lk(mu);
    return stream != nullptr;
  }));
  stream->write("{\"a\":");
  stream->write("1}\n{\"b\"");
  REQUIRE(test::waitFor([&] { return c.snapshot().size() == 1; }));
  REQUIRE(c.snapshot()[0] == "{\"a\":1}");
  stream->write(":2}\n");
  stream->end();
  REQUIRE(test::waitFor([&] { return c.done.load(); }));
  REQUIRE(c.status.ok());
  REQUIRE(c.snapshot() == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
  server->stop();
}

TEST_CASE("Cancelling a stream stops it promptly and no callback follows") {
  auto server = makeBeastServer({});
  std::shared_ptr<ResponseStream> stream;
  std::atomic<bool> closed{false};
  std::mutex mu;
  REQUIRE(server
              ->start([&](Request&, std::shared_ptr<Exchange> ex) {
                std::lock_guard<std::mutex> lk(mu);
                stream = ex->startStream(200, {});
                stream->onClose([&] { closed = true; });
              })
              .ok());
  Collected c;
  auto handle = makeClient()->stream(
      {"GET", "http://127.0.0.1:" + std::to_string(server->port()) + "/watch", {}, ""},
      collectInto(c));
  REQUIRE(test::waitFor([&] {
    std::lock_guard<std::mutex> lk(mu);
    return stream != nullptr;
  }));
  stream->write("x\n");
  REQUIRE(test::waitFor([&] { return c.snapshot().size() == 1; }));
  handle->cancel();
  size_t seen = c.snapshot().size();
  stream->write("y\n");
  REQUIRE(test::waitFor([&] { return closed.load(); }));
  REQUIRE(c.snapshot().size() == seen);
  REQUIRE_FALSE(c.done.load());
  server->stop();
}

TEST_CASE("A stream answered with an error status reports it with the body") {
  auto server = makeBeastServer({});
  REQUIRE(server
              ->start(syncHandler([](const Request&) {
                return Response::json(403, R"({"kind":"Status","reason":"Forbidden","code":403})");
              }))
              .ok());
  Collected c;
  auto handle = makeClient()->stream(
      {"GET", "http://127.0.0.1:" + std::to_string(server->port()) + "/watch", {}, ""},
      collectInto(c));
  REQUIRE(test::waitFor([&] { return c.done.load(); }));
  REQUIRE_FALSE(c.status.ok());
  REQUIRE(c.status.error().code == 403);
  REQUIRE(c.status.error().message.find("Forbidden") != std::string::npos);
  server->stop();
}
