// A WebSocket upgrade over TLS: the server hands the TLS stream over like a plain one. The
// project's client is ws:// only, so this test speaks wss:// with Beast directly.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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
#include "support/wait.h"

using namespace waha;

namespace {

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// A throwaway self-signed certificate: the test client does not verify it.
http::TlsConfig selfSigned() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_sign(cert.get(), key.get(), EVP_sha256());
  BIO* c = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(c, cert.get());
  BIO* k = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return {bioText(c), bioText(k)};
}

}  // namespace

TEST_CASE("A WebSocket upgrade over TLS echoes and closes cleanly") {
  namespace net = boost::asio;
  namespace beast = boost::beast;
  std::mutex mu;
  std::vector<int> closes;
  http::ServerOptions so;
  so.tls = selfSigned();
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
