// ServerOptions::streamBody: request bodies handed to the handler piece by piece.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/server.h"
#include "http/websocket.h"
#include "support/test_http.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::http;

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

struct Drained {
  std::string body;
  std::vector<std::size_t> pieces;
  std::optional<Error> error;
};

// Reads a BodyReader to its end, then calls `done` (on a server thread).
void drain(std::shared_ptr<BodyReader> reader, std::shared_ptr<Drained> acc,
           std::function<void(std::shared_ptr<Drained>)> done) {
  reader->read([reader, acc, done](Result<std::string> piece, bool last) {
    if (!piece.ok()) {
      acc->error = piece.error();
      done(acc);
      return;
    }
    if (last) {
      done(acc);
      return;
    }
    acc->pieces.push_back(piece->size());
    acc->body += *piece;
    drain(reader, acc, done);
  });
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('A' + (i * 13 + i / 777) % 26);
  }
  return s;
}

// A server whose /up handler reads the streamed body and reports what it saw; /skip answers
// without reading; anything else answers with its method and path.
std::unique_ptr<HttpServer> startServer(std::size_t maxBody,
                                        std::shared_ptr<std::vector<std::size_t>> pieces) {
  ServerOptions opts;
  opts.maxBodyBytes = maxBody;
  opts.streamBody = [](const Request& head) { return head.path != "/whole"; };
  auto server = makeBeastServer(opts);
  REQUIRE(server
              ->start([pieces](Request& req, std::shared_ptr<Exchange> ex) {
                if (req.path == "/up") {
                  if (!req.bodyReader) {
                    ex->respond(Response::text(500, "no body reader"));
                    return;
                  }
                  drain(req.bodyReader, std::make_shared<Drained>(),
                        [ex, pieces](std::shared_ptr<Drained> d) {
                          if (d->error) {
                            ex->respond(Response::text(d->error->code, d->error->message));
                            return;
                          }
                          *pieces = d->pieces;
                          ex->respond(Response::text(200, d->body));
                        });
                  return;
                }
                ex->respond(Response::text(200, req.method + " " + req.path + " " + req.body));
              })
              .ok());
  return server;
}

}  // namespace

TEST_CASE("streamBody hands the body over in pieces of at most 64 KiB") {
  auto pieces = std::make_shared<std::vector<std::size_t>>();
  auto server = startServer(64 * 1024 * 1024, pieces);
  auto base = "http://127.0.0.1:" + std::to_string(server->port());
  const auto big = pattern(1024 * 1024 + 17);
  auto res = test::httpRequest("POST", base + "/up", big);
  REQUIRE(res.status == 200);
  REQUIRE(res.body == big);
  REQUIRE(pieces->size() > 1);
  for (auto n : *pieces) {
    REQUIRE(n <= 64 * 1024);
  }
  // Requests the predicate declines, and bodiless ones, work as before.
  REQUIRE(test::httpRequest("POST", base + "/whole", "abc").body == "POST /whole abc");
  REQUIRE(test::httpGet(base + "/up").body.empty());
  server->stop();
}

TEST_CASE("streamBody honours maxBodyBytes with a 413") {
  auto server = startServer(1000, std::make_shared<std::vector<std::size_t>>());
  auto port = server->port();
  auto base = "http://127.0.0.1:" + std::to_string(port);
  REQUIRE(test::httpRequest("POST", base + "/up", pattern(5000)).status == 413);

  // A chunked upload has no length to refuse up front: the reader fails once over the limit.
  net::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  s.expires_after(std::chrono::seconds(20));
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/up", 11};
  req.set(bhttp::field::host, "x");
  req.chunked(true);
  req.body() = pattern(3000);
  bhttp::write(s, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  REQUIRE(res.result_int() == 413);
  server->stop();
}

TEST_CASE("streamBody discards what the handler left unread and keeps the connection") {
  auto server = startServer(64 * 1024 * 1024, std::make_shared<std::vector<std::size_t>>());
  net::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                          static_cast<unsigned short>(server->port())));
  s.expires_after(std::chrono::seconds(20));
  beast::flat_buffer buf;
  for (const char* path : {"/skip", "/skip", "/after"}) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, path, 11};
    req.set(bhttp::field::host, "x");
    req.body() = pattern(300 * 1024);
    req.prepare_payload();
    bhttp::write(s, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    REQUIRE(res.result_int() == 200);
    REQUIRE(res.body() == std::string("POST ") + path + " ");
    REQUIRE(res.keep_alive());
  }
  server->stop();
}

TEST_CASE("startStream with a Content-Length sends a fixed-length body, and cuts a short one") {
  auto server = makeBeastServer({});
  REQUIRE(server
              ->start([](Request& req, std::shared_ptr<Exchange> ex) {
                Headers h;
                h.set("Content-Length", "10");
                auto s = ex->startStream(200, h);
                s->write("hello");
                if (req.path == "/fixed") {
                  s->write("world");
                  s->end();
                } else if (req.path == "/ended-short") {
                  s->end();  // 5 of 10 bytes: ending cannot make it whole
                } else {
                  s->abort();
                }
              })
              .ok());
  auto base = "http://127.0.0.1:" + std::to_string(server->port());
  for (int i = 0; i < 2; ++i) {
    auto res = test::httpGet(base + "/fixed");
    REQUIRE(res.status == 200);
    REQUIRE(res.body == "helloworld");
    REQUIRE(res.headers.getOr("content-length") == "10");
    REQUIRE_FALSE(res.headers.has("transfer-encoding"));
  }
  // Truncated, never taken as whole.
  REQUIRE(test::httpGet(base + "/aborted").status == 0);
  REQUIRE(test::httpGet(base + "/ended-short").status == 0);
  server->stop();
}

TEST_CASE("streamBody never takes a WebSocket upgrade: it still completes its handshake") {
  ServerOptions opts;
  opts.streamBody = [](const Request&) { return true; };
  auto server = makeBeastServer(opts);
  std::mutex mu;
  std::vector<std::shared_ptr<WebSocket>> accepted;
  REQUIRE(server
              ->start([&](Request&, std::shared_ptr<Exchange> ex) {
                auto ws = ex->acceptWebSocket();
                if (!ws) {
                  ex->respond(Response::text(400, "not an upgrade"));
                  return;
                }
                std::weak_ptr<WebSocket> weak = ws;
                ws->start(
                    [weak](WsMessage m) {
                      if (auto s = weak.lock()) {
                        s->send(std::move(m));
                      }
                    },
                    [](int, std::string) {});
                std::lock_guard<std::mutex> lk(mu);
                accepted.push_back(ws);
              })
              .ok());
  auto connector = makeBeastWsConnector();
  std::promise<Result<std::shared_ptr<WebSocket>>> p;
  auto f = p.get_future();
  connector->connect({"ws://127.0.0.1:" + std::to_string(server->port()) + "/ws", {}},
                     [&p](Result<std::shared_ptr<WebSocket>> r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  auto client = f.get();
  REQUIRE(client.ok());
  std::atomic<bool> echoed{false};
  (*client)->start([&](WsMessage m) { echoed = m.data == "hi"; }, [](int, std::string) {});
  REQUIRE((*client)->send({"hi", false}));
  REQUIRE(test::waitFor([&] { return echoed.load(); }));
  (*client)->close();
  client = Error::make(0, "Dropped", "test done");
  connector->stop();
  {
    std::lock_guard<std::mutex> lk(mu);
    accepted.clear();
  }
  server->stop();
}
