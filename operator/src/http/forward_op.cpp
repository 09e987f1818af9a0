// ForwardOp, request side: a connection (pooled or new), the request head and body, and what
// happens when anything fails. Exceptions stop here.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include "http/forward_op.h"

#include <array>

#include "common/log.h"
#include "http/wire.h"

namespace waha::http {
namespace {

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

}  // namespace

ForwardOp::~ForwardOp() {
  if (!done_) {
    fail(502, "upstream pool stopped");
  }
  pool_->opFinished();
}

void ForwardOp::start() {
  try {
    buildRequest();
  } catch (const std::exception& e) {
    fail(502, std::string("cannot build the upstream request: ") + e.what());
    return;
  }
  acquire(true);
}

void ForwardOp::buildRequest() {
  if (req_.bodyReader && req_.bodyReader->contentLength() == std::optional<std::size_t>(0)) {
    req_.bodyReader.reset();  // nothing to pipe: sent like any bodiless request
  }
  std::optional<std::size_t> length = req_.body.size();
  if (req_.bodyReader) {
    length = req_.bodyReader->contentLength();
    chunked_ = !length;
    req_.body.clear();
  }
  reqHead_ = wire::requestHead(req_.method, req_.target, req_.headers, key_, length, chunked_);
}

// A pooled connection when one is idle (and `pooled` allows), else a new one.
// Called on a runtime loop's thread (the server's, when shared) the forward stays there: its
// connection is that loop's, and dispatch() runs the next step at once instead of queueing it.
void ForwardOp::acquire(bool pooled) {
  int loop = conn_ ? conn_->loop : pool_->pickLoop();
  conn_ = pooled ? pool_->take(loop, key_) : nullptr;
  reused_ = conn_ != nullptr;
  auto self = shared_from_this();
  if (reused_) {
    net::dispatch(conn_->stream.get_executor(), [self] { self->writeRequest(); });
    return;
  }
  conn_ = pool_->open(loop);
  net::dispatch(conn_->stream.get_executor(), [self] { self->connect(); });
}

void ForwardOp::connect() {
  beast::error_code ec;
  auto addr = net::ip::make_address(target_.host, ec);
  conn_->stream.expires_after(pool_->options().connectTimeout);
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

void ForwardOp::onConnect(beast::error_code ec) {
  if (ec) {
    bool timeout = ec == beast::error::timeout;
    fail(timeout ? 504 : 502, "cannot connect to upstream " + key_ + ": " + ec.message());
    return;
  }
  beast::error_code ignored;
  conn_->stream.socket().set_option(tcp::no_delay(true), ignored);
  writeRequest();
}

void ForwardOp::writeRequest() {
  sentAt_ = Clock::now();
  conn_->stream.expires_after(req_.timeout);
  auto self = shared_from_this();
  // Head and (whole) body in one write; a streamed body follows piece by piece.
  std::array<net::const_buffer, 2> bufs{net::buffer(reqHead_), net::buffer(req_.body)};
  net::async_write(conn_->stream, bufs, [self](beast::error_code ec, std::size_t n) {
    if (ec) {
      self->onIoError(ec, "writing the request", n == 0);
      return;
    }
    if (self->req_.bodyReader) {
      self->readBodyPiece();
    } else {
      self->readHead();
    }
  });
}

// Pipes the client's body upstream one piece at a time: the next piece is asked for only once
// the previous one was written, so memory stays bounded by one piece.
void ForwardOp::readBodyPiece() {
  bodyStarted_ = true;
  auto self = shared_from_this();
  auto ex = conn_->stream.get_executor();
  req_.bodyReader->read([self, ex](Result<std::string> piece, bool last) {
    net::post(ex, [self, piece = std::move(piece), last]() mutable {
      self->onBodyPiece(std::move(piece), last);
    });
  });
}

void ForwardOp::onBodyPiece(Result<std::string> piece, bool last) {
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
    if (self->bodyDone_ || self->pendingLast_) {
      self->readHead();  // which sends the terminator first when one is pending
    } else {
      self->readBodyPiece();
    }
  };
  piece_ = std::move(piece.value());
  bodyDone_ = last;
  conn_->stream.expires_after(req_.timeout);
  if (!chunked_) {
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

void ForwardOp::onIoError(beast::error_code ec, std::string_view what, bool nothingWritten) {
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

void ForwardOp::fail(int status, std::string why) {
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

void ForwardOp::release(bool keepAlive) {
  auto c = std::move(conn_);
  if (keepAlive && c) {
    c->stream.expires_never();
    pool_->put(key_, std::move(c));
  }
}

void ForwardOp::finish() {
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

}  // namespace waha::http
