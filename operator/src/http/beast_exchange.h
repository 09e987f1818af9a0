#pragma once

// Internal to http/: what the Beast server hands to user code for one request (Exchange, the
// streamed ResponseStream, the streamed request's BodyReader), all talking to their connection
// through ConnectionBase by posting onto its executor. Any of them may outlive the connection or be
// used from other threads.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "http/server.h"
#include "http/websocket.h"

namespace waha::http::detail {

namespace net = boost::asio;

// State shared between a connection and the Exchange/ResponseStream handed to user code, which
// may outlive the connection or be used from other threads. Everything here runs on the
// connection's loop except the atomics.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void sendResponse(Response r, unsigned version, bool keepAlive) = 0;
  virtual void startStream(int status, Headers h, unsigned version,
                           std::shared_ptr<class StreamImpl> stream) = 0;
  virtual void close() = 0;
  // Closes the connection if it is waiting for a request or is a WebSocket (HttpServer::shutdown);
  // one busy with a request closes after its answer instead.
  virtual void closeIfIdle() = 0;
  virtual void writeChunk(std::string data) = 0;
  virtual void endStream() = 0;
  virtual void abortStream() = 0;
  virtual void whenWritable(std::size_t maxQueued, std::function<void()> fn) = 0;
  virtual void readBody(std::uint64_t request, BodyReader::PieceFn fn) = 0;
  virtual net::io_context::executor_type executor() = 0;
  // The request being handled is a WebSocket upgrade (set before the handler runs).
  virtual bool upgradable() const = 0;
  // Hands the connection over to a WebSocket (the handshake completes on its loop).
  virtual std::shared_ptr<WebSocket> upgrade(Headers h) = 0;
};

// Request::bodyReader of a streamed request: reads through the connection, on its loop.
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
  // Called by the connection (on its loop) when the stream is over for any reason.
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
  // Runs at once when called on the connection's own thread (an upstream answer arriving on the
  // loop of its client's connection, or a handler answering before it returns: the connection
  // does nothing after its handler returns), else queued there.
  void respondNow(Response r) {
    auto c = conn_;
    net::dispatch(c->executor(), [c, r = std::move(r), v = version_, ka = keepAlive_]() mutable {
      c->sendResponse(std::move(r), v, ka);
    });
  }
  std::shared_ptr<ConnectionBase> conn_;
  unsigned version_;
  bool keepAlive_;
  std::atomic<bool> answered_{false};
};

inline std::shared_ptr<ResponseStream> ExchangeImpl::startStream(int status, Headers h) {
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

}  // namespace waha::http::detail
