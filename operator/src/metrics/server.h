#pragma once

// The operator's probe and scrape endpoint: /metrics (Prometheus text), /healthz (200 once
// started) and /readyz (200 only while every readiness check passes, e.g. "caches synced").

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/server.h"
#include "metrics/metrics.h"

namespace waha::metrics {

class MetricsServer {
 public:
  MetricsServer(Metrics& metrics, http::ServerOptions options);
  ~MetricsServer();

  void addReadinessCheck(std::string name, std::function<bool()> check);
  Status start();
  int port() const;
  void stop();

  // The handler itself (for tests without sockets).
  http::Response handle(const http::Request& req);

 private:
  Metrics& metrics_;
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::function<bool()>>> checks_;
};

}  // namespace waha::metrics
