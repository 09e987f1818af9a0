#pragma once

// WebSocket vocabulary (RFC 6455) shared by the server side (an upgraded request, see
// Exchange::acceptWebSocket) and the client side (WsConnector). The Beast adapter stays behind it.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/http.h"

namespace waha::http {

struct WsMessage {
  std::string data;
  bool binary = false;  // false: a text frame (UTF-8)
};

// One open WebSocket connection. Thread-safe: send()/close() may be called from any thread.
// Drop every reference before the HttpServer or WsConnector that made it is destroyed: the
// socket lives on their I/O context.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Sets the callbacks and starts reading. Call exactly once; no message is delivered before.
  // Callbacks run on an I/O thread, one at a time, in order; they must not block for long.
  // onClose runs once (peer closed, transport error, close(), server stop), with the close code
  // (1006 when the connection dropped without a close frame).
  virtual void start(std::function<void(WsMessage)> onMessage,
                     std::function<void(int code, std::string reason)> onClose) = 0;
  // Queues a message; order is kept. False once the socket is closing or closed.
  virtual bool send(WsMessage message) = 0;
  // Starts the close handshake. Idempotent.
  virtual void close(int code = 1000, std::string reason = "") = 0;
  virtual bool open() const = 0;
};

bool isWebSocketUpgrade(const Request& req);

struct WsConnectOptions {
  std::string url;  // ws://host:port/path?query (wss:// may be unsupported: then an Error)
  Headers headers;  // sent with the handshake (X-Api-Key, ...)
  std::chrono::milliseconds timeout{10000};  // connect + handshake
};

// Opens client WebSockets (the hub's connections to workers; tests).
class WsConnector {
 public:
  virtual ~WsConnector() = default;
  // Asynchronous: `done` runs once on an I/O thread with a socket not yet started, or an Error
  // (code = the HTTP status of a refused handshake, 0 for transport failures and timeouts).
  virtual void connect(WsConnectOptions options,
                       std::function<void(Result<std::shared_ptr<WebSocket>>)> done) = 0;
  // Closes every socket it opened and joins its threads.
  virtual void stop() = 0;
};

std::unique_ptr<WsConnector> makeBeastWsConnector(int threads = 1);

}  // namespace waha::http
