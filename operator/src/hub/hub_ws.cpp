// /ws through the hub: one session's events come from its worker; `session=*` subscribes to
// every ready worker and merges their streams into the client's socket.

#include <atomic>
#include <mutex>

#include "common/log.h"
#include "hub/answers.h"
#include "hub/hub_server.h"

namespace waha::hub {
namespace {

// The client's socket and the workers' sockets feeding it. Closes the client once every worker
// stream has ended, and every worker stream once the client goes.
struct WsBridge : std::enable_shared_from_this<WsBridge> {
  std::shared_ptr<http::WebSocket> client;
  std::mutex mu;
  std::vector<std::shared_ptr<http::WebSocket>> upstreams;
  std::size_t open = 0;

  void attach(const std::shared_ptr<http::WebSocket>& up) {
    {
      std::lock_guard<std::mutex> lk(mu);
      upstreams.push_back(up);
      ++open;
    }
    auto self = shared_from_this();
    up->start([self](http::WsMessage m) { self->client->send(std::move(m)); },
              [self](int code, std::string reason) {
                std::lock_guard<std::mutex> lk(self->mu);
                if (--self->open == 0) {
                  self->client->close(code == 1006 ? 1011 : code, reason);
                }
              });
  }
  void startClient(bool single) {
    auto self = shared_from_this();
    client->start(
        [self, single](http::WsMessage m) {
          // One session: the client may talk to its worker; a merged stream is read-only.
          std::lock_guard<std::mutex> lk(self->mu);
          if (single && !self->upstreams.empty()) {
            self->upstreams.front()->send(std::move(m));
          }
        },
        [self](int, std::string) {
          std::lock_guard<std::mutex> lk(self->mu);
          for (auto& u : self->upstreams) {
            u->close();
          }
        });
  }
};

}  // namespace

void HubServer::webSocket(http::Request& req, std::shared_ptr<http::Exchange> ex,
                          const RouteDecision& d) {
  if (ws_ == nullptr || !http::isWebSocketUpgrade(req)) {
    return answer(ex, wahaError(ws_ == nullptr ? 501 : 400, "Expected a WebSocket upgrade"),
                  d.label);
  }
  std::map<std::string, std::string> targets;
  int port = cache_.workerPort();
  if (d.session == "*") {
    targets = cache_.readyWorkers();
  } else {
    Lookup l = cache_.lookup(d.session);
    if (routeMiss(l, d.session, ex, d.label)) {
      return;
    }
    targets[l.pod] = l.ip;
  }
  if (targets.empty()) {
    metrics_.miss("unplaced");
    auto r = wahaError(503, "No worker is ready; retry later");
    r.headers.set("Retry-After", std::to_string(options_.retryAfterSeconds));
    return answer(ex, std::move(r), d.label);
  }
  // Connect to the workers first: a refused upstream is still a plain HTTP answer to the client.
  struct Pending {
    std::mutex mu;
    std::size_t remaining;
    std::vector<std::shared_ptr<http::WebSocket>> sockets;
  };
  auto pending = std::make_shared<Pending>();
  pending->remaining = targets.size();
  auto key = cache_.apiKey();
  bool single = d.session != "*";
  for (const auto& [pod, ip] : targets) {
    http::WsConnectOptions o;
    o.url = "ws://" + ip + ":" + std::to_string(port) + "/ws" +
            (req.query.empty() ? "" : "?" + req.query);
    if (key && !key->empty()) {
      o.headers.set("X-Api-Key", *key);
    }
    ws_->connect(o, [this, ex, pending, single, label = d.label,
                     pod = pod](Result<std::shared_ptr<http::WebSocket>> r) {
      std::lock_guard<std::mutex> lk(pending->mu);
      if (r.ok()) {
        pending->sockets.push_back(*r);
      } else {
        metrics_.miss("upstream_error");
        log::warn("hub: worker WebSocket failed", {{"worker", pod}, {"error", r.error().message}});
      }
      if (--pending->remaining > 0) {
        return;
      }
      if (pending->sockets.empty()) {
        return answer(ex, wahaError(502, "No worker accepted the WebSocket"), label);
      }
      auto bridge = std::make_shared<WsBridge>();
      bridge->client = ex->acceptWebSocket();
      metrics_.request(101, label);
      if (!bridge->client) {
        for (auto& s : pending->sockets) {
          s->close();
        }
        return;
      }
      for (auto& s : pending->sockets) {
        bridge->attach(s);
      }
      bridge->startClient(single);
    });
  }
}

}  // namespace waha::hub
