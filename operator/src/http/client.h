#pragma once

// The client half of the HTTP vocabulary: what kube/ (and later waha/) use to call servers.
// Adapters (cpprestsdk today) stay behind this interface; nothing above http/ sees them.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/http.h"

namespace waha::http {

// TLS settings for every https:// URL a client calls. All PEM data is in memory (kubeconfig
// "-data" fields are decoded before they get here).
struct ClientTls {
  std::string caPem;          // trusted roots; empty: the system's default roots
  std::string clientCertPem;  // client certificate chain (mutual TLS); empty: none
  std::string clientKeyPem;   // its private key
  bool insecureSkipVerify = false;
};

struct ClientOptions {
  ClientTls tls;
  // Default for requests that do not set their own. Applies to the whole exchange.
  std::chrono::milliseconds timeout{30000};
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute: https://host:port/path?query
  Headers headers;
  std::string body;
  // 0: ClientOptions::timeout. For stream(): the longest silence tolerated on the body.
  std::chrono::milliseconds timeout{0};
};

// A running streamed response (a watch).
class StreamHandle {
 public:
  virtual ~StreamHandle() = default;
  // Stops the stream. No callback runs after cancel() returns (unless called from a callback,
  // where the current callback finishes and none follows). Idempotent.
  virtual void cancel() = 0;
};

struct StreamCallbacks {
  // One newline-delimited line of the body (without the '\n'), in order; false stops reading.
  std::function<bool(std::string line)> onLine;
  // The stream ended: ok when the server closed it normally; otherwise an Error (code 0 for
  // transport failures; the HTTP status with the raw body as message for a non-2xx answer).
  // Not called after cancel().
  std::function<void(Status status)> onDone;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends one request and reads the whole answer. Any HTTP status is a successful Result;
  // an Error (code 0, retryable) means no answer arrived: connect/TLS failure or timeout.
  virtual Result<Response> send(const ClientRequest& request) = 0;
  // Starts a request whose body is read incrementally and split into lines, on the stream's own
  // thread. Returns at once.
  virtual std::unique_ptr<StreamHandle> stream(const ClientRequest& request,
                                               StreamCallbacks callbacks) = 0;
};

// cpprestsdk adapter: OpenSSL TLS, one cached connection pool per scheme://host:port.
// Fails when the TLS material cannot be loaded (bad PEM), so misconfiguration shows at start-up.
Result<std::shared_ptr<HttpClient>> makeCpprestClient(ClientOptions options);

}  // namespace waha::http
