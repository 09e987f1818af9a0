#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "http/http.h"
#include "http/io_runtime.h"

namespace waha::http {

class WebSocket;

// A request body still arriving from the client (see ServerOptions::streamBody).
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads the next piece, asynchronously: `fn` runs once on an I/O thread with a non-empty piece
  // (last=false), or an empty piece and last=true at the end of the body, or an Error (client gone,
  // body over ServerOptions::maxBodyBytes). Call again only after `fn` ran.
  using PieceFn = std::function<void(Result<std::string> piece, bool last)>;
  virtual void read(PieceFn fn) = 0;
  // Content-Length when the client sent one, 0 for a request without a body (chunked uploads:
  // nullopt).
  virtual std::optional<std::size_t> contentLength() const = 0;
};

// A chunked response body written piece by piece (watch streams). Thread-safe.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues a chunk. Returns false once the client has gone or end() was called.
  virtual bool write(std::string data) = 0;
  // Sends the last chunk; the connection then serves its next request (keep-alive).
  virtual void end() = 0;
  virtual bool open() const = 0;
  // Runs once, on a server thread, when the stream ends for any reason (client gone, end()).
  // Runs at once if that already happened.
  virtual void onClose(std::function<void()> fn) = 0;
  // Cuts the answer short: the client's connection is closed, so it sees a truncated body rather
  // than a complete one (a proxied upstream that broke mid-body).
  virtual void abort() { end(); }
  // Backpressure for producers faster than the client: `fn` runs once (on a server thread) when
  // no more than `maxQueuedBytes` wait to be sent, or when the stream closed (write() then says
  // so). Runs at once if that already holds.
  virtual void onWritable(std::size_t maxQueuedBytes, std::function<void()> fn) {
    (void)maxQueuedBytes;
    fn();
  }
};

// The answer channel of one request. Exactly one of respond()/startStream() must be called,
// from any thread, now or later: a handler may hand the exchange to another thread and return.
// If the last reference is dropped unanswered, the client gets a 500.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void respond(Response response) = 0;
  // Starts a body written piece by piece: chunked, unless `headers` carry a Content-Length, in
  // which case exactly that many bytes must be written before end().
  virtual std::shared_ptr<ResponseStream> startStream(int status, Headers headers) = 0;
  // For a WebSocket upgrade request (isWebSocketUpgrade(req)): completes the handshake (101,
  // with `headers` added) and hands over the connection; counts as the answer. nullptr when the
  // request is not an upgrade (nothing is sent then; respond() as usual).
  virtual std::shared_ptr<WebSocket> acceptWebSocket(Headers headers = {}) = 0;
};

// Called on a server I/O thread: it must not block for long (hand slow work to another thread).
using Handler = std::function<void(Request& req, std::shared_ptr<Exchange> exchange)>;

// Adapts a handler that answers at once.
Handler syncHandler(std::function<Response(const Request&)> fn);

struct TlsConfig {
  std::string certPem;  // serving certificate chain
  std::string keyPem;   // its private key
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;     // 0: the kernel picks one; see HttpServer::port()
  int threads = 2;  // the server's own I/O threads, when `runtime` is not set
  // I/O threads shared with others (an UpstreamPool): the server then runs on them. Stop and
  // destroy the server before the runtime.
  std::shared_ptr<IoRuntime> runtime;
  std::optional<TlsConfig> tls;
  std::size_t maxBodyBytes = 64 * 1024 * 1024;
  std::chrono::seconds idleTimeout{120};  // keep-alive connections idle longer are closed
  // Called once a request's head is read. True: the handler is called at once with the body
  // unread, available through Request::bodyReader (Request::body stays empty); the server
  // discards whatever the handler leaves unread. Unset or false: the body is read whole first.
  std::function<bool(const Request& head)> streamBody;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds and starts serving. Fails (not throws) when the address cannot be bound.
  virtual Status start(Handler handler) = 0;
  // The bound port (after start()).
  virtual int port() const = 0;
  // Stops accepting, closes connections (open streams see onClose), waits for them to go (2 s at
  // most) and joins its own threads.
  virtual void stop() = 0;
  // A graceful stop: stops accepting, closes the connections waiting for a request, lets the ones
  // busy with a request answer it (with Connection: close) for up to `grace`, then stop().
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
};

// Boost.Beast/Asio adapter: asynchronous, keep-alive, chunked streaming, optional TLS.
std::unique_ptr<HttpServer> makeBeastServer(ServerOptions options);

}  // namespace waha::http
