#pragma once

// Internal to http/ (beast_server.cpp): reads one request's body off its connection piece by piece
// for ServerOptions::streamBody, and discards what the handler left unread so the connection can
// serve its next request. Runs on the connection's loop only.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace waha::http {

template <class Stream>
class StreamedBody {
 public:
  using Parser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
  using PieceFn = std::function<void(Result<std::string> piece, bool last)>;
  static constexpr std::size_t kPieceBytes = 64 * 1024;

  // `parser` has read the head; `owner` keeps the connection alive while a read is pending.
  StreamedBody(Stream& stream, boost::beast::flat_buffer& buffer, Parser& parser,
               std::chrono::seconds timeout, bool expectContinue)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        timeout_(timeout),
        expectContinue_(expectContinue),
        active_(!parser.is_done()) {
    // Beast reads at most the buffer's free capacity per call: make room for a whole piece.
    buffer_.reserve(kPieceBytes);
  }

  bool active() const { return active_; }  // body not read to its end yet
  bool reading() const { return reading_; }
  bool broken() const { return broken_; }  // the connection cannot be reused
  // The client still waits for "100 Continue": its body may never come, so it cannot be skipped.
  bool awaitingContinue() const { return expectContinue_ && !continueSent_; }
  void detach() { detached_ = true; }

  // One piece for the handler. `after` runs on the loop once `fn` returned.
  void read(std::shared_ptr<void> owner, PieceFn fn, std::function<void()> after) {
    if (detached_ && active_) {
      fn(Error::make(400, "BodyUnavailable", "request already answered"), false);
      return after();
    }
    next(std::move(owner), std::move(fn), std::move(after));
  }

  // Reads and drops the rest of the body; `done(true)` when the connection may go on.
  void discard(std::shared_ptr<void> owner, std::function<void(bool ok)> done) {
    if (!active_ || broken_) {
      return done(!broken_);
    }
    next(
        owner, [](Result<std::string>, bool) {},
        [this, owner, done = std::move(done)]() mutable { discard(owner, std::move(done)); });
  }

 private:
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

  void next(std::shared_ptr<void> owner, PieceFn fn, std::function<void()> after) {
    if (broken_) {
      fn(Error::make(400, "BodyUnavailable", "request body broken"), false);
      return after();
    }
    if (!active_) {
      fn(std::string(), true);
      return after();
    }
    if (awaitingContinue()) {
      continueSent_ = true;
      reading_ = true;
      boost::asio::async_write(stream_, boost::asio::buffer(kContinue, sizeof(kContinue) - 1),
                               [this, owner, fn = std::move(fn), after = std::move(after)](
                                   boost::beast::error_code ec, std::size_t) mutable {
                                 reading_ = false;
                                 if (ec) {
                                   return fail(ec, fn, after);
                                 }
                                 next(std::move(owner), std::move(fn), std::move(after));
                               });
      return;
    }
    readSome(std::move(owner), std::move(fn), std::move(after));
  }

  void readSome(std::shared_ptr<void> owner, PieceFn fn, std::function<void()> after) {
    auto piece = std::make_shared<std::string>(kPieceBytes, '\0');
    parser_.get().body().data = piece->data();
    parser_.get().body().size = piece->size();
    boost::beast::get_lowest_layer(stream_).expires_after(timeout_);
    reading_ = true;
    boost::beast::http::async_read_some(
        stream_, buffer_, parser_,
        [this, owner, piece, fn = std::move(fn), after = std::move(after)](
            boost::beast::error_code ec, std::size_t) mutable {
          reading_ = false;
          if (ec == boost::beast::http::error::need_buffer) {
            ec = {};
          }
          if (ec) {
            return fail(ec, fn, after);
          }
          piece->resize(kPieceBytes - parser_.get().body().size);
          active_ = !parser_.is_done();
          if (piece->empty() && active_) {
            return readSome(std::move(owner), std::move(fn), std::move(after));  // a chunk header
          }
          bool last = piece->empty();
          fn(std::move(*piece), last);
          after();
        });
  }

  void fail(boost::beast::error_code ec, PieceFn& fn, std::function<void()>& after) {
    broken_ = true;
    active_ = false;
    if (ec == boost::beast::http::error::body_limit) {
      fn(Error::make(413, "PayloadTooLarge", "request body too large"), false);
    } else {
      fn(Error::make(400, "BodyUnavailable", "reading the request body: " + ec.message()), false);
    }
    after();
  }

  Stream& stream_;
  boost::beast::flat_buffer& buffer_;
  Parser& parser_;
  std::chrono::seconds timeout_;
  bool expectContinue_;
  bool continueSent_ = false;
  bool active_;
  bool reading_ = false;
  bool broken_ = false;
  bool detached_ = false;
};

}  // namespace waha::http
