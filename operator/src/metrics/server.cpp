#include "metrics/server.h"

namespace waha::metrics {

MetricsServer::MetricsServer(Metrics& metrics, http::ServerOptions options)
    : metrics_(metrics), server_(http::makeBeastServer(std::move(options))) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::addReadinessCheck(std::string name, std::function<bool()> check) {
  std::lock_guard lk(mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

http::Response MetricsServer::handle(const http::Request& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    return http::Response::text(405, "method not allowed\n");
  }
  if (req.path == "/metrics") {
    auto r = http::Response::text(200, metrics_.render());
    r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return r;
  }
  if (req.path == "/healthz" || req.path == "/livez") {
    return http::Response::text(200, "ok\n");
  }
  if (req.path == "/readyz") {
    std::vector<std::pair<std::string, std::function<bool()>>> checks;
    {
      std::lock_guard lk(mu_);
      checks = checks_;
    }
    std::string failing;
    for (const auto& [name, check] : checks) {
      if (!check()) {
        failing += "[-]" + name + " failed\n";
      }
    }
    if (!failing.empty()) {
      return http::Response::text(503, failing + "readyz check failed\n");
    }
    return http::Response::text(200, "ok\n");
  }
  return http::Response::text(404, "not found\n");
}

Status MetricsServer::start() {
  return server_->start(
      http::syncHandler([this](const http::Request& req) { return handle(req); }));
}

int MetricsServer::port() const { return server_->port(); }

void MetricsServer::stop() {
  if (server_) {
    server_->stop();
  }
}

}  // namespace waha::metrics
