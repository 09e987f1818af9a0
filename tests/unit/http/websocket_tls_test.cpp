// A WebSocket upgrade over TLS: the server hands the TLS stream over like a plain one. The
// project's client is ws:// only, so this test speaks wss:// with Beast directly.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "http/server.h"
#include "http/websocket.h"
#include "support/test_pki.h"
#include "support/wait.h"

using namespace waha;

TEST_CASE("A WebSocket upgrade over TLS echoes and closes cleanly") {
  namespace net = boost::asio;
  namespace beast = boost::beast;
  std::mutex mu;
  std::vector<int> closes;
  http::ServerOptions so;
  auto pki = test::makeTestPki();
  REQUIRE(pki.ok());
  so.tls = http::TlsConfig{pki->leaf.certPem, pki->leaf.keyPem};  // the client does not verify it
  auto server = http::makeBeastServer(so);
  REQUIRE(server
              ->start([&](http::Request&, std::shared_ptr<http::Exchange> ex) {
                auto ws = ex->acceptWebSocket();
                if (!ws) {
                  ex->respond(http::Response::text(400, "not an upgrade"));
                  return;
                }
                std::weak_ptr<http::WebSocket> weak = ws;
                ws->start(
                    [weak](http::WsMessage m) {
                      if (auto s = weak.lock()) {
                        s->send(std::move(m));
                      }
                    },
                    [&](int code, std::string) {
                      std::lock_guard<std::mutex> lk(mu);
                      closes.push_back(code);
                    });
              })
              .ok());

  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(ws).connect(net::ip::tcp::endpoint(
      net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server->port())));
  ws.next_layer().handshake(net::ssl::stream_base::client);
  ws.handshake("127.0.0.1", "/ws");
  ws.write(net::buffer(std::string("over tls")));
  beast::flat_buffer buf;
  ws.read(buf);
  REQUIRE(beast::buffers_to_string(buf.data()) == "over tls");
  ws.close(beast::websocket::close_code::normal);
  REQUIRE(test::waitFor([&] {
    std::lock_guard<std::mutex> lk(mu);
    return closes.size() == 1;
  }));
  std::lock_guard<std::mutex> lk(mu);
  REQUIRE(closes[0] == 1000);
  server->stop();
}
