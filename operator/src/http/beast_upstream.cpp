// Boost.Beast/Asio adapter behind http::UpstreamPool: the hub's data path to the workers. One
// ForwardOp per request runs on the strand of the pooled connection it uses; the pool itself is a
// mutex-guarded idle list per target, never held across I/O. Exceptions stop here.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "http/upstream_conn.h"

namespace waha::http {
namespace {

constexpr std::size_t kPieceBytes = 64 * 1024;
constexpr std::size_t kWholeBodyMax = 256 * 1024;  // answers up to this size skip streaming
constexpr std::size_t kFetchBodyMax = 64 * 1024 * 1024;
// Bytes queued towards a slow client before the upstream is read further.
constexpr std::size_t kClientQueueMax = 4 * kPieceBytes;

bool isIdempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" || m == "TRACE";
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Response gatewayError(int status, std::string_view message) {
  return Response::json(status, "{\"statusCode\":" + std::to_string(status) + ",\"message\":\"" +
                                    jsonEscape(message) + "\",\"error\":\"" + reasonPhrase(status) +
                                    "\"}");
}

class ForwardOp : public std::enable_shared_from_this<ForwardOp> {
 public:
  using FetchDone = std::function<void(Result<Response>)>;
  ForwardOp(ConnPool& pool, const UpstreamTarget& target, UpstreamRequest req,
            std::shared_ptr<Exchange> ex, ForwardHooks hooks, FetchDone fetchDone)
      : pool_(pool),
        key_(target.host + ":" + std::to_string(target.port)),
        target_(target),
        req_(std::move(req)),
        exchange_(std::move(ex)),
        hooks_(std::move(hooks)),
        fetchDone_(std::move(fetchDone)) {}

  ~ForwardOp() {
    if (!done_) {
      fail(502, "upstream pool stopped");
    }
  }

  void start() {
    try {
      buildRequest();
    } catch (const std::exception& e) {
      fail(502, std::string("cannot build the upstream request: ") + e.what());
      return;
    }
    acquire(true);
  }

 private:
  void buildRequest() {
    out_.method_string(req_.method);
    out_.target(req_.target);
    out_.version(11);
    bool hasHost = false;
    for (const auto& [k, v] : req_.headers.all()) {
      if (isHopByHop(k) || iequals(k, "content-length") || iequals(k, "expect")) {
        continue;
      }
      hasHost = hasHost || iequals(k, "host");
      out_.insert(k, v);
    }
    if (!hasHost) {
      out_.set(bhttp::field::host, key_);
    }
    if (req_.bodyReader) {
      if (auto len = req_.bodyReader->contentLength()) {
        out_.content_length(*len);
      } else {
        out_.chunked(true);
      }
    } else {
      out_.body() = std::move(req_.body);
      out_.prepare_payload();
    }
  }

  // A pooled connection when one is idle (and `pooled` allows), else a new one.
  void acquire(bool pooled) {
    conn_ = pooled ? pool_.take(key_) : nullptr;
    reused_ = conn_ != nullptr;
    auto self = shared_from_this();
    if (reused_) {
      net::dispatch(conn_->stream.get_executor(), [self] { self->writeRequest(); });
      return;
    }
    conn_ = std::make_shared<UpConn>(net::make_strand(pool_.ioc()));
    net::dispatch(conn_->stream.get_executor(), [self] { self->connect(); });
  }

  void connect() {
    beast::error_code ec;
    auto addr = net::ip::make_address(target_.host, ec);
    conn_->stream.expires_after(pool_.options().connectTimeout);
    auto self = shared_from_this();
    if (!ec) {
      conn_->stream.async_connect(tcp::endpoint(addr, static_cast<unsigned short>(target_.port)),
                                  [self](beast::error_code e) { self->onConnect(e); });
      return;
    }
    resolver_.emplace(conn_->stream.get_executor());
    resolver_->async_resolve(
        target_.host, std::to_string(target_.port),
        [self](beast::error_code e, const tcp::resolver::results_type& results) {
          if (e) {
            self->fail(502, "cannot resolve upstream " + self->key_ + ": " + e.message());
            return;
          }
          self->conn_->stream.async_connect(
              results, [self](beast::error_code e2, const tcp::endpoint&) { self->onConnect(e2); });
        });
  }

  void onConnect(beast::error_code ec) {
    if (ec) {
      bool timeout = ec == beast::error::timeout;
      fail(timeout ? 504 : 502, "cannot connect to upstream " + key_ + ": " + ec.message());
      return;
    }
    beast::error_code ignored;
    conn_->stream.socket().set_option(tcp::no_delay(true), ignored);
    writeRequest();
  }

  void writeRequest() {
    sentAt_ = Clock::now();
    conn_->stream.expires_after(req_.timeout);
    auto self = shared_from_this();
    if (!req_.bodyReader) {
      bhttp::async_write(conn_->stream, out_, [self](beast::error_code ec, std::size_t n) {
        if (ec) {
          self->onIoError(ec, "writing the request", n == 0);
          return;
        }
        self->readHead();
      });
      return;
    }
    headSer_.emplace(out_);
    bhttp::async_write_header(conn_->stream, *headSer_,
                              [self](beast::error_code ec, std::size_t n) {
                                if (ec) {
                                  self->onIoError(ec, "writing the request", n == 0);
                                  return;
                                }
                                self->readBodyPiece();
                              });
  }

  // Pipes the client's body upstream one piece at a time: the next piece is asked for only once
  // the previous one was written, so memory stays bounded by one piece.
  void readBodyPiece() {
    bodyStarted_ = true;
    auto self = shared_from_this();
    auto ex = conn_->stream.get_executor();
    req_.bodyReader->read([self, ex](Result<std::string> piece, bool last) {
      net::post(ex, [self, piece = std::move(piece), last]() mutable {
        self->onBodyPiece(std::move(piece), last);
      });
    });
  }

  void onBodyPiece(Result<std::string> piece, bool last) {
    if (!piece.ok()) {
      int code = piece.error().code == 413 ? 413 : 400;
      fail(code, "request body: " + piece.error().message);
      return;
    }
    auto self = shared_from_this();
    auto next = [self](beast::error_code ec, std::size_t) {
      if (ec) {
        self->onIoError(ec, "writing the request body", false);
        return;
      }
      if (self->bodyDone_) {
        self->readHead();
      } else {
        self->readBodyPiece();
      }
    };
    piece_ = std::move(piece.value());
    bodyDone_ = last;
    conn_->stream.expires_after(req_.timeout);
    if (!out_.chunked()) {
      if (piece_.empty()) {
        readHead();
        return;
      }
      net::async_write(conn_->stream, net::buffer(piece_), next);
    } else if (last) {
      if (piece_.empty()) {
        net::async_write(conn_->stream, bhttp::make_chunk_last(), next);
      } else {
        // Rare: a last piece with data. Send it, then the terminator.
        bodyDone_ = false;
        pendingLast_ = true;
        net::async_write(conn_->stream, bhttp::make_chunk(net::buffer(piece_)), next);
      }
    } else if (!piece_.empty()) {
      net::async_write(conn_->stream, bhttp::make_chunk(net::buffer(piece_)), next);
    } else {
      readBodyPiece();
    }
  }

  void readHead() {
    if (pendingLast_) {
      pendingLast_ = false;
      onBodyPiece(std::string(), true);
      return;
    }
    head_.emplace();
    head_->header_limit(64 * 1024);
    if (fetchDone_) {
      head_->body_limit(kFetchBodyMax);
    } else {
      // Not boost::none: Boost 1.74 compares a Content-Length against an empty limit as "over".
      head_->body_limit(std::numeric_limits<std::uint64_t>::max());
    }
    if (req_.method == "HEAD") {
      head_->skip(true);
    }
    conn_->stream.expires_after(req_.timeout);
    bhttp::async_read_header(
        conn_->stream, conn_->buffer, *head_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onHead(ec); });
  }

  void onHead(beast::error_code ec) {
    if (ec) {
      onIoError(ec, "reading the answer", false);
      return;
    }
    auto& msg = head_->get();
    status_ = static_cast<int>(msg.result_int());
    if (status_ >= 100 && status_ < 200) {
      readHead();  // 1xx interim answers are not forwarded
      return;
    }
    result_.upstreamOk = true;
    result_.upstreamSeconds = Clock::now() - sentAt_;
    for (const auto& f : msg) {
      std::string_view name(f.name_string().data(), f.name_string().size());
      if (!isHopByHop(name)) {
        headers_.add(std::string(name), std::string(f.value()));
      }
    }
    if (hooks_.onHead) {
      try {
        hooks_.onHead(status_, headers_);
      } catch (...) {
        log::error("upstream: onHead hook threw");
      }
    }
    auto len = head_->content_length();
    if (head_->is_done()) {
      complete(std::string());
    } else if (fetchDone_ || (len && *len <= kWholeBodyMax)) {
      readWhole();
    } else {
      startStreaming();
    }
  }

  // Fast path: a small body is read whole and answered in one go.
  void readWhole() {
    whole_.emplace(std::move(*head_));
    // Small answers usually arrived with their head: parse them from the buffer at once, saving
    // a round through the reactor.
    beast::error_code ec;
    while (!whole_->is_done() && conn_->buffer.size() > 0 && !ec) {
      conn_->buffer.consume(whole_->put(conn_->buffer.data(), ec));
    }
    if (whole_->is_done()) {
      complete(std::move(whole_->get().body()));
      return;
    }
    conn_->stream.expires_after(req_.timeout);
    bhttp::async_read(conn_->stream, conn_->buffer, *whole_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->onIoError(ec, "reading the answer body", false);
                          return;
                        }
                        self->complete(std::move(self->whole_->get().body()));
                      });
  }

  void complete(std::string body) {
    bool keep = whole_ ? whole_->keep_alive() : head_->keep_alive();
    release(keep);
    result_.status = status_;
    headers_.remove("Content-Length");
    Response r{status_, std::move(headers_), std::move(body)};
    if (fetchDone_) {
      auto done = std::move(fetchDone_);
      done(std::move(r));
    } else {
      answered_ = true;
      exchange_->respond(std::move(r));
    }
    finish();
  }

  void startStreaming() {
    answered_ = true;
    result_.status = status_;
    clientStream_ = exchange_->startStream(status_, std::move(headers_));
    if (!clientStream_) {
      conn_.reset();
      result_.error = "client exchange already answered";
      finish();
      return;
    }
    piece_.resize(kPieceBytes);
    readPiece();
  }

  void readPiece() {
    auto& body = head_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    conn_->stream.expires_after(req_.timeout);
    bhttp::async_read_some(
        conn_->stream, conn_->buffer, *head_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onPiece(ec); });
  }

  void onPiece(beast::error_code ec) {
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      onIoError(ec, "reading the answer body", false);
      return;
    }
    std::size_t got = piece_.size() - head_->get().body().size;
    if (got > 0 && !clientStream_->write(std::string(piece_.data(), got))) {
      conn_.reset();  // the client left: the rest of this answer is of no use
      result_.error = "client went away";
      finish();
      return;
    }
    if (head_->is_done()) {
      release(head_->keep_alive());
      clientStream_->end();
      finish();
      return;
    }
    auto self = shared_from_this();
    auto ex = conn_->stream.get_executor();
    clientStream_->onWritable(kClientQueueMax,
                              [self, ex] { net::post(ex, [self] { self->readPiece(); }); });
  }

  void onIoError(beast::error_code ec, std::string_view what, bool nothingWritten) {
    bool timeout = ec == beast::error::timeout;
    // A pooled connection the upstream closed meanwhile: try once more on a fresh one when that
    // cannot run the request twice.
    bool retry = reused_ && !retried_ && !timeout && !result_.upstreamOk && !bodyStarted_ &&
                 (nothingWritten || isIdempotent(req_.method));
    if (retry) {
      retried_ = true;
      conn_.reset();
      acquire(false);
      return;
    }
    fail(timeout ? 504 : 502, std::string("upstream ") + key_ + ": " + std::string(what) + ": " +
                                  (timeout ? "timed out" : ec.message()));
  }

  void fail(int status, std::string why) {
    conn_.reset();
    result_.error = why;
    try {
      if (fetchDone_) {
        auto done = std::move(fetchDone_);
        done(Error::make(0, status == 504 ? "Timeout" : "BadGateway", why, true));
      } else if (!answered_ && exchange_) {
        answered_ = true;
        result_.status = status;
        exchange_->respond(gatewayError(status, why));
      } else if (clientStream_) {
        clientStream_->abort();
      }
    } catch (...) {
      log::error("upstream: failure callback threw");
    }
    finish();
  }

  void release(bool keepAlive) {
    auto c = std::move(conn_);
    if (keepAlive && c) {
      c->stream.expires_never();
      pool_.put(key_, std::move(c));
    }
  }

  void finish() {
    if (done_) {
      return;
    }
    done_ = true;
    exchange_.reset();
    clientStream_.reset();
    if (hooks_.onDone) {
      try {
        hooks_.onDone(result_);
      } catch (...) {
        log::error("upstream: onDone hook threw");
      }
    }
  }

  ConnPool& pool_;
  std::string key_;
  UpstreamTarget target_;
  UpstreamRequest req_;
  std::shared_ptr<Exchange> exchange_;
  ForwardHooks hooks_;
  FetchDone fetchDone_;
  std::shared_ptr<UpConn> conn_;
  std::optional<tcp::resolver> resolver_;
  bhttp::request<bhttp::string_body> out_;
  std::optional<bhttp::request_serializer<bhttp::string_body>> headSer_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> head_;
  std::optional<bhttp::response_parser<bhttp::string_body>> whole_;
  std::shared_ptr<ResponseStream> clientStream_;
  std::string piece_;
  Headers headers_;
  int status_ = 0;
  ForwardResult result_;
  Clock::time_point sentAt_;
  bool reused_ = false;
  bool retried_ = false;
  bool bodyStarted_ = false;
  bool bodyDone_ = false;
  bool pendingLast_ = false;
  bool answered_ = false;
  bool done_ = false;
};

class BeastUpstreamPool final : public UpstreamPool {
 public:
  explicit BeastUpstreamPool(UpstreamOptions opts) : pool_(opts) {
    for (int i = 0; i < std::max(1, opts.threads); ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            pool_.ioc().run();
            return;
          } catch (const std::exception& e) {
            log::error("upstream: io thread caught", {{"error", e.what()}});
          }
        }
      });
    }
  }
  ~BeastUpstreamPool() override { stop(); }

  void forward(const UpstreamTarget& target, UpstreamRequest request,
               std::shared_ptr<Exchange> exchange, ForwardHooks hooks) override {
    start(target, std::move(request), std::move(exchange), std::move(hooks), nullptr);
  }

  void fetch(const UpstreamTarget& target, UpstreamRequest request,
             std::function<void(Result<Response>)> done) override {
    start(target, std::move(request), nullptr, {}, std::move(done));
  }

  void stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    pool_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
    threads_.clear();
    pool_.clear();
  }

 private:
  void start(const UpstreamTarget& target, UpstreamRequest request,
             std::shared_ptr<Exchange> exchange, ForwardHooks hooks, ForwardOp::FetchDone done) {
    try {
      auto op = std::make_shared<ForwardOp>(pool_, target, std::move(request), std::move(exchange),
                                            std::move(hooks), std::move(done));
      if (stopped_) {
        return;  // the op's destructor answers 502 "stopped"
      }
      op->start();
    } catch (const std::exception& e) {
      log::error("upstream: forward failed to start", {{"error", e.what()}});
    }
  }

  ConnPool pool_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<UpstreamPool> makeBeastUpstreamPool(UpstreamOptions options) {
  return std::make_unique<BeastUpstreamPool>(std::move(options));
}

}  // namespace waha::http
