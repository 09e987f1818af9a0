#include "support/test_http.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <sys/socket.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace waha::test {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;
};

bool parseUrl(const std::string& url, Url& out) {
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    out.tls = true;
    rest = url.substr(8);
  } else {
    return false;
  }
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    out.host = hostport;
    out.port = out.tls ? "443" : "80";
  } else {
    out.host = hostport.substr(0, colon);
    out.port = hostport.substr(colon + 1);
  }
  return true;
}

// Synchronous Beast reads ignore tcp_stream's expiry (and Asio retries reads past SO_RCVTIMEO), so
// a watchdog shuts the socket down at the deadline: a server that never answers fails the call
// instead of hanging the test.
class Watchdog {
 public:
  Watchdog(int fd, std::chrono::milliseconds timeout)
      : thread_([this, fd, timeout] {
          std::unique_lock<std::mutex> lk(mu_);
          if (!cv_.wait_for(lk, timeout, [this] { return done_; })) {
            ::shutdown(fd, SHUT_RDWR);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Runs `fn(stream)` over a plain or TLS stream connected to `u`.
template <class Fn>
void withStream(const Url& u, std::chrono::milliseconds timeout, Fn&& fn) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(u.host, u.port);
  if (u.tls) {
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.set_verify_mode(net::ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::get_lowest_layer(stream).connect(results);
    Watchdog dog(beast::get_lowest_layer(stream).socket().native_handle(), timeout);
    stream.handshake(net::ssl::stream_base::client);
    fn(stream, beast::get_lowest_layer(stream));
  } else {
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(results);
    Watchdog dog(stream.socket().native_handle(), timeout);
    fn(stream, stream);
  }
}

bhttp::request<bhttp::string_body> buildRequest(const std::string& method, const Url& u,
                                                const std::string& body,
                                                const std::map<std::string, std::string>& h) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(u.target);
  req.version(11);
  req.set(bhttp::field::host, u.host + ":" + u.port);
  for (const auto& [k, v] : h) {
    req.set(k, v);
  }
  if (!body.empty() && h.find("Content-Type") == h.end()) {
    req.set(bhttp::field::content_type, "application/json");
  }
  req.body() = body;
  req.prepare_payload();
  return req;
}

}  // namespace

HttpResult httpRequest(const std::string& method, const std::string& url, const std::string& body,
                       const std::map<std::string, std::string>& headers,
                       std::chrono::milliseconds timeout) {
  HttpResult result;
  Url u;
  if (!parseUrl(url, u)) {
    result.error = "bad url " + url;
    return result;
  }
  try {
    withStream(u, timeout, [&](auto& stream, beast::tcp_stream&) {
      auto req = buildRequest(method, u, body, headers);
      bhttp::write(stream, req);
      beast::flat_buffer buf;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(1024ULL * 1024 * 1024);
      if (method == "HEAD") {
        parser.skip(true);
      }
      bhttp::read(stream, buf, parser);
      auto res = parser.release();
      result.status = static_cast<int>(res.result_int());
      for (const auto& f : res) {
        result.headers.add(std::string(f.name_string()), std::string(f.value()));
      }
      result.body = std::move(res.body());
    });
  } catch (const std::exception& e) {
    result.status = 0;
    result.error = e.what();
  }
  return result;
}

int httpStreamLines(const std::string& url, const std::map<std::string, std::string>& headers,
                    const std::function<bool(const std::string&)>& onLine,
                    std::chrono::milliseconds timeout) {
  Url u;
  if (!parseUrl(url, u)) {
    return 0;
  }
  int status = 0;
  try {
    withStream(u, timeout, [&](auto& stream, beast::tcp_stream&) {
      auto req = buildRequest("GET", u, "", headers);
      bhttp::write(stream, req);
      beast::flat_buffer buf;
      bhttp::response_parser<bhttp::buffer_body> parser;
      parser.body_limit(boost::none);
      bhttp::read_header(stream, buf, parser);
      status = static_cast<int>(parser.get().result_int());
      std::string pending;
      char chunk[8192];
      bool keepGoing = true;
      while (keepGoing && !parser.is_done()) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof(chunk);
        beast::error_code ec;
        bhttp::read_some(stream, buf, parser, ec);
        if (ec && ec != bhttp::error::need_buffer) {
          break;
        }
        pending.append(chunk, sizeof(chunk) - parser.get().body().size);
        size_t nl;
        while (keepGoing && (nl = pending.find('\n')) != std::string::npos) {
          std::string line = pending.substr(0, nl);
          pending.erase(0, nl + 1);
          if (!line.empty()) {
            keepGoing = onLine(line);
          }
        }
      }
      if (keepGoing && !pending.empty()) {
        onLine(pending);
      }
    });
  } catch (const std::exception&) {
    // A timeout or a closed connection ends the stream; the status read so far stands.
  }
  return status;
}

}  // namespace waha::test
