#pragma once

// `waha-operator hub`: one WAHA-compatible endpoint for a whole WahaCluster. Each request is
// routed (hub/route_table.h) to the worker holding its session and streamed through an
// UpstreamPool; calls that change what should exist (create, update, start, stop, delete) go
// through the WahaSession resource instead, which stays the source of truth. No exception leaves
// a request: every failure is an HTTP answer (502/503/...) and a counted metric.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/thread_pool.h"
#include "http/server.h"
#include "http/upstream.h"
#include "http/websocket.h"
#include "hub/hub_cache.h"
#include "hub/hub_metrics.h"
#include "hub/route_table.h"
#include "kube/client.h"
#include "metrics/metrics.h"

namespace waha::hub {

struct HubOptions {
  std::string cluster;
  std::string ns;
  http::ServerOptions server;  // listen address, threads, maxBodyBytes
  std::chrono::seconds upstreamTimeout{60};
  // Create, start, stop and PUT wait this long for the worker to confirm (seen in the cache),
  // then answer 202.
  std::chrono::seconds createWait{20};
  std::chrono::seconds keyRefresh{30};
  int retryAfterSeconds = 2;  // Retry-After of 503s for sessions not placed or moving
  int workerPort = 3000;
  std::string hubId;       // reported by /api/server/status (the pod name)
  int controlThreads = 4;  // Kubernetes writes run here, off the I/O threads
  // stop() lets requests in progress finish for up to this long (a rolling update of the hub).
  std::chrono::milliseconds shutdownGrace{10000};
};

class HubServer {
 public:
  // `ws` may be null: /ws then answers 501.
  HubServer(kube::KubeClient& kube, http::UpstreamPool& upstream, http::WsConnector* ws,
            Clock& clock, Random& random, metrics::Metrics& metrics, HubOptions options);
  ~HubServer();
  HubServer(const HubServer&) = delete;
  HubServer& operator=(const HubServer&) = delete;

  // Starts the informers, the key reader and the HTTP server (fails if it cannot bind).
  Status start();
  void stop();
  // Ready to be in the Service's endpoints: caches synced, and not leaving.
  bool ready() const { return !leaving_ && cache_.ready(); }
  // The first step of a shutdown: /readyz fails from now on (so Kubernetes takes the pod out of
  // the Service's endpoints) while requests are still served as before.
  void leave() { leaving_ = true; }
  int port() const;

  // The request handler (also for tests with a fake exchange).
  void handle(http::Request& req, std::shared_ptr<http::Exchange> ex);

 private:
  void answer(const std::shared_ptr<http::Exchange>& ex, http::Response r,
              const std::string& label);
  void answerLocal(const http::Request& req, const std::shared_ptr<http::Exchange>& ex);
  bool authorized(const http::Request& req) const;
  void proxy(http::Request& req, std::shared_ptr<http::Exchange> ex, const RouteDecision& d);
  // Answers 404 / 503 when `l` is not a usable worker; false when it is.
  bool routeMiss(const Lookup& l, const std::string& session,
                 const std::shared_ptr<http::Exchange>& ex, const std::string& label);
  http::UpstreamRequest upstreamRequest(const http::Request& req, std::string target) const;

  // hub_sessions.cpp: the session API through the WahaSession resource.
  // Runs `fn` on a control thread; an exception becomes a 502 (never an escaped throw).
  void control(const std::shared_ptr<http::Exchange>& ex, const std::string& label,
               std::function<void()> fn);
  void listSessions(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void createSession(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void updateSession(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                     const RouteDecision& d);
  void setState(std::shared_ptr<http::Exchange> ex, const RouteDecision& d, bool running);
  void deleteSession(std::shared_ptr<http::Exchange> ex, const RouteDecision& d);
  // What a session write waits to see in the cache before it answers.
  struct Confirmation {
    std::string label;
    std::string session;  // the WAHA name
    int status = 201;     // the answer once confirmed: WAHA's 201 for POST, 200 for PUT
    nlohmann::json config;
    std::function<bool(const HubCache&, const std::string&, const SessionEntry&)> done;
    std::string pending;   // the 202's message: what is still on its way
    bool created = false;  // a new session: the cache may not hold it yet
  };
  void answerConfirmed(std::shared_ptr<http::Exchange> ex, const Confirmation& c);
  void finishConfirmed(const std::shared_ptr<http::Exchange>& ex, const Confirmation& c, bool seen,
                       bool confirmed);

  // hub_ws.cpp
  void webSocket(http::Request& req, std::shared_ptr<http::Exchange> ex, const RouteDecision& d);

  kube::KubeClient& kube_;
  http::UpstreamPool& upstream_;
  http::WsConnector* ws_;
  Clock& clock_;
  Random& random_;
  HubOptions options_;
  HubMetrics metrics_;
  HubCache cache_;
  ThreadPool control_;
  std::unique_ptr<http::HttpServer> server_;
  std::chrono::system_clock::time_point started_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> leaving_{false};
};

}  // namespace waha::hub
