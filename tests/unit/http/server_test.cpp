// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "support/test_http.h"
#include "support/test_pki.h"
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

TEST_CASE("The answer to a HEAD keeps the Content-Length its handler declares") {
  auto server = makeBeastServer({});
  REQUIRE(server
              ->start(syncHandler([](const Request& r) {
                if (r.method == "HEAD") {
                  Response res;
                  res.status = 200;
                  res.headers.set("Content-Length", "1234");  // the GET's, without its body
                  return res;
                }
                return Response::text(200, "no head");
              }))
              .ok());
  auto base = "http://127.0.0.1:" + std::to_string(server->port());
  auto head = test::httpRequest("HEAD", base + "/file");
  REQUIRE(head.status == 200);
  REQUIRE(head.headers.getOr("content-length") == "1234");
  REQUIRE(head.body.empty());
  // The connection stays usable: a GET with a body declaring nothing gets its real length.
  auto get = test::httpGet(base + "/file");
  REQUIRE(get.body == "no head");
  REQUIRE(get.headers.getOr("content-length") == "7");
  server->stop();
}

TEST_CASE("A server on a shared runtime stops alone, and the runtime serves another") {
  auto runtime = makeIoRuntime(2);
  ServerOptions options;
  options.runtime = runtime;
  auto first = makeBeastServer(options);
  auto second = makeBeastServer(options);
  REQUIRE(first->start(syncHandler([](const Request&) { return Response::text(200, "1"); })).ok());
  REQUIRE(second->start(syncHandler([](const Request&) { return Response::text(200, "2"); })).ok());
  auto url = [](HttpServer& s) { return "http://127.0.0.1:" + std::to_string(s.port()) + "/"; };
  REQUIRE(test::httpGet(url(*first)).body == "1");
  auto firstUrl = url(*first);
  first->stop();
  first.reset();
  REQUIRE(test::httpGet(firstUrl).status == 0);  // nothing listens there any more
  REQUIRE(test::httpGet(url(*second)).body == "2");
  second->stop();
  runtime->stop();
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

TEST_CASE("shutdown closes idle connections at once and lets a request in progress finish") {
  namespace net = boost::asio;
  namespace bhttp = boost::beast::http;
  auto server = makeBeastServer({});
  std::mutex mu;
  std::shared_ptr<Exchange> held;
  REQUIRE(server
              ->start([&](Request& r, std::shared_ptr<Exchange> ex) {
                if (r.path == "/slow") {
                  std::lock_guard<std::mutex> lk(mu);
                  held = std::move(ex);  // answered later, from the test
                  return;
                }
                ex->respond(Response::text(200, "quick"));
              })
              .ok());
  auto base = "http://127.0.0.1:" + std::to_string(server->port());

  // A keep-alive connection that had its answer and now waits for its next request.
  net::io_context ioc;
  net::ip::tcp::socket idle(ioc);
  idle.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server->port())});
  bhttp::request<bhttp::empty_body> get{bhttp::verb::get, "/quick", 11};
  get.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(idle, get);
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> answer;
  bhttp::read(idle, buf, answer);
  REQUIRE(answer.body() == "quick");

  test::HttpResult slow;
  std::thread client([&] { slow = test::httpGet(base + "/slow"); });
  REQUIRE(test::waitFor([&] {
    std::lock_guard<std::mutex> lk(mu);
    return held != nullptr;
  }));
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    server->shutdown(std::chrono::seconds(60));
    done = true;
  });

  // The idle connection is closed while the request in progress still holds the shutdown.
  boost::system::error_code ec;
  char byte;
  idle.read_some(net::buffer(&byte, 1), ec);
  REQUIRE(ec);
  REQUIRE_FALSE(done);
  // Nothing new is served.
  REQUIRE(test::waitFor([&] { return test::httpGet(base + "/quick").status == 0; }));
  REQUIRE_FALSE(done);

  // The request in progress gets its whole answer, told not to come back on that connection, and
  // the shutdown ends with it instead of waiting out its grace.
  {
    std::lock_guard<std::mutex> lk(mu);
    held->respond(Response::text(200, "slow"));
    held.reset();
  }
  client.join();
  REQUIRE(slow.status == 200);
  REQUIRE(slow.body == "slow");
  REQUIRE(slow.headers.getOr("connection") == "close");
  REQUIRE(test::waitFor([&] { return done.load(); }, std::chrono::seconds(20)));
  stopper.join();
}

TEST_CASE("Over TLS a whole answer larger than one TLS record arrives complete") {
  // Boost's ssl_stream used to end a two-buffer write (head, body) after the head: the client
  // then waited for a body that never came.
  auto pki = test::makeTestPki();
  REQUIRE(pki.ok());
  ServerOptions so;
  so.tls = TlsConfig{pki->leaf.certPem, pki->leaf.keyPem};
  auto server = makeBeastServer(so);
  std::string big(100 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 97) {
    big[i] = static_cast<char>('a' + (i / 97) % 26);
  }
  REQUIRE(server
              ->start(syncHandler([&](const Request& r) {
                return Response::text(200, r.path == "/big" ? big : "small");
              }))
              .ok());
  ClientOptions co;
  co.tls.insecureSkipVerify = true;
  co.timeout = std::chrono::seconds(10);
  auto client = makeCpprestClient(co);
  REQUIRE(client.ok());
  auto base = "https://127.0.0.1:" + std::to_string(server->port());
  for (const char* path : {"/big", "/small", "/big"}) {  // and again on the kept-alive connection
    ClientRequest req;
    req.url = base + path;
    auto res = (*client)->send(req);
    REQUIRE(res.ok());
    CHECK(res->status == 200);
    CHECK(res->body == (std::string(path) == "/big" ? big : "small"));
  }
  server->stop();
}
