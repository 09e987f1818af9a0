#pragma once

// An in-process simulator on a loopback port 0, with a temp store, for fast route tests.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "http/server.h"
#include "sim/waha/simulator.h"
#include "support/paths.h"
#include "support/test_http.h"
#include "support/wait.h"

namespace waha::sim::testing {

inline SimConfig fastConfig(const std::string& dir, const std::string& worker = "w1") {
  SimConfig cfg;
  cfg.port = 0;
  cfg.workerId = worker;
  cfg.localStoreDir = dir + "/store-" + worker;
  cfg.qrDelayMs = 20;
  cfg.slowOpMs = 10;
  cfg.conflictPollMs = 20;
  return cfg;
}

class SimHarness {
 public:
  explicit SimHarness(SimConfig cfg) : sim_(std::make_unique<Simulator>(std::move(cfg))) {
    auto st = sim_->start();
    if (!st) {
      throw std::runtime_error(st.error().message);
    }
    server_ = http::makeBeastServer(http::ServerOptions{});
    auto ok = server_->start([this](http::Request& req, std::shared_ptr<http::Exchange> ex) {
      sim_->handle(req, std::move(ex));
    });
    if (!ok) {
      throw std::runtime_error(ok.error().message);
    }
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  ~SimHarness() { stop(); }

  void stop() {
    if (server_) {
      sim_->shutdown();
      server_->stop();
      server_.reset();
    }
  }

  Simulator& sim() { return *sim_; }
  const std::string& base() const { return base_; }

  test::HttpResult call(const std::string& method, const std::string& path,
                        const std::string& body = "",
                        std::map<std::string, std::string> headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!key_.empty() && headers.count("X-Api-Key") == 0) {
      headers["X-Api-Key"] = key_;
    }
    if (!body.empty()) {
      headers["Content-Type"] = "application/json";
    }
    return test::httpRequest(method, base_ + path, body, headers, timeout);
  }
  test::HttpResult get(const std::string& path) { return call("GET", path); }
  test::HttpResult post(const std::string& path,
                        const nlohmann::json& body = nlohmann::json::object()) {
    return call("POST", path, body.dump());
  }
  void useKey(std::string key) { key_ = std::move(key); }

  // Waits until GET /api/sessions/{name} reports `status`.
  bool waitStatus(const std::string& name, const std::string& status,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return test::waitFor([&] { return sim_->statusOf(name) == status; }, timeout);
  }

 private:
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<http::HttpServer> server_;
  std::string base_;
  std::string key_;
};

inline nlohmann::json js(const test::HttpResult& r) {
  return r.body.empty() ? nlohmann::json() : nlohmann::json::parse(r.body, nullptr, false);
}

}  // namespace waha::sim::testing
