#pragma once

// Internal to http/ (beast_server.cpp): one client connection of the Beast server: the keep-alive
// request loop, whole or streamed request bodies, whole or streamed answers, the hand-off to a
// WebSocket. Everything here runs on the connection's executor (its loop's thread).

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "http/beast_exchange.h"
#include "http/beast_runtime.h"
#include "http/beast_streamed_body.h"
#include "http/beast_websocket.h"
#include "http/wire.h"

namespace waha::http::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

// On the loop's concrete executor type (see beast_runtime.h).
using Socket = net::basic_stream_socket<tcp, LoopExecutor>;
using PlainStream = beast::basic_stream<tcp, LoopExecutor>;
using TlsStream = beast::ssl_stream<PlainStream>;

inline PlainStream& lowest(PlainStream& s) { return s; }
inline PlainStream& lowest(TlsStream& s) { return beast::get_lowest_layer(s); }

// What a server's connections share with it. Every connection holds it, so a connection that
// outlives its server object (an Exchange kept by another thread, a handler still queued on a
// shared runtime) finds its options and handler intact; stop() waits for `live` to reach 0.
struct ServerCore {
  ServerOptions opts;
  Handler handler;
  std::optional<ssl::context> sslCtx;
  std::atomic<bool> stopped{false};
  std::atomic<bool> draining{false};  // shutdown(): no request after the one in progress
  std::mutex mu;
  std::condition_variable allGone;
  int live = 0;  // connection objects alive
  std::vector<std::weak_ptr<ConnectionBase>> conns;

  void born() {
    std::lock_guard<std::mutex> lk(mu);
    ++live;
  }
  void died() {
    std::lock_guard<std::mutex> lk(mu);
    if (--live == 0) {
      allGone.notify_all();
    }
  }
};

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(Stream stream, std::shared_ptr<ServerCore> core, std::string local, std::string remote)
      : stream_(std::move(stream)),
        exec_(stream_.get_executor()),
        core_(std::move(core)),
        opts_(core_->opts),
        local_(std::move(local)),
        remote_(std::move(remote)) {
    core_->born();
  }

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
  LoopExecutor executor() override { return exec_; }

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
    keepAlive = keepAlive && !core_->draining;  // the client learns not to send another
    // The answer to a HEAD keeps the Content-Length it declares (that of the GET it stands for)
    // and never carries a body; nor do 1xx, 204 and 304 answers.
    bool declared = headRequest_ && r.body.empty() && r.headers.has("content-length");
    auto out = std::make_shared<std::pair<std::string, std::string>>();
    out->first =
        wire::responseHead(version, r.status, r.headers, r.body.size(), keepAlive, declared);
    if (!headRequest_ && !wire::bodilessStatus(r.status)) {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        // One buffer over TLS: once the head is written, Asio's two-buffer write passes {empty,
        // body} on, Boost 1.74's ssl_stream writes just the empty first buffer, and a write of 0
        // bytes ends async_write early: the body was never sent.
        out->first += r.body;
      } else {
        out->second = std::move(r.body);
      }
    }
    std::array<net::const_buffer, 2> bufs{net::buffer(out->first), net::buffer(out->second)};
    lowest(stream_).expires_after(std::chrono::seconds(60));
    net::async_write(stream_, bufs,
                     [self = self(), out, keepAlive](beast::error_code ec, std::size_t) {
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

  ~Connection() override {
    finishStream();
    core_->died();
  }

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

  void closeIfIdle() override {
    if (!busy_ || upgraded_) {
      close();  // a WebSocket never ends by itself: it gets its 1001 now
    }
  }

  void readRequest() {
    body_.reset();  // the previous request's body, read to its end by now
    busy_ = false;
    if (core_->draining) {
      close();
      return;
    }
    if (opts_.streamBody) {
      readHead();
      return;
    }
    parser_.emplace();
    limit(*parser_);
    bhttp::async_read(stream_, buffer_, *parser_, afterRead(&Connection::dispatch));
  }

  template <class Parser>
  void limit(Parser& p) {
    p.body_limit(opts_.maxBodyBytes);
    p.header_limit(64 * 1024);
    lowest(stream_).expires_after(opts_.idleTimeout);
  }

  // The completion of a request read: 413 for a body over the limit, the connection closed on
  // any other error, else `next`.
  auto afterRead(void (Connection::*next)()) {
    return [self = self(), next](beast::error_code ec, std::size_t) {
      if (ec == bhttp::error::body_limit) {
        self->sendResponse(Response::json(413, R"({"message":"request body too large"})"), 11,
                           false);
        return;
      }
      if (ec) {
        self->close();
        return;
      }
      ((*self).*next)();
    };
  }

  // ServerOptions::streamBody: the head alone first, then either the whole body as usual or the
  // handler at once with a BodyReader.
  void readHead() {
    headParser_.emplace();
    limit(*headParser_);
    bhttp::async_read_header(stream_, buffer_, *headParser_, afterRead(&Connection::onHead));
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
      bhttp::async_read(stream_, buffer_, *parser_, afterRead(&Connection::dispatch));
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
    busy_ = true;
    headRequest_ = req.method == "HEAD";
    auto ex = std::make_shared<ExchangeImpl>(shared_from_this(), version, keepAlive);
    try {
      core_->handler(req, ex);
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
  LoopExecutor exec_;
  std::shared_ptr<ServerCore> core_;
  const ServerOptions& opts_;  // core_->opts
  std::string local_;
  std::string remote_;
  beast::flat_buffer buffer_;
  beast::flat_buffer peek_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  // A streamed request (ServerOptions::streamBody): its head parser, then its body's reader.
  std::optional<bhttp::request_parser<bhttp::buffer_body>> headParser_;
  std::optional<StreamedBody<Stream>> body_;
  std::uint64_t bodySeq_ = 0;
  bool headRequest_ = false;
  bool busy_ = false;  // from a request's head to the end of its answer
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

}  // namespace waha::http::detail
