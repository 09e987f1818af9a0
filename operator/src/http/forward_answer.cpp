// ForwardOp, answer side: the upstream's head, then its body read whole (small answers) or
// streamed to the client piece by piece as fast as the client takes it.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <limits>

#include "common/log.h"
#include "http/forward_op.h"
#include "http/wire.h"

namespace waha::http {

void ForwardOp::readHead() {
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

void ForwardOp::onHead(beast::error_code ec) {
  if (ec) {
    onIoError(ec, "reading the answer", false);
    return;
  }
  auto& msg = head_->get();
  status_ = static_cast<int>(msg.result_int());
  if (status_ == 101) {
    fail(502, "upstream " + key_ + " switched protocols on a plain request");
    return;
  }
  if (status_ >= 100 && status_ < 200) {
    readHead();  // 1xx interim answers are not forwarded
    return;
  }
  result_.upstreamOk = true;
  result_.upstreamSeconds = Clock::now() - sentAt_;
  for (const auto& f : msg) {
    std::string_view name(f.name_string().data(), f.name_string().size());
    if (!wire::isHopByHop(name)) {
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
void ForwardOp::readWhole() {
  whole_.emplace(std::move(*head_));
  // Small answers usually arrived with their head: parse them from the buffer at once, saving
  // a round through the reactor.
  beast::error_code ec;
  while (!whole_->is_done() && conn_->buffer.size() > 0 && !ec) {
    conn_->buffer.consume(whole_->put(conn_->buffer.data(), ec));
  }
  if (ec && ec != bhttp::error::need_more) {
    onIoError(ec, "reading the answer body", false);
    return;
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

void ForwardOp::complete(std::string body) {
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

void ForwardOp::startStreaming() {
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

void ForwardOp::readPiece() {
  auto& body = head_->get().body();
  body.data = piece_.data();
  body.size = piece_.size();
  conn_->stream.expires_after(req_.timeout);
  bhttp::async_read_some(
      conn_->stream, conn_->buffer, *head_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onPiece(ec); });
}

void ForwardOp::onPiece(beast::error_code ec) {
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

}  // namespace waha::http
