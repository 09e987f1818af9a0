// Boost.Beast adapter behind http::WsConnector: client WebSockets on the connector's own
// io_context and threads. ws:// only; wss:// is refused with an Error.

#include "http/beast_websocket.h"  // first: it carries the <utility>-before-Asio workaround

#include <mutex>
#include <thread>
#include <vector>

#include "http/websocket.h"

namespace waha::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using ClientSocket = detail::BeastWebSocket<beast::tcp_stream>;

struct WsUrl {
  std::string host;  // without brackets
  std::string port = "80";
  std::string target = "/";
  std::string hostHeader;  // host[:port] as written
};

Result<WsUrl> parseWsUrl(const std::string& url) {
  if (url.rfind("wss://", 0) == 0) {
    return Error::make(0, "Unsupported", "wss:// is not supported by this WebSocket client");
  }
  if (url.rfind("ws://", 0) != 0) {
    return Error::make(0, "BadUrl", "not a ws:// URL: " + url);
  }
  WsUrl u;
  std::string rest = url.substr(5);
  auto slash = rest.find_first_of("/?");
  u.hostHeader = rest.substr(0, slash);
  if (slash != std::string::npos) {
    u.target = rest.substr(slash);
    if (u.target.front() == '?') {
      u.target = "/" + u.target;
    }
  }
  std::string hp = u.hostHeader;
  auto close = hp.rfind(']');
  auto colon = hp.rfind(':');
  if (colon != std::string::npos && (close == std::string::npos || colon > close)) {
    u.port = hp.substr(colon + 1);
    hp = hp.substr(0, colon);
  }
  if (hp.size() >= 2 && hp.front() == '[' && hp.back() == ']') {
    hp = hp.substr(1, hp.size() - 2);
  }
  if (hp.empty() || u.port.empty()) {
    return Error::make(0, "BadUrl", "no host or port in " + url);
  }
  u.host = hp;
  return u;
}

using Done = std::function<void(Result<std::shared_ptr<WebSocket>>)>;

// One connection attempt: resolve, connect (bounded by the timeout), then the socket's handshake.
struct ConnectOp : std::enable_shared_from_this<ConnectOp> {
  ConnectOp(net::any_io_executor strand, WsUrl url, WsConnectOptions opts, Done done)
      : strand(strand),
        resolver(strand),
        stream(strand),
        url(std::move(url)),
        opts(std::move(opts)),
        done(std::move(done)) {}

  void run() {
    resolver.async_resolve(
        url.host, url.port,
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) {
            self->fail("cannot resolve " + self->url.host + ": " + ec.message());
            return;
          }
          self->stream.expires_after(self->opts.timeout);
          self->stream.async_connect(results, [self](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) {
              self->fail("cannot connect to " + self->url.hostHeader + ": " + ec2.message());
              return;
            }
            self->stream.expires_never();
            beast::error_code ignored;
            self->stream.socket().set_option(tcp::no_delay(true), ignored);
            auto ws = std::make_shared<ClientSocket>(self->strand);
            ws->handshake(std::move(self->stream), self->url.hostHeader, self->url.target,
                          std::move(self->opts.headers), self->opts.timeout, std::move(self->done));
          });
        });
  }

  void fail(const std::string& message) { done(Error::make(0, "ConnectFailed", message, true)); }

  net::any_io_executor strand;
  tcp::resolver resolver;
  beast::tcp_stream stream;
  WsUrl url;
  WsConnectOptions opts;
  Done done;
};

class BeastWsConnector final : public WsConnector {
 public:
  explicit BeastWsConnector(int threads)
      : ioc_(std::max(1, threads)), guard_(net::make_work_guard(ioc_)) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      ++running_;
      threads_.emplace_back([this] { runLoop(); });
    }
  }
  ~BeastWsConnector() override { stop(); }

  void connect(WsConnectOptions options, Done done) override {
    auto strand = net::make_strand(ioc_);
    if (stopped_) {
      net::post(strand, [done = std::move(done)] {
        done(Error::make(0, "Stopped", "the WebSocket connector is stopped"));
      });
      return;
    }
    auto url = parseWsUrl(options.url);
    if (!url) {
      net::post(strand, [done = std::move(done), err = url.error()] { done(err); });
      return;
    }
    // Track the socket so stop() can close it.
    Done tracked = [this, done = std::move(done)](Result<std::shared_ptr<WebSocket>> r) {
      if (r) {
        track(*r);
      }
      done(std::move(r));
    };
    std::make_shared<ConnectOp>(strand, std::move(*url), std::move(options), std::move(tracked))
        ->run();
  }

  void stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto& w : sockets_) {
        if (auto s = w.lock()) {
          s->close(1001, "client stopping");
        }
      }
      sockets_.clear();
    }
    guard_.reset();
    // Let the close handshakes finish (bounded), then stop whatever is left.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (running_ > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
    threads_.clear();
  }

 private:
  void runLoop() {
    for (;;) {
      try {
        ioc_.run();
        --running_;
        return;
      } catch (const std::exception& e) {
        log::error("websocket client: io thread caught", {{"error", e.what()}});
      }
    }
  }

  void track(const std::shared_ptr<WebSocket>& s) {
    std::lock_guard<std::mutex> lk(mu_);
    std::erase_if(sockets_, [](const auto& w) { return w.expired(); });
    sockets_.push_back(s);
  }

  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
  std::atomic<int> running_{0};
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::vector<std::weak_ptr<WebSocket>> sockets_;
};

}  // namespace

std::unique_ptr<WsConnector> makeBeastWsConnector(int threads) {
  return std::make_unique<BeastWsConnector>(threads);
}

}  // namespace waha::http
