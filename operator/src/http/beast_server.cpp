// Boost.Beast adapter behind http::HttpServer. Exceptions stop here: a handler that throws gets
// its client a 500, never a crashed server.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "http/beast_streamed_body.h"
#include "http/beast_websocket.h"
#include "http/server.h"
#include "http/websocket.h"

namespace waha::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

beast::tcp_stream& lowest(PlainStream& s) { return s; }
beast::tcp_stream& lowest(TlsStream& s) { return beast::get_lowest_layer(s); }

// State shared between a connection and the Exchange/ResponseStream handed to user code, which
// may outlive the connection or be used from other threads. Everything here runs on the
// connection's strand except the atomics.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void sendResponse(Response r, unsigned version, bool keepAlive) = 0;
  virtual void startStream(int status, Headers h, unsigned version,
                           std::shared_ptr<class StreamImpl> stream) = 0;
  virtual void close() = 0;
  virtual void writeChunk(std::string data) = 0;
  virtual void endStream() = 0;
  virtual void abortStream() = 0;
  virtual void whenWritable(std::size_t maxQueued, std::function<void()> fn) = 0;
  virtual void readBody(std::uint64_t request, BodyReader::PieceFn fn) = 0;
  virtual net::any_io_executor executor() = 0;
  // The request being handled is a WebSocket upgrade (set before the handler runs).
  virtual bool upgradable() const = 0;
  // Hands the connection over to a WebSocket (the handshake completes on the strand).
  virtual std::shared_ptr<WebSocket> upgrade(Headers h) = 0;
};

// Request::bodyReader of a streamed request: reads through the connection, on its strand.
class BodyReaderImpl final : public BodyReader {
 public:
  BodyReaderImpl(std::weak_ptr<ConnectionBase> conn, std::uint64_t request,
                 std::optional<std::size_t> length)
      : conn_(std::move(conn)), request_(request), length_(length) {}
  void read(PieceFn fn) override {
    auto c = conn_.lock();
    if (!c) {
      fn(Error::make(400, "BodyUnavailable", "client connection closed"), false);
      return;
    }
    net::post(c->executor(),
              [c, r = request_, fn = std::move(fn)]() mutable { c->readBody(r, std::move(fn)); });
  }
  std::optional<std::size_t> contentLength() const override { return length_; }

 private:
  std::weak_ptr<ConnectionBase> conn_;
  std::uint64_t request_;  // which request of the connection this body belongs to
  std::optional<std::size_t> length_;
};

class StreamImpl final : public ResponseStream {
 public:
  explicit StreamImpl(std::weak_ptr<ConnectionBase> conn) : conn_(std::move(conn)) {}

  bool write(std::string data) override {
    if (!open_) {
      return false;
    }
    auto c = conn_.lock();
    if (!c) {
      return false;
    }
    net::post(c->executor(), [c, d = std::move(data)]() mutable { c->writeChunk(std::move(d)); });
    return true;
  }
  void end() override {
    bool expected = true;
    if (!open_.compare_exchange_strong(expected, false)) {
      return;
    }
    if (auto c = conn_.lock()) {
      net::post(c->executor(), [c] { c->endStream(); });
    }
  }
  bool open() const override { return open_; }
  void abort() override {
    bool expected = true;
    if (!open_.compare_exchange_strong(expected, false)) {
      return;
    }
    if (auto c = conn_.lock()) {
      net::post(c->executor(), [c] { c->abortStream(); });
    }
  }
  void onWritable(std::size_t maxQueuedBytes, std::function<void()> fn) override {
    auto c = conn_.lock();
    if (!c) {
      fn();
      return;
    }
    net::post(c->executor(), [c, maxQueuedBytes, fn = std::move(fn)]() mutable {
      c->whenWritable(maxQueuedBytes, std::move(fn));
    });
  }
  void onClose(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lk(mu_);
    if (closed_) {
      lk.unlock();
      fn();
      return;
    }
    callbacks_.push_back(std::move(fn));
  }
  // Called by the connection (on its strand) when the stream is over for any reason.
  void closed() {
    open_ = false;
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_) {
        return;
      }
      closed_ = true;
      cbs.swap(callbacks_);
    }
    for (auto& cb : cbs) {
      try {
        cb();
      } catch (...) {
        log::error("http server: stream close callback threw");
      }
    }
  }

 private:
  // Weak: the connection owns the stream while it is active, not the other way round.
  std::weak_ptr<ConnectionBase> conn_;
  std::atomic<bool> open_{true};
  std::mutex mu_;
  bool closed_ = false;
  std::vector<std::function<void()>> callbacks_;
};

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(std::shared_ptr<ConnectionBase> conn, unsigned version, bool keepAlive)
      : conn_(std::move(conn)), version_(version), keepAlive_(keepAlive) {}
  ~ExchangeImpl() override {
    if (!answered_.exchange(true)) {
      respondNow(Response::json(500, R"({"message":"handler did not answer"})"));
    }
  }
  void respond(Response r) override {
    if (answered_.exchange(true)) {
      return;
    }
    respondNow(std::move(r));
  }
  std::shared_ptr<ResponseStream> startStream(int status, Headers h) override;
  std::shared_ptr<WebSocket> acceptWebSocket(Headers h) override {
    if (!conn_->upgradable() || answered_.exchange(true)) {
      return nullptr;
    }
    return conn_->upgrade(std::move(h));
  }

 private:
  void respondNow(Response r) {
    auto c = conn_;
    net::post(c->executor(), [c, r = std::move(r), v = version_, ka = keepAlive_]() mutable {
      c->sendResponse(std::move(r), v, ka);
    });
  }
  std::shared_ptr<ConnectionBase> conn_;
  unsigned version_;
  bool keepAlive_;
  std::atomic<bool> answered_{false};
};

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(Stream stream, const ServerOptions& opts, Handler& handler, std::string local,
             std::string remote)
      : stream_(std::move(stream)),
        exec_(stream_.get_executor()),
        opts_(opts),
        handler_(handler),
        local_(std::move(local)),
        remote_(std::move(remote)) {}

  void run() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      lowest(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server, [self = self()](beast::error_code ec) {
        if (!ec) {
          self->readRequest();
        }
      });
    } else {
      readRequest();
    }
  }

  // Kept apart from stream_, which a WebSocket upgrade moves away.
  net::any_io_executor executor() override { return exec_; }

  bool upgradable() const override { return upgradable_; }

  std::shared_ptr<WebSocket> upgrade(Headers h) override {
    auto ws = std::make_shared<detail::BeastWebSocket<Stream>>(exec_);
    net::post(exec_, [self = self(), ws, h = std::move(h)]() mutable {
      if (self->closed_) {
        ws->fail("server stopping");
        return;
      }
      // The keep-alive loop ends here: no further request is read on this connection.
      self->upgraded_ = true;
      self->ws_ = ws;
      ws->accept(std::move(self->stream_), std::move(*self->upgradeReq_), std::move(h), self);
    });
    return ws;
  }

  void sendResponse(Response r, unsigned version, bool keepAlive) override {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(r.status));
    for (const auto& [k, v] : r.headers.all()) {
      res->insert(k, v);
    }
    res->body() = std::move(r.body);
    res->keep_alive(keepAlive);
    res->prepare_payload();
    lowest(stream_).expires_after(std::chrono::seconds(60));
    bhttp::async_write(stream_, *res,
                       [self = self(), res, keepAlive](beast::error_code ec, std::size_t) {
                         if (ec || !keepAlive) {
                           self->close();
                           return;
                         }
                         self->afterAnswer();
                       });
  }

  void readBody(std::uint64_t request, BodyReader::PieceFn fn) override {
    if (!body_ || request != bodySeq_ || closed_) {
      fn(Error::make(400, "BodyUnavailable", "request body no longer readable"), false);
      return;
    }
    body_->read(self(), std::move(fn), [self = self()] {
      if (self->afterBodyRead_) {
        self->afterBodyRead_ = false;
        self->afterAnswer();
      }
    });
  }

  ~Connection() override { finishStream(); }

  void startStream(int status, Headers h, unsigned version,
                   std::shared_ptr<StreamImpl> stream) override {
    if (closed_) {
      stream->closed();
      return;
    }
    activeStream_ = std::move(stream);
    streamOpen_ = true;
    streamRes_ = {};  // a fresh head for each stream on this connection
    streamRes_.version(version);
    streamRes_.result(static_cast<unsigned>(status));
    for (const auto& [k, v] : h.all()) {
      streamRes_.insert(k, v);
    }
    // A declared length is kept (a proxied download); otherwise the body goes chunked.
    fixedLength_ = false;
    if (auto len = h.get("content-length")) {
      try {
        declaredLength_ = std::stoull(*len);
        fixedLength_ = true;
      } catch (...) {
        streamRes_.erase(bhttp::field::content_length);
      }
    }
    if (!fixedLength_) {
      streamRes_.chunked(true);
    }
    sentBytes_ = 0;
    streamSer_.emplace(streamRes_);
    writing_ = true;
    lowest(stream_).expires_never();
    bhttp::async_write_header(stream_, *streamSer_,
                              [self = self()](beast::error_code ec, std::size_t) {
                                self->writing_ = false;
                                if (ec) {
                                  self->failStream();
                                  return;
                                }
                                // A body still arriving is read by its handler; a hang-up
                                // shows there.
                                if (!self->body_ || !self->body_->active()) {
                                  self->watchForClose();
                                }
                                self->pump();
                              });
  }

  void writeChunk(std::string data) override {
    if (!streamOpen_ || data.empty()) {
      return;
    }
    pendingBytes_ += data.size();
    pending_.push_back(std::move(data));
    pump();
  }

  void abortStream() override {
    if (streamOpen_) {
      failStream();
    }
  }

  void whenWritable(std::size_t maxQueued, std::function<void()> fn) override {
    if (!streamOpen_ || pendingBytes_ <= maxQueued) {
      fn();
      return;
    }
    writableWaiters_.emplace_back(maxQueued, std::move(fn));
  }

  void endStream() override {
    if (!streamOpen_) {
      return;
    }
    ending_ = true;
    pump();
  }

 private:
  std::shared_ptr<Connection> self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }

  void readRequest() {
    body_.reset();  // the previous request's body, read to its end by now
    if (opts_.streamBody) {
      readHead();
      return;
    }
    parser_.emplace();
    parser_->body_limit(opts_.maxBodyBytes);
    parser_->header_limit(64 * 1024);
    lowest(stream_).expires_after(opts_.idleTimeout);
    bhttp::async_read(
        stream_, buffer_, *parser_, [self = self()](beast::error_code ec, std::size_t) {
          if (ec == bhttp::error::body_limit) {
            self->sendResponse(Response::json(413, R"({"message":"request body too large"})"), 11,
                               false);
            return;
          }
          if (ec) {
            self->close();
            return;
          }
          self->dispatch();
        });
  }

  // ServerOptions::streamBody: the head alone first, then either the whole body as usual or the
  // handler at once with a BodyReader.
  void readHead() {
    headParser_.emplace();
    headParser_->body_limit(opts_.maxBodyBytes);
    headParser_->header_limit(64 * 1024);
    lowest(stream_).expires_after(opts_.idleTimeout);
    bhttp::async_read_header(
        stream_, buffer_, *headParser_, [self = self()](beast::error_code ec, std::size_t) {
          if (ec == bhttp::error::body_limit) {
            self->sendResponse(Response::json(413, R"({"message":"request body too large"})"), 11,
                               false);
            return;
          }
          if (ec) {
            self->close();
            return;
          }
          self->onHead();
        });
  }

  void onHead() {
    auto& head = headParser_->get();
    Request req = toRequest(head);
    upgradable_ = false;  // a streamed request is never a WebSocket upgrade (see dispatch())
    bool stream = false;
    try {
      // An upgrade goes the whole-body way: dispatch() keeps its head for the handshake.
      stream = !isWebSocketUpgrade(req) && opts_.streamBody(req);
    } catch (...) {
      log::error("http server: streamBody threw", {{"path", req.path}});
    }
    if (!stream) {
      parser_.emplace(std::move(*headParser_));
      headParser_.reset();
      // A bodiless request (or a body already buffered) needs no trip through the reactor.
      beast::error_code ec;
      while (!parser_->is_done() && buffer_.size() > 0 && !ec) {
        buffer_.consume(parser_->put(buffer_.data(), ec));
      }
      if (parser_->is_done()) {
        dispatch();
        return;
      }
      if (ec && ec != bhttp::error::need_more) {
        sendResponse(Response::json(ec == bhttp::error::body_limit ? 413 : 400,
                                    R"({"message":"bad request body"})"),
                     11, false);
        return;
      }
      bhttp::async_read(
          stream_, buffer_, *parser_, [self = self()](beast::error_code ec, std::size_t) {
            if (ec == bhttp::error::body_limit) {
              self->sendResponse(Response::json(413, R"({"message":"request body too large"})"), 11,
                                 false);
              return;
            }
            if (ec) {
              self->close();
              return;
            }
            self->dispatch();
          });
      return;
    }
    // A request without a body (most GETs) reports a length of 0 rather than "unknown".
    auto len =
        headParser_->is_done() ? boost::optional<std::uint64_t>(0) : headParser_->content_length();
    bool expect = iequals(req.header("expect"), "100-continue");
    upgradable_ = false;  // never an upgrade (see above)
    body_.emplace(stream_, buffer_, *headParser_, opts_.idleTimeout, expect);
    req.bodyReader = std::make_shared<BodyReaderImpl>(
        shared_from_this(), ++bodySeq_,
        len ? std::optional<std::size_t>(static_cast<std::size_t>(*len)) : std::nullopt);
    invoke(req, head.version(), head.keep_alive());
  }

  // The answer is out: what the handler left of a streamed body is read and dropped, so the
  // connection can serve its next request.
  void afterAnswer() {
    if (!body_) {
      resumeReading();
      return;
    }
    body_->detach();
    if (body_->broken() || (body_->active() && body_->awaitingContinue())) {
      close();
      return;
    }
    if (body_->reading()) {
      afterBodyRead_ = true;  // the pending read's completion comes back here
      return;
    }
    body_->discard(self(), [self = self()](bool ok) {
      if (!ok) {
        self->close();
        return;
      }
      self->body_.reset();
      self->headParser_.reset();
      self->resumeReading();
    });
  }

  Request toRequest(const bhttp::request_header<>& msg) {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = urlDecode(std::string_view(req.target).substr(0, q));
    if (q != std::string::npos) {
      req.query = req.target.substr(q + 1);
    }
    for (const auto& f : msg) {
      req.headers.add(std::string(f.name_string()), std::string(f.value()));
    }
    req.localAddress = local_;
    req.remoteAddress = remote_;
    return req;
  }

  void dispatch() {
    auto msg = parser_->release();
    Request req = toRequest(msg);
    req.body = std::move(msg.body());
    upgradable_ = isWebSocketUpgrade(req);
    if (upgradable_) {
      upgradeReq_.emplace(msg);
    }
    invoke(req, msg.version(), msg.keep_alive());
  }

  void invoke(Request& req, unsigned version, bool keepAlive) {
    auto ex = std::make_shared<ExchangeImpl>(shared_from_this(), version, keepAlive);
    try {
      handler_(req, ex);
    } catch (const std::exception& e) {
      log::error("http server: handler threw", {{"path", req.path}, {"error", e.what()}});
      ex->respond(Response::json(500, R"({"message":"internal error"})"));
    } catch (...) {
      ex->respond(Response::json(500, R"({"message":"internal error"})"));
    }
  }

  // While a stream is open nothing else is read; a read of the socket notices a client that hung
  // up (EOF) so the stream's owner can stop producing.
  void watchForClose() {
    peeking_ = true;
    stream_.async_read_some(peek_.prepare(1024),
                            [self = self()](beast::error_code ec, std::size_t n) {
                              self->peeking_ = false;
                              if (ec) {
                                // Cancelled on purpose when the stream ended: go on with the next
                                // request.
                                if (ec == net::error::operation_aborted && self->resumeAfterPeek_) {
                                  self->resumeAfterPeek_ = false;
                                  self->resumeReading();
                                  return;
                                }
                                self->failStream();
                                return;
                              }
                              self->peek_.commit(n);
                              if (self->streamOpen_) {
                                self->watchForClose();
                              } else if (self->resumeAfterPeek_) {
                                self->resumeAfterPeek_ = false;
                                self->resumeReading();
                              }
                            });
  }

  // Bytes read while streaming (a pipelined request) seed the next request's parse.
  void resumeReading() {
    auto n = net::buffer_copy(buffer_.prepare(peek_.size()), peek_.data());
    buffer_.commit(n);
    peek_.consume(peek_.size());
    readRequest();
  }

  void pump() {
    if (writing_ || !streamOpen_) {
      return;
    }
    if (!pending_.empty()) {
      writing_ = true;
      auto data = std::make_shared<std::string>(std::move(pending_.front()));
      pending_.pop_front();
      auto done = [self = self(), data](beast::error_code ec, std::size_t) {
        self->writing_ = false;
        self->pendingBytes_ -= data->size();
        self->sentBytes_ += data->size();
        if (ec) {
          self->failStream();
          return;
        }
        self->notifyWritable();
        self->pump();
      };
      if (fixedLength_) {
        net::async_write(stream_, net::buffer(*data), std::move(done));
      } else {
        net::async_write(stream_, bhttp::make_chunk(net::buffer(*data)), std::move(done));
      }
      return;
    }
    if (ending_) {
      if (fixedLength_) {
        endFixedStream();
        return;
      }
      writing_ = true;
      net::async_write(stream_, bhttp::make_chunk_last(),
                       [self = self()](beast::error_code ec, std::size_t) {
                         self->writing_ = false;
                         self->finishStream();
                         if (ec) {
                           self->close();
                           return;
                         }
                         self->nextAfterStream();
                       });
    }
  }

  // A fixed-length body ends without a terminator; one shorter than declared cannot be finished
  // honestly, so the connection is cut.
  void endFixedStream() {
    finishStream();
    if (declaredLength_ != sentBytes_) {
      close();
      return;
    }
    nextAfterStream();
  }

  void nextAfterStream() {
    // Only one read may be pending: stop the hang-up watch first.
    if (peeking_) {
      resumeAfterPeek_ = true;
      beast::error_code ignored;
      lowest(stream_).socket().cancel(ignored);
      return;
    }
    afterAnswer();
  }

  void notifyWritable() {
    for (std::size_t i = 0; i < writableWaiters_.size();) {
      if (!streamOpen_ || pendingBytes_ <= writableWaiters_[i].first) {
        auto fn = std::move(writableWaiters_[i].second);
        writableWaiters_.erase(writableWaiters_.begin() + static_cast<std::ptrdiff_t>(i));
        fn();
      } else {
        ++i;
      }
    }
  }

  void finishStream() {
    streamOpen_ = false;
    ending_ = false;
    pending_.clear();
    pendingBytes_ = 0;
    notifyWritable();
    if (activeStream_) {
      auto s = std::move(activeStream_);
      s->closed();
    }
  }

  void failStream() {
    finishStream();
    close();
  }

  void close() override {
    if (closed_) {
      return;
    }
    closed_ = true;
    finishStream();
    if (upgraded_) {
      if (auto ws = ws_.lock()) {
        ws->close(1001, "server stopping");
      }
      return;
    }
    beast::error_code ec;
    lowest(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest(stream_).close();
  }

  Stream stream_;
  net::any_io_executor exec_;
  const ServerOptions& opts_;
  Handler& handler_;
  std::string local_;
  std::string remote_;
  beast::flat_buffer buffer_;
  beast::flat_buffer peek_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  // A streamed request (ServerOptions::streamBody): its head parser, then its body's reader.
  std::optional<bhttp::request_parser<bhttp::buffer_body>> headParser_;
  std::optional<StreamedBody<Stream>> body_;
  std::uint64_t bodySeq_ = 0;
  bool afterBodyRead_ = false;
  bhttp::response<bhttp::empty_body> streamRes_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> streamSer_;
  std::deque<std::string> pending_;
  std::size_t pendingBytes_ = 0;
  std::size_t sentBytes_ = 0;
  bool fixedLength_ = false;
  std::size_t declaredLength_ = 0;
  std::vector<std::pair<std::size_t, std::function<void()>>> writableWaiters_;
  std::shared_ptr<StreamImpl> activeStream_;
  bool streamOpen_ = false;
  bool writing_ = false;
  bool ending_ = false;
  bool closed_ = false;
  bool peeking_ = false;
  bool resumeAfterPeek_ = false;
  std::atomic<bool> upgradable_{false};
  std::optional<bhttp::request<bhttp::string_body>> upgradeReq_;
  bool upgraded_ = false;
  std::weak_ptr<WebSocket> ws_;
};

std::shared_ptr<ResponseStream> ExchangeImpl::startStream(int status, Headers h) {
  if (answered_.exchange(true)) {
    return nullptr;
  }
  auto s = std::make_shared<StreamImpl>(conn_);
  auto c = conn_;
  net::post(c->executor(), [c, s, status, h = std::move(h), v = version_]() mutable {
    c->startStream(status, std::move(h), v, s);
  });
  return s;
}

class BeastServer final : public HttpServer {
 public:
  explicit BeastServer(ServerOptions opts) : opts_(std::move(opts)), ioc_(opts_.threads) {}
  ~BeastServer() override { stop(); }

  Status start(Handler handler) override {
    handler_ = std::move(handler);
    try {
      if (opts_.tls) {
        sslCtx_.emplace(ssl::context::tls_server);
        sslCtx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1);
        sslCtx_->use_certificate_chain(net::buffer(opts_.tls->certPem));
        sslCtx_->use_private_key(net::buffer(opts_.tls->keyPem), ssl::context::pem);
      }
      auto addr = net::ip::make_address(opts_.host);
      tcp::endpoint ep(addr, static_cast<unsigned short>(opts_.port));
      acceptor_.emplace(net::make_strand(ioc_));
      acceptor_->open(ep.protocol());
      acceptor_->set_option(net::socket_base::reuse_address(true));
      acceptor_->bind(ep);
      acceptor_->listen(net::socket_base::max_listen_connections);
      port_ = acceptor_->local_endpoint().port();
    } catch (const std::exception& e) {
      return Error::make(
          0, "BindFailed",
          "cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) + ": " + e.what());
    }
    accept();
    for (int i = 0; i < std::max(1, opts_.threads); ++i) {
      ++running_;
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            --running_;
            return;
          } catch (const std::exception& e) {
            log::error("http server: io thread caught", {{"error", e.what()}});
          }
        }
      });
    }
    return {};
  }

  int port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    if (acceptor_) {
      net::post(acceptor_->get_executor(), [this] {
        beast::error_code ec;
        acceptor_->close(ec);
      });
    }
    {
      std::lock_guard<std::mutex> lk(connMu_);
      for (auto& w : conns_) {
        if (auto c = w.lock()) {
          net::post(c->executor(), [c] { c->close(); });
        }
      }
      conns_.clear();
    }
    // Let the closes run (open streams see onClose), then stop whatever is left.
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
  void accept() {
    acceptor_->async_accept(
        net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
          if (ec) {
            if (ec != net::error::operation_aborted && acceptor_->is_open()) {
              accept();
            }
            return;
          }
          beast::error_code e1, e2;
          auto local = socket.local_endpoint(e1).address().to_string();
          auto remote = socket.remote_endpoint(e2).address().to_string();
          socket.set_option(tcp::no_delay(true), e1);
          // Tracked before it runs: stop() closes every tracked connection, and one that ran
          // untracked for a moment could be upgraded and then missed (its WebSocket left open).
          std::shared_ptr<ConnectionBase> conn;
          if (sslCtx_) {
            auto c = std::make_shared<Connection<TlsStream>>(TlsStream(std::move(socket), *sslCtx_),
                                                             opts_, handler_, local, remote);
            track(c);
            c->run();
            conn = c;
          } else {
            auto c = std::make_shared<Connection<PlainStream>>(PlainStream(std::move(socket)),
                                                               opts_, handler_, local, remote);
            track(c);
            c->run();
            conn = c;
          }
          if (stopped_) {
            // stop() may have walked the list before this connection was in it.
            net::post(conn->executor(), [conn] { conn->close(); });
            return;
          }
          accept();
        });
  }

  ServerOptions opts_;
  net::io_context ioc_;
  std::optional<ssl::context> sslCtx_;
  std::optional<tcp::acceptor> acceptor_;
  Handler handler_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<int> running_{0};
  std::mutex connMu_;
  std::vector<std::weak_ptr<ConnectionBase>> conns_;

  void track(const std::shared_ptr<ConnectionBase>& c) {
    std::lock_guard<std::mutex> lk(connMu_);
    if (conns_.size() > 64 && conns_.size() % 64 == 0) {
      std::erase_if(conns_, [](const auto& w) { return w.expired(); });
    }
    conns_.push_back(c);
  }
};

}  // namespace

Handler syncHandler(std::function<Response(const Request&)> fn) {
  return [fn = std::move(fn)](Request& req, std::shared_ptr<Exchange> ex) { ex->respond(fn(req)); };
}

std::unique_ptr<HttpServer> makeBeastServer(ServerOptions options) {
  return std::make_unique<BeastServer>(std::move(options));
}

}  // namespace waha::http
