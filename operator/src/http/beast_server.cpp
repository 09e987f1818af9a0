// Boost.Beast adapter behind http::HttpServer. Exceptions stop here: a handler that throws gets
// its client a 500, never a crashed server.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <thread>
#include <vector>

#include "common/log.h"
#include "http/beast_connection.h"
#include "http/beast_runtime.h"
#include "http/server.h"

namespace waha::http {
namespace {

using namespace detail;  // NOLINT: the server's own internals

class BeastServer final : public HttpServer {
 public:
  explicit BeastServer(ServerOptions opts) : core_(std::make_shared<ServerCore>()) {
    core_->opts = std::move(opts);
    runtime_ = beastRuntime(core_->opts.runtime);
    core_->opts.runtime.reset();  // connections (queued on it) hold the core: no cycle
    ownRuntime_ = !runtime_;
    if (ownRuntime_) {
      runtime_ = std::make_shared<BeastRuntime>(core_->opts.threads, "http-server");
    }
  }
  ~BeastServer() override { stop(); }

  Status start(Handler handler) override {
    core_->handler = std::move(handler);
    auto& o = core_->opts;
    try {
      if (o.tls) {
        auto& ctx = core_->sslCtx.emplace(ssl::context::tls_server);
        ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        ctx.use_certificate_chain(net::buffer(o.tls->certPem));
        ctx.use_private_key(net::buffer(o.tls->keyPem), ssl::context::pem);
      }
      tcp::endpoint ep(net::ip::make_address(o.host), static_cast<unsigned short>(o.port));
      acceptor_ = std::make_shared<tcp::acceptor>(runtime_->connectionExecutor(0));
      acceptor_->open(ep.protocol());
      acceptor_->set_option(net::socket_base::reuse_address(true));
      acceptor_->bind(ep);
      acceptor_->listen(net::socket_base::max_listen_connections);
      port_ = acceptor_->local_endpoint().port();
    } catch (const std::exception& e) {
      return Error::make(
          0, "BindFailed",
          "cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + e.what());
    }
    accept(core_, acceptor_, runtime_.get());
    return {};
  }

  int port() const override { return port_; }

  // Closes the listener and every connection, then waits (2 s at most) until the connections are
  // gone, so open streams saw onClose and WebSockets finished their close handshake.
  void stop() override {
    if (core_->stopped.exchange(true)) {
      return;
    }
    closeAcceptor();
    forEachConnection([](const std::shared_ptr<ConnectionBase>& c) { c->close(); });
    if (!waitAllGone(std::chrono::seconds(2))) {
      log::warn("http server: connections still open after stop",
                {{"count", std::to_string(liveCount())}});
    }
    if (ownRuntime_) {
      runtime_->stop();
    }
  }

  void shutdown(std::chrono::milliseconds grace) override {
    if (core_->stopped || core_->draining.exchange(true)) {
      return;
    }
    closeAcceptor();
    forEachConnection([](const std::shared_ptr<ConnectionBase>& c) { c->closeIfIdle(); });
    if (!waitAllGone(grace)) {
      log::warn("http server: requests still running after the shutdown grace period",
                {{"count", std::to_string(liveCount())}});
    }
    stop();
  }

 private:
  // Static, holding what it uses: on a shared runtime the accept's completion may run after the
  // server object is gone. The runtime is alive whenever its handlers run (and a handler holding
  // it would keep it alive in its own queue). Accepted connections go to the loops in turn.
  static void accept(std::shared_ptr<ServerCore> core, std::shared_ptr<tcp::acceptor> acceptor,
                     BeastRuntime* runtime) {
    auto ex = runtime->connectionExecutor(runtime->nextLoop());
    acceptor->async_accept(ex, [core, acceptor, runtime](beast::error_code ec, Socket socket) {
      if (ec) {
        if (ec != net::error::operation_aborted && acceptor->is_open()) {
          accept(core, acceptor, runtime);
        }
        return;
      }
      serve(core, std::move(socket));
      accept(core, acceptor, runtime);
    });
  }

  static void serve(const std::shared_ptr<ServerCore>& core, Socket socket) {
    beast::error_code e1, e2;
    auto local = socket.local_endpoint(e1).address().to_string();
    auto remote = socket.remote_endpoint(e2).address().to_string();
    socket.set_option(tcp::no_delay(true), e1);
    // Tracked before it runs: stop() closes every tracked connection, and one that ran untracked
    // for a moment could be upgraded and then missed (its WebSocket left open).
    std::shared_ptr<ConnectionBase> conn;
    if (core->sslCtx) {
      auto c = std::make_shared<Connection<TlsStream>>(TlsStream(std::move(socket), *core->sslCtx),
                                                       core, local, remote);
      track(*core, c);
      c->run();
      conn = c;
    } else {
      auto c = std::make_shared<Connection<PlainStream>>(PlainStream(std::move(socket)), core,
                                                         local, remote);
      track(*core, c);
      c->run();
      conn = c;
    }
    if (core->stopped) {
      // stop() may have walked the list before this connection was in it.
      net::post(conn->executor(), [conn] { conn->close(); });
    }
  }

  void closeAcceptor() {
    if (acceptor_) {
      net::post(acceptor_->get_executor(), [a = acceptor_] {
        beast::error_code ec;
        a->close(ec);
      });
    }
  }

  // Runs `fn` on each connection, on the connection's executor.
  void forEachConnection(void (*fn)(const std::shared_ptr<ConnectionBase>&)) {
    std::vector<std::weak_ptr<ConnectionBase>> conns;
    {
      std::lock_guard<std::mutex> lk(core_->mu);
      conns = core_->conns;
    }
    for (auto& w : conns) {
      if (auto c = w.lock()) {
        net::post(c->executor(), [c, fn] { fn(c); });
      }
    }
  }

  bool waitAllGone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(core_->mu);
    return core_->allGone.wait_for(lk, timeout, [this] { return core_->live == 0; });
  }

  int liveCount() {
    std::lock_guard<std::mutex> lk(core_->mu);
    return core_->live;
  }

  static void track(ServerCore& core, const std::shared_ptr<ConnectionBase>& c) {
    std::lock_guard<std::mutex> lk(core.mu);
    if (core.conns.size() > 64 && core.conns.size() % 64 == 0) {
      std::erase_if(core.conns, [](const auto& w) { return w.expired(); });
    }
    core.conns.push_back(c);
  }

  std::shared_ptr<ServerCore> core_;
  std::shared_ptr<BeastRuntime> runtime_;
  bool ownRuntime_ = false;
  std::shared_ptr<tcp::acceptor> acceptor_;
  int port_ = 0;
};

}  // namespace

Handler syncHandler(std::function<Response(const Request&)> fn) {
  return [fn = std::move(fn)](Request& req, std::shared_ptr<Exchange> ex) { ex->respond(fn(req)); };
}

std::unique_ptr<HttpServer> makeBeastServer(ServerOptions options) {
  return std::make_unique<BeastServer>(std::move(options));
}

}  // namespace waha::http