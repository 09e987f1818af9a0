#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
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

// What one side of a WebSocket saw.
struct Seen {
  std::mutex mu;
  std::vector<WsMessage> messages;
  std::vector<int> closes;  // every onClose call: must end up exactly one

  void attach(const std::shared_ptr<WebSocket>& ws) {
    ws->start(
        [this](WsMessage m) {
          std::lock_guard<std::mutex> lk(mu);
          messages.push_back(std::move(m));
        },
        [this](int code, std::string) {
          std::lock_guard<std::mutex> lk(mu);
          closes.push_back(code);
        });
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lk(mu);
    return messages.size();
  }
  bool closedWith(int code) {
    std::lock_guard<std::mutex> lk(mu);
    return closes.size() == 1 && closes[0] == code;
  }
  bool closed() {
    std::lock_guard<std::mutex> lk(mu);
    return !closes.empty();
  }
};

// A server whose handler accepts upgrades on /ws (others get a 200) and keeps the sockets.
struct WsServer {
  std::unique_ptr<HttpServer> server = makeBeastServer({});
  std::mutex mu;
  std::vector<std::shared_ptr<WebSocket>> sockets;
  Seen seen;
  bool echo = true;
  std::atomic<int> nullAccepts{0};

  ~WsServer() { server->stop(); }  // before the members its threads use go
  WsServer() {
    auto st = server->start([this](Request& req, std::shared_ptr<Exchange> ex) {
      if (req.path == "/refuse") {
        ex->respond(Response::json(401, R"({"message":"Unauthorized"})"));
        return;
      }
      Headers h;
      h.set("X-Waha-Worker", "w1");
      auto ws = ex->acceptWebSocket(h);
      if (!ws) {
        ++nullAccepts;
        ex->respond(Response::text(200, "plain"));
        return;
      }
      std::weak_ptr<WebSocket> weak = ws;
      ws->start(
          [this, weak](WsMessage m) {
            {
              std::lock_guard<std::mutex> lk(seen.mu);
              seen.messages.push_back(m);
            }
            if (auto s = weak.lock(); s && echo) {
              s->send(std::move(m));
            }
          },
          [this](int code, std::string) {
            std::lock_guard<std::mutex> lk(seen.mu);
            seen.closes.push_back(code);
          });
      std::lock_guard<std::mutex> lk(mu);
      sockets.push_back(ws);
    });
    REQUIRE(st.ok());
  }
  std::string url(const std::string& path) const {
    return "ws://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  std::shared_ptr<WebSocket> first() {
    std::lock_guard<std::mutex> lk(mu);
    return sockets.empty() ? nullptr : sockets.front();
  }
};

Result<std::shared_ptr<WebSocket>> connectNow(WsConnector& c, const std::string& url,
                                              Headers headers = {}) {
  auto p = std::make_shared<std::promise<Result<std::shared_ptr<WebSocket>>>>();
  auto f = p->get_future();
  WsConnectOptions o;
  o.url = url;
  o.headers = std::move(headers);
  o.timeout = std::chrono::seconds(5);
  c.connect(o, [p](Result<std::shared_ptr<WebSocket>> r) { p->set_value(std::move(r)); });
  REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  return f.get();
}

}  // namespace

TEST_CASE("WebSocket echo round trip keeps text and binary frames apart") {
  WsServer srv;
  Seen client;  // outlives the connector, whose threads call into it
  auto conn = makeBeastWsConnector();
  auto ws = connectNow(*conn, srv.url("/ws?session=a"));
  REQUIRE(ws.ok());
  client.attach(*ws);
  REQUIRE((*ws)->send({"hello", false}));
  REQUIRE((*ws)->send({std::string("\x00\x01\xff", 3), true}));
  REQUIRE(test::waitFor([&] { return client.count() == 2; }));
  {
    std::lock_guard<std::mutex> lk(client.mu);
    REQUIRE(client.messages[0].data == "hello");
    REQUIRE_FALSE(client.messages[0].binary);
    REQUIRE(client.messages[1].data == std::string("\x00\x01\xff", 3));
    REQUIRE(client.messages[1].binary);
  }
  (*ws)->close();
  REQUIRE(test::waitFor([&] { return client.closed() && srv.seen.closed(); }));
  REQUIRE(client.closedWith(1000));
  REQUIRE(srv.seen.closedWith(1000));  // client close seen by the server
  REQUIRE_FALSE((*ws)->send({"late", false}));
  conn->stop();
}

TEST_CASE("WebSocket keeps the order of many messages") {
  WsServer srv;
  Seen client;  // outlives the connector, whose threads call into it
  auto conn = makeBeastWsConnector(2);
  auto ws = connectNow(*conn, srv.url("/ws"));
  REQUIRE(ws.ok());
  client.attach(*ws);
  const int n = 500;
  for (int i = 0; i < n; ++i) {
    REQUIRE((*ws)->send({std::to_string(i), false}));
  }
  REQUIRE(test::waitFor([&] { return client.count() == n; }));
  std::lock_guard<std::mutex> lk(client.mu);
  for (int i = 0; i < n; ++i) {
    REQUIRE(client.messages[static_cast<std::size_t>(i)].data == std::to_string(i));
  }
}

TEST_CASE("A server-initiated close reaches the client with its code") {
  WsServer srv;
  Seen client;  // outlives the connector, whose threads call into it
  auto conn = makeBeastWsConnector();
  auto ws = connectNow(*conn, srv.url("/ws"));
  REQUIRE(ws.ok());
  client.attach(*ws);
  REQUIRE(test::waitFor([&] { return srv.first() != nullptr; }));
  srv.first()->send({"bye soon", false});
  srv.first()->close(4001, "session moved");
  REQUIRE(test::waitFor([&] { return client.closed() && srv.seen.closed(); }));
  REQUIRE(client.count() == 1);  // sent before the close, so delivered before it
  REQUIRE(client.closedWith(4001));
  REQUIRE(srv.seen.closedWith(4001));
  REQUIRE_FALSE(srv.first()->open());
}

TEST_CASE("A peer that drops the TCP connection is seen as 1006") {
  WsServer srv;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(srv.server->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  std::string hs =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  REQUIRE(::write(fd, hs.data(), hs.size()) == static_cast<ssize_t>(hs.size()));
  std::string got;
  char buf[512];
  while (got.find("\r\n\r\n") == std::string::npos) {
    auto n = ::read(fd, buf, sizeof(buf));
    REQUIRE(n > 0);
    got.append(buf, static_cast<std::size_t>(n));
  }
  REQUIRE(got.rfind("HTTP/1.1 101", 0) == 0);
  REQUIRE(got.find("X-Waha-Worker: w1") != std::string::npos);
  ::close(fd);
  REQUIRE(test::waitFor([&] { return srv.seen.closed(); }));
  REQUIRE(srv.seen.closedWith(1006));
}

TEST_CASE("A refused handshake is an Error with the HTTP status") {
  WsServer srv;
  auto conn = makeBeastWsConnector();
  auto ws = connectNow(*conn, srv.url("/refuse"));
  REQUIRE_FALSE(ws.ok());
  REQUIRE(ws.error().code == 401);

  auto tls = connectNow(*conn, "wss://127.0.0.1:1/ws");
  REQUIRE_FALSE(tls.ok());
  REQUIRE(tls.error().reason == "Unsupported");
}

TEST_CASE("Server stop closes open WebSockets") {
  WsServer srv;
  Seen client;  // outlives the connector, whose threads call into it
  auto conn = makeBeastWsConnector();
  auto ws = connectNow(*conn, srv.url("/ws"));
  REQUIRE(ws.ok());
  client.attach(*ws);
  REQUIRE(test::waitFor([&] { return srv.first() != nullptr; }));
  srv.server->stop();
  REQUIRE(test::waitFor([&] { return client.closed(); }));
  REQUIRE(client.closedWith(1001));
  REQUIRE(srv.seen.closedWith(1001));
}

TEST_CASE("acceptWebSocket gives nullptr for a request that is no upgrade") {
  WsServer srv;
  auto res = test::httpGet("http://127.0.0.1:" + std::to_string(srv.server->port()) + "/ws");
  REQUIRE(res.status == 200);
  REQUIRE(res.body == "plain");
  REQUIRE(srv.nullAccepts == 1);
}
