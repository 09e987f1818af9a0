#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/random.h"
#include "http/client.h"
#include "kube/client.h"
#include "kube/config.h"

namespace waha::kube {

struct RestOptions {
  std::string server;  // https://host:port
  std::function<std::string()>
      token;             // bearer token for each request (a TokenSource); may be empty
  std::string username;  // basic auth, used only without a token
  std::string password;
  std::string userAgent = "waha-operator";
  std::chrono::milliseconds requestTimeout{30000};
  // Longest silence tolerated on a watch body before the transport gives up; 0: the watch's
  // timeoutSeconds plus a minute, or 10 minutes without one.
  std::chrono::milliseconds watchIdleTimeout{0};

  // Retries of 429, 5xx and transport failures: at most maxAttempts tries in all, waiting
  // Retry-After when the server sent one (capped), else jittered exponential backoff.
  int maxAttempts = 5;
  Duration backoffBase = std::chrono::milliseconds(250);
  Duration backoffMax = std::chrono::seconds(10);
  Duration maxRetryAfter = std::chrono::seconds(30);

  // Optional client-side token bucket; 0 = off (the default, as controller-runtime since
  // API Priority and Fairness throttles on the server).
  double qps = 0;
  int burst = 10;

  // Called after every attempt (code 0 = no answer), so metrics/ can count
  // rest_client_requests_total without kube/ depending on it.
  std::function<void(const std::string& method, int code, const std::string& host)> onRequest;
  // How retries wait; defaults to waiting on the injected Clock. Tests record instead.
  std::function<void(Duration)> sleep;
};

// Maps an API answer to an Error: fields from a metav1.Status body when there is one, else from
// the HTTP status. retryable: 429, 5xx (except 501) and code 0.
Error errorFromResponse(int status, const std::string& body);

// KubeClient over HTTP. Thread-safe: one instance serves every reconciler and watch.
//
// Retry policy (kept simple on purpose): reads, PUT (guarded by resourceVersion), DELETE and
// merge/strategic/apply patches are retried on 429, 5xx and transport errors. POST (create) and
// JSON patch are not idempotent, so they are retried only on 429, which the server sends before
// doing anything (API Priority and Fairness / max-in-flight rejections).
class RestKubeClient final : public KubeClient {
 public:
  RestKubeClient(std::shared_ptr<http::HttpClient> http, RestOptions options, Clock& clock,
                 Random& random);

  // Builds the cpprestsdk client, TLS and token source from a loaded Config. `base` supplies
  // everything but server and credentials.
  static Result<std::shared_ptr<RestKubeClient>> fromConfig(const Config& config, Clock& clock,
                                                            Random& random, RestOptions base = {});

  Result<Json> get(const ResourceRef& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "") override;
  Result<ListResult> list(const ResourceRef& r, const std::string& ns,
                          const ListOptions& opts = {}) override;
  Result<Json> create(const ResourceRef& r, const std::string& ns, const Json& obj) override;
  Result<Json> update(const ResourceRef& r, const std::string& ns, const Json& obj,
                      const std::string& subresource = "") override;
  Result<Json> patch(const ResourceRef& r, const std::string& ns, const std::string& name,
                     PatchType type, const std::string& body, const PatchOptions& opts = {},
                     const std::string& subresource = "") override;
  Status remove(const ResourceRef& r, const std::string& ns, const std::string& name,
                const DeleteOptions& opts = {}) override;
  std::unique_ptr<WatchHandle> watch(const ResourceRef& r, const std::string& ns,
                                     const WatchOptions& opts, WatchCallback onEvent,
                                     WatchDone onDone) override;

  const std::string& host() const { return host_; }

 private:
  Result<http::Response> call(const std::string& method, const std::string& target,
                              const std::string& body, const std::string& contentType,
                              bool idempotent);
  Result<Json> callJson(const std::string& method, const std::string& target,
                        const std::string& body, const std::string& contentType, bool idempotent);
  http::Headers baseHeaders() const;
  void throttle();
  void wait(Duration d);

  std::shared_ptr<http::HttpClient> http_;
  RestOptions opts_;
  Clock& clock_;
  Random& random_;
  std::string host_;
  std::mutex bucketMu_;
  double tokens_ = 0;
  TimePoint refilled_{};
  std::shared_ptr<TokenSource> tokenSource_;  // owned when built by fromConfig
};

// client-go's retry.RetryOnConflict: runs `fn` (which must re-read the object and re-apply its
// change) again while it fails with 409 Conflict, at most `attempts` times in all.
template <typename F>
auto retryOnConflict(F&& fn, int attempts = 5) -> decltype(fn()) {
  for (int i = 1;; ++i) {
    auto r = fn();
    if (r.ok() || r.error().code != 409 || i >= attempts) {
      return r;
    }
  }
}

}  // namespace waha::kube
