#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "http/server.h"
#include "support/test_http.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::http;

TEST_CASE("Beast server answers requests with headers, query and body") {
  auto server = makeBeastServer({});
  REQUIRE(server
              ->start(syncHandler([](const Request& r) {
                Response res =
                    Response::json(r.method == "POST" ? 201 : 200,
                                   "{\"path\":\"" + r.path + "\",\"q\":\"" +
                                       r.queryParam("session").value_or("-") + "\",\"body\":\"" +
                                       r.body + "\",\"key\":\"" + r.header("x-api-key") + "\"}");
                res.headers.set("X-Waha-Worker", "w1");
                return res;
              }))
              .ok());
  REQUIRE(server->port() > 0);
  auto base = "http://127.0.0.1:" + std::to_string(server->port());

  auto get = test::httpGet(base + "/api/messages?session=my%20s", {{"X-Api-Key", "k"}});
  REQUIRE(get.status == 200);
  REQUIRE(get.body == R"({"path":"/api/messages","q":"my s","body":"","key":"k"})");
  REQUIRE(get.headers.getOr("x-waha-worker") == "w1");

  auto post = test::httpRequest("POST", base + "/api/sessions", "abc");
  REQUIRE(post.status == 201);
  REQUIRE(post.body.find("\"body\":\"abc\"") != std::string::npos);
  server->stop();
}

TEST_CASE("A handler that throws gives a 500, and the server keeps serving") {
  auto server = makeBeastServer({});
  REQUIRE(server
              ->start([](Request& r, std::shared_ptr<Exchange> ex) {
                if (r.path == "/boom") {
                  throw std::runtime_error("boom");
                }
                ex->respond(Response::text(200, "fine"));
              })
              .ok());
  auto base = "http://127.0.0.1:" + std::to_string(server->port());
  REQUIRE(test::httpGet(base + "/boom").status == 500);
  REQUIRE(test::httpGet(base + "/ok").body == "fine");
}

TEST_CASE("Exchanges can be answered later from another thread") {
  auto server = makeBeastServer({});
  std::vector<std::thread> workers;
  std::mutex mu;
  REQUIRE(server
              ->start([&](Request&, std::shared_ptr<Exchange> ex) {
                std::lock_guard<std::mutex> lk(mu);
                workers.emplace_back([ex] { ex->respond(Response::text(202, "later")); });
              })
              .ok());
  auto res = test::httpGet("http://127.0.0.1:" + std::to_string(server->port()) + "/x");
  REQUIRE(res.status == 202);
  REQUIRE(res.body == "later");
  for (auto& t : workers) {
    t.join();
  }
}

TEST_CASE("Chunked streams deliver lines and notice a client that hangs up") {
  auto server = makeBeastServer({});
  std::atomic<bool> closed{false};
  std::shared_ptr<ResponseStream> stream;
  std::mutex mu;
  REQUIRE(server
              ->start([&](Request& r, std::shared_ptr<Exchange> ex) {
                if (r.path == "/finite") {
                  auto s = ex->startStream(200, {});
                  s->write("one\ntw");
                  s->write("o\nthree\n");
                  s->end();
                  return;
                }
                auto s = ex->startStream(200, {});
                s->onClose([&] { closed = true; });
                s->write("{\"type\":\"ADDED\"}\n");
                std::lock_guard<std::mutex> lk(mu);
                stream = s;
              })
              .ok());
  auto base = "http://127.0.0.1:" + std::to_string(server->port());

  std::vector<std::string> lines;
  int status = test::httpStreamLines(base + "/finite", {}, [&](const std::string& l) {
    lines.push_back(l);
    return true;
  });
  REQUIRE(status == 200);
  REQUIRE(lines == std::vector<std::string>{"one", "two", "three"});

  int seen = 0;
  test::httpStreamLines(base + "/watch", {}, [&](const std::string&) {
    ++seen;
    return false;  // hang up after the first event
  });
  REQUIRE(seen == 1);
  REQUIRE(test::waitFor([&] { return closed.load(); }));
  std::lock_guard<std::mutex> lk(mu);
  REQUIRE_FALSE(stream->write("late\n"));
}

TEST_CASE("Binding a port in use fails with an error, not an exception") {
  auto a = makeBeastServer({});
  REQUIRE(a->start(syncHandler([](const Request&) { return Response::text(200, ""); })).ok());
  ServerOptions opts;
  opts.port = a->port();
  auto b = makeBeastServer(opts);
  auto st = b->start(syncHandler([](const Request&) { return Response::text(200, ""); }));
  // SO_REUSEADDR does not allow two listeners on one port.
  REQUIRE_FALSE(st.ok());
  REQUIRE(st.error().reason == "BindFailed");
}
