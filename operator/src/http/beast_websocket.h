#pragma once

// Internal to http/: the Boost.Beast WebSocket behind http::WebSocket, shared by the server (an
// upgraded connection, beast_server.cpp) and the client (beast_ws_client.cpp). A template over the
// transport so the server can hand over plain TCP and TLS streams alike.
//
// Everything but the atomics runs on the stream's strand (the executor given at construction).

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/log.h"
#include "common/result.h"
#include "http/websocket.h"

namespace waha::http::detail {

namespace wsnet = boost::asio;
namespace wsbeast = boost::beast;
namespace bws = boost::beast::websocket;

constexpr int kCloseAbnormal = 1006;  // RFC 6455: dropped without a close frame
constexpr int kCloseNoStatus = 1005;  // a close frame without a code

template <class Stream>
class BeastWebSocket final : public WebSocket,
                             public std::enable_shared_from_this<BeastWebSocket<Stream>> {
 public:
  using WsStream = bws::stream<Stream>;
  using Done = std::function<void(Result<std::shared_ptr<WebSocket>>)>;

  explicit BeastWebSocket(wsnet::any_io_executor strand) : strand_(std::move(strand)) {}

  // Server side (on the strand): takes over an HTTP connection's stream and answers its upgrade
  // request with a 101 carrying `headers`. `keepAlive` (the connection) lives until onClose.
  void accept(Stream s, wsbeast::http::request<wsbeast::http::string_body> req, Headers headers,
              std::shared_ptr<void> keepAlive) {
    keep_ = std::move(keepAlive);
    ws_.emplace(std::move(s));
    wsbeast::get_lowest_layer(*ws_).expires_never();
    ws_->set_option(bws::stream_base::timeout::suggested(wsbeast::role_type::server));
    ws_->set_option(bws::stream_base::decorator([headers](bws::response_type& res) {
      for (const auto& [k, v] : headers.all()) {
        res.insert(k, v);
      }
    }));
    auto req_ptr = std::make_shared<decltype(req)>(std::move(req));
    ws_->async_accept(*req_ptr, [self = this->shared_from_this(), req_ptr](wsbeast::error_code ec) {
      if (ec) {
        self->finish(kCloseAbnormal, "handshake failed: " + ec.message());
        return;
      }
      self->ready();
    });
  }

  // Client side (on the strand): runs the handshake on a connected stream; `done` gets this
  // socket, or an Error whose code is the HTTP status of a refused upgrade (0: transport).
  void handshake(Stream s, std::string host, std::string target, Headers headers,
                 std::chrono::milliseconds timeout, Done done) {
    ws_.emplace(std::move(s));
    wsbeast::get_lowest_layer(*ws_).expires_never();
    auto opt = bws::stream_base::timeout::suggested(wsbeast::role_type::client);
    opt.handshake_timeout = timeout;
    ws_->set_option(opt);
    ws_->set_option(bws::stream_base::decorator([headers](bws::request_type& req) {
      for (const auto& [k, v] : headers.all()) {
        req.set(k, v);
      }
    }));
    auto res = std::make_shared<bws::response_type>();
    ws_->async_handshake(
        *res, host, target,
        [self = this->shared_from_this(), res, done = std::move(done)](wsbeast::error_code ec) {
          if (ec) {
            int code = ec == bws::error::upgrade_declined ? res->result_int() : 0;
            self->finish(kCloseAbnormal, "handshake failed");
            done(Error::make(code, code != 0 ? "HandshakeRefused" : "HandshakeFailed",
                             "websocket handshake failed: " + ec.message() +
                                 (code != 0 ? " (HTTP " + std::to_string(code) + ")" : "")));
            return;
          }
          self->ready();
          done(std::shared_ptr<WebSocket>(self));
        });
  }

  void start(std::function<void(WsMessage)> onMessage,
             std::function<void(int, std::string)> onClose) override {
    wsnet::post(strand_, [self = this->shared_from_this(), m = std::move(onMessage),
                          c = std::move(onClose)]() mutable {
      self->onMessage_ = std::move(m);
      self->onClose_ = std::move(c);
      self->started_ = true;
      if (self->finished_) {
        self->deliverClose();
      } else if (self->ready_) {
        self->read();
      }
    });
  }

  bool send(WsMessage message) override {
    if (!open_) {
      return false;
    }
    wsnet::post(strand_, [self = this->shared_from_this(), m = std::move(message)]() mutable {
      if (self->finished_ || self->closeWanted_) {
        return;
      }
      self->queue_.push_back(std::move(m));
      self->pump();
    });
    return true;
  }

  void close(int code, std::string reason) override {
    if (closeCalled_.exchange(true)) {
      return;
    }
    open_ = false;
    wsnet::post(strand_, [self = this->shared_from_this(), code, r = std::move(reason)]() mutable {
      if (self->finished_) {
        return;
      }
      self->closeWanted_ = true;
      self->closeCode_ = code;
      self->closeReason_ = std::move(r);
      self->pump();
    });
  }

  bool open() const override { return open_; }

  // On the strand: the socket will never open (its connection went away first).
  void fail(std::string why) { finish(kCloseAbnormal, std::move(why)); }

 private:
  void ready() {
    ready_ = true;
    if (started_) {
      read();
    }
    pump();
  }

  void read() {
    reading_ = true;
    ws_->async_read(
        buffer_, [self = this->shared_from_this()](wsbeast::error_code ec, std::size_t) {
          if (ec) {
            self->reading_ = false;
            self->onReadError(ec);
            return;
          }
          WsMessage m{wsbeast::buffers_to_string(self->buffer_.data()), self->ws_->got_binary()};
          self->buffer_.consume(self->buffer_.size());
          if (self->onMessage_) {
            try {
              self->onMessage_(std::move(m));
            } catch (...) {
              log::error("websocket: message callback threw");
            }
          }
          if (!self->finished_) {
            self->read();
          }
        });
  }

  void onReadError(wsbeast::error_code ec) {
    if (finished_) {
      return;
    }
    if (closeSent_ && ec == wsnet::error::operation_aborted) {
      // Our close handshake aborted the read; the close's own completion reports the outcome.
      if (closeDone_) {
        finishAfterClose();
      }
      return;
    }
    if (ec != bws::error::closed) {
      finish(kCloseAbnormal, ec.message());
      return;
    }
    int code = static_cast<int>(ws_->reason().code);
    if (code == 0) {
      code = closeSent_ ? closeCode_ : kCloseNoStatus;
    }
    finish(code, std::string(ws_->reason().reason.c_str()));
  }

  // One write at a time, in order; the close frame goes after everything queued before it.
  void pump() {
    if (!ready_ || writing_ || finished_) {
      return;
    }
    if (!queue_.empty()) {
      writing_ = true;
      // Owned by the handler: finish() may clear the queue while the write is in flight.
      auto msg = std::make_shared<WsMessage>(std::move(queue_.front()));
      queue_.pop_front();
      ws_->text(!msg->binary);
      ws_->async_write(wsnet::buffer(msg->data),
                       [self = this->shared_from_this(), msg](wsbeast::error_code ec, std::size_t) {
                         self->writing_ = false;
                         if (self->finished_) {
                           return;
                         }
                         if (ec) {
                           // The pending read reports the drop (with the peer's code if any).
                           self->open_ = false;
                           self->queue_.clear();
                           if (!self->reading_) {
                             self->finish(kCloseAbnormal, ec.message());
                           }
                           return;
                         }
                         self->pump();
                       });
      return;
    }
    if (closeWanted_ && !closeSent_) {
      closeSent_ = true;
      writing_ = true;
      bws::close_reason reason;
      reason.code = static_cast<std::uint16_t>(closeCode_);
      reason.reason = closeReason_.substr(0, 123);  // a close frame's limit
      ws_->async_close(reason, [self = this->shared_from_this()](wsbeast::error_code ec) {
        self->writing_ = false;
        self->closeDone_ = true;
        self->closeFailed_ = static_cast<bool>(ec);
        // A pending read completes after this (aborted) and finishes then.
        if (!self->reading_) {
          self->finishAfterClose();
        }
      });
    }
  }

  // The peer answered our close frame (its code, else ours), or the connection dropped.
  void finishAfterClose() {
    if (finished_) {
      return;
    }
    if (closeFailed_) {
      finish(kCloseAbnormal, "close handshake failed");
      return;
    }
    int code = static_cast<int>(ws_->reason().code);
    finish(code != 0 ? code : closeCode_, std::string(ws_->reason().reason.c_str()));
  }

  void finish(int code, std::string reason) {
    if (finished_) {
      return;
    }
    finished_ = true;
    open_ = false;
    queue_.clear();
    finishCode_ = code;
    finishReason_ = std::move(reason);
    keep_.reset();
    // Drop the stream soon (not inside Beast's own handler): this closes the socket and cancels
    // Beast's idle/ping timer, which would otherwise keep the io_context busy.
    wsnet::post(strand_, [self = this->shared_from_this()] { self->ws_.reset(); });
    if (started_) {
      deliverClose();
    }
  }

  void deliverClose() {
    auto fn = std::move(onClose_);
    onClose_ = nullptr;
    onMessage_ = nullptr;  // user callbacks often hold this socket: break the cycle
    if (fn) {
      try {
        fn(finishCode_, finishReason_);
      } catch (...) {
        log::error("websocket: close callback threw");
      }
    }
  }

  wsnet::any_io_executor strand_;
  std::optional<WsStream> ws_;
  std::shared_ptr<void> keep_;
  wsbeast::flat_buffer buffer_;
  std::deque<WsMessage> queue_;
  std::function<void(WsMessage)> onMessage_;
  std::function<void(int, std::string)> onClose_;
  std::atomic<bool> open_{true};
  std::atomic<bool> closeCalled_{false};
  bool started_ = false;
  bool ready_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closeWanted_ = false;
  bool closeSent_ = false;
  bool closeDone_ = false;
  bool closeFailed_ = false;
  bool finished_ = false;
  int closeCode_ = 1000;
  std::string closeReason_;
  int finishCode_ = kCloseAbnormal;
  std::string finishReason_;
};

}  // namespace waha::http::detail
