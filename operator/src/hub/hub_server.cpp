#include "hub/hub_server.h"

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "hub/answers.h"

namespace waha::hub {
namespace {

using Json = nlohmann::json;

// Hop-by-hop fields and the ones the hub sets itself; the upstream pool frames the body.
bool droppedHeader(const std::string& name) {
  static const char* const kDropped[] = {"Connection",          "Keep-Alive", "Proxy-Connection",
                                         "Proxy-Authorization", "TE",         "Trailer",
                                         "Transfer-Encoding",   "Upgrade",    "Host",
                                         "Content-Length",      "X-Api-Key"};
  for (const char* d : kDropped) {
    if (http::iequals(name, d)) {
      return true;
    }
  }
  return false;
}

// A GET without Content-Length or Transfer-Encoding has no body: nothing to stream, and a
// reader of unknown length would make the upstream request chunked.
bool declaresBody(const http::Request& req) {
  return req.headers.has("Transfer-Encoding") ||
         (req.headers.has("Content-Length") && req.header("Content-Length") != "0");
}

std::string isoTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

HubServer::HubServer(kube::KubeClient& kube, http::UpstreamPool& upstream, http::WsConnector* ws,
                     Clock& clock, Random& random, metrics::Metrics& metrics, HubOptions options)
    : kube_(kube),
      upstream_(upstream),
      ws_(ws),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      metrics_(metrics),
      cache_(kube, clock, random,
             CacheOptions{options_.cluster, options_.ns, options_.workerPort, options_.keyRefresh}),
      control_(options_.controlThreads),
      started_(std::chrono::system_clock::now()) {}

HubServer::~HubServer() { stop(); }

Status HubServer::start() {
  cache_.start();
  http::ServerOptions so = options_.server;
  // Routes decided from the request head stream their bodies (media uploads are never held
  // whole); body-routed calls and the session API need the JSON, read whole up to maxBodyBytes.
  so.streamBody = [](const http::Request& head) {
    auto d = route(head.method, head.path, head.query);
    return declaresBody(head) && d.kind == RouteKind::Proxy && d.source != SessionSource::Body &&
           !needsBody(head.method, head.path);
  };
  server_ = http::makeBeastServer(so);
  return server_->start(
      [this](http::Request& req, std::shared_ptr<http::Exchange> ex) { handle(req, ex); });
}

void HubServer::stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  cache_.releaseWaits();  // pending session writes get their 202 now, not cut by the drain
  if (server_) {
    server_->shutdown(options_.shutdownGrace);
  }
  control_.shutdown();
  cache_.stop();
}

int HubServer::port() const { return server_ ? server_->port() : 0; }

void HubServer::answer(const std::shared_ptr<http::Exchange>& ex, http::Response r,
                       const std::string& label) {
  metrics_.request(r.status, label);
  ex->respond(std::move(r));
}

bool HubServer::authorized(const http::Request& req) const {
  auto key = cache_.apiKey();
  if (!key) {
    return false;  // not read yet: nothing is let through unchecked
  }
  return key->empty() || constantTimeEquals(req.header("X-Api-Key"), *key);
}

void HubServer::handle(http::Request& req, std::shared_ptr<http::Exchange> ex) {
  RouteDecision d;
  try {
    d = route(req.method, req.path, req.query, req.body);
    bool open = d.kind == RouteKind::Local && (req.path == "/ping" || req.path == "/health");
    if (!open && !cache_.ready()) {
      metrics_.miss("not_ready");
      auto r = wahaError(503, "The hub is starting: its caches are not synced yet");
      r.headers.set("Retry-After", std::to_string(options_.retryAfterSeconds));
      return answer(ex, std::move(r), d.label);
    }
    if (!open && !authorized(req)) {
      metrics_.miss("unauthorized");
      return answer(ex, unauthorized(), d.label);
    }
    switch (d.kind) {
      case RouteKind::Local:
        return answerLocal(req, ex);
      case RouteKind::Refused:
        metrics_.miss("refused");
        return answer(ex, wahaError(403, d.message), d.label);
      case RouteKind::NotFound:
        return answer(ex, wahaError(404, d.message), d.label);
      case RouteKind::BadRequest:
        metrics_.miss("bad_request");
        return answer(ex, wahaError(400, d.message), d.label);
      case RouteKind::ListSessions:
        return listSessions(req, ex);
      case RouteKind::CreateSession:
        return createSession(req, ex);
      case RouteKind::UpdateSession:
        return updateSession(req, ex, d);
      case RouteKind::StartSession:
        return setState(ex, d, true);
      case RouteKind::StopSession:
        return setState(ex, d, false);
      case RouteKind::DeleteSession:
        return deleteSession(ex, d);
      case RouteKind::WebSocket:
        return webSocket(req, ex, d);
      case RouteKind::Proxy:
        return proxy(req, ex, d);
    }
  } catch (const std::exception& e) {
    log::error("hub: request failed", {{"path", req.path}, {"error", e.what()}});
    metrics_.miss("upstream_error");
    answer(ex, wahaError(502, "The hub could not handle the request"), d.label);
  }
}

void HubServer::answerLocal(const http::Request& req, const std::shared_ptr<http::Exchange>& ex) {
  Json body;
  if (req.path == "/ping") {
    body = {{"message", "pong"}};
  } else if (req.path == "/health") {
    body = {{"status", "ok"},
            {"info", Json::object()},
            {"error", Json::object()},
            {"details", Json::object()}};
  } else if (req.path == "/api/server/status") {
    auto now = std::chrono::system_clock::now();
    body = {
        {"startTimestamp",
         std::chrono::duration_cast<std::chrono::milliseconds>(started_.time_since_epoch())
             .count()},
        {"uptime", std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()},
        {"worker", {{"id", options_.hubId}}},
        {"hub", {{"cluster", options_.cluster}, {"startedAt", isoTime(started_)}}}};
  } else {
    body = {
        {"version", "waha-operator-hub"}, {"engine", "hub"}, {"tier", "HUB"}, {"browser", nullptr}};
  }
  answer(ex, http::Response::json(200, body.dump()), "local");
}

bool HubServer::routeMiss(const Lookup& l, const std::string& session,
                          const std::shared_ptr<http::Exchange>& ex, const std::string& label) {
  if (l.kind == Lookup::Kind::Unknown) {
    metrics_.miss("unknown");
    answer(ex, sessionNotFound(), label);
    return true;
  }
  if (l.kind == Lookup::Kind::NotPlaced) {
    metrics_.miss(l.reason);
    answer(ex, notPlaced(session, l.reason, options_.retryAfterSeconds), label);
    return true;
  }
  return false;
}

http::UpstreamRequest HubServer::upstreamRequest(const http::Request& req,
                                                 std::string target) const {
  http::UpstreamRequest up;
  up.method = req.method;
  up.target = std::move(target);
  for (const auto& [name, value] : req.headers.all()) {
    if (!droppedHeader(name) && !http::iequals(name, "X-Forwarded-For")) {
      up.headers.add(name, value);
    }
  }
  std::string xff = req.header("X-Forwarded-For");
  up.headers.set("X-Forwarded-For",
                 xff.empty() ? req.remoteAddress : xff + ", " + req.remoteAddress);
  up.headers.set("X-Forwarded-Proto", "http");
  // The hub serves one cluster and its key is the workers' key: the caller's key was checked
  // above, the worker gets the key it expects.
  if (auto key = cache_.apiKey(); key && !key->empty()) {
    up.headers.set("X-Api-Key", *key);
  }
  up.timeout = options_.upstreamTimeout;
  return up;
}

void HubServer::proxy(http::Request& req, std::shared_ptr<http::Exchange> ex,
                      const RouteDecision& d) {
  Lookup l = cache_.lookup(d.session);
  if (routeMiss(l, d.session, ex, d.label)) {
    return;
  }
  http::UpstreamRequest up = upstreamRequest(req, req.target);
  up.headers.set("Host", l.ip + ":" + std::to_string(l.port));
  up.body = std::move(req.body);
  if (declaresBody(req)) {
    up.bodyReader = req.bodyReader;
  }
  http::ForwardHooks hooks;
  hooks.onDone = [this, label = d.label, pod = l.pod](const http::ForwardResult& r) {
    metrics_.request(r.status, label);
    if (r.upstreamOk) {
      metrics_.upstream(r.upstreamSeconds.count());
    } else {
      metrics_.miss("upstream_error");
      log::warn("hub: worker did not answer", {{"worker", pod}, {"error", r.error}});
    }
  };
  upstream_.forward({l.ip, l.port}, std::move(up), std::move(ex), std::move(hooks));
}

}  // namespace waha::hub
