#pragma once

// The hub's data path: forwards one request to an upstream (a worker) over pooled keep-alive
// connections and pipes the answer back into the caller's Exchange, streaming bodies both ways.
// Behind this interface sits a Boost.Beast/Asio client; nothing above http/ sees it.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "http/http.h"
#include "http/server.h"

namespace waha::http {

struct UpstreamTarget {
  std::string host;  // IP or name
  int port = 0;
  bool operator==(const UpstreamTarget&) const = default;
};

struct UpstreamRequest {
  std::string method = "GET";
  std::string target;  // path plus "?query", as sent upstream
  Headers headers;     // sent as given (the caller sets Host, X-Forwarded-For, the worker key)
  std::string body;    // used when bodyReader is null
  // A request body still being read from the client (Request::bodyReader): piped upstream piece
  // by piece, never held whole.
  std::shared_ptr<BodyReader> bodyReader;
  // Until the response head arrives; then the longest silence tolerated between body pieces.
  std::chrono::milliseconds timeout{30000};
};

// What became of one forward, for logs and metrics. Runs once, after the answer to the client was
// completed (or failed).
struct ForwardResult {
  int status = 0;           // status sent to the client (upstream's, or 502/504 made here)
  bool upstreamOk = false;  // an answer head came from the upstream
  std::chrono::duration<double> upstreamSeconds{0};  // request sent -> response head received
  std::string error;  // why it failed, when it did (no secrets, no URLs with credentials)
};

struct ForwardHooks {
  // May edit the upstream's answer head before it goes to the client (drop/add headers).
  std::function<void(int& status, Headers& headers)> onHead;
  std::function<void(const ForwardResult&)> onDone;
};

struct UpstreamOptions {
  int threads = 2;  // the pool's own I/O threads, when `runtime` is not set
  // I/O threads shared with the HttpServer whose requests are forwarded: a forward started on one
  // of its threads then runs there, over that thread's own idle connections. Stop and destroy the
  // pool before the runtime.
  std::shared_ptr<IoRuntime> runtime;
  std::size_t maxIdlePerTarget = 64;  // idle keep-alive connections kept per target (and loop)
  std::chrono::seconds idleTimeout{60};
  std::chrono::milliseconds connectTimeout{3000};
  // An idle connection reused sooner than this is not checked for a close by the upstream first
  // (one system call per request saved under load; keep-alive timeouts are seconds long, and a
  // request meeting a dead connection is retried on a fresh one when that is safe).
  std::chrono::milliseconds trustedIdle{250};
};

class UpstreamPool {
 public:
  virtual ~UpstreamPool() = default;
  // Sends `request` to `target` and answers `exchange` with the upstream's answer, streamed
  // (a body with Content-Length keeps it; others go chunked). A connect failure, timeout or
  // broken upstream answers a WAHA-style JSON 502 (504 on timeout) if nothing was sent yet,
  // else cuts the client's connection. Never throws; returns at once.
  virtual void forward(const UpstreamTarget& target, UpstreamRequest request,
                       std::shared_ptr<Exchange> exchange, ForwardHooks hooks = {}) = 0;
  // Sends `request` and reads the whole answer (small control calls: list merge, probes).
  // Error code 0: no answer (connect failure, timeout).
  virtual void fetch(const UpstreamTarget& target, UpstreamRequest request,
                     std::function<void(Result<Response>)> done) = 0;
  // Cuts every forward in flight (their clients get a 502 or a cut answer), closes the idle
  // connections, waits for the forwards to finish (2 s at most) and joins its own threads.
  virtual void stop() = 0;
};

std::unique_ptr<UpstreamPool> makeBeastUpstreamPool(UpstreamOptions options = {});

}  // namespace waha::http
