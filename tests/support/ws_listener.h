#pragma once

// A WAHA event subscriber for tests: opens a /ws subscription and collects its frames, parsed,
// so a test can wait on what arrived (the waha-sim WebSocket tests, the hub's /ws end to end).

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "http/websocket.h"

namespace waha::test {

// The frames a subscription got (a frame that is not JSON stays as a discarded value).
class WsListener {
 public:
  std::vector<nlohmann::json> snapshot() {
    std::lock_guard<std::mutex> lk(mu_);
    return events_;
  }
  // The session.status statuses received so far for `session`, in order.
  std::vector<std::string> statuses(const std::string& session) {
    std::vector<std::string> out;
    for (const auto& e : snapshot()) {
      if (e.is_object() && e.value("event", "") == "session.status" &&
          e.value("session", "") == session && e.contains("payload")) {
        out.push_back(e["payload"].value("status", ""));
      }
    }
    return out;
  }
  bool closed() {
    std::lock_guard<std::mutex> lk(mu_);
    return closed_;
  }
  // Starts `ws` with callbacks that collect into this listener, which must outlive the socket's
  // connector (its I/O threads call in).
  void listen(const std::shared_ptr<http::WebSocket>& ws) {
    ws->start(
        [this](http::WsMessage m) {
          std::lock_guard<std::mutex> lk(mu_);
          events_.push_back(nlohmann::json::parse(m.data, nullptr, false));
        },
        [this](int, std::string) {
          std::lock_guard<std::mutex> lk(mu_);
          closed_ = true;
        });
  }

 private:
  std::mutex mu_;
  std::vector<nlohmann::json> events_;
  bool closed_ = false;
};

// Opens `url` (ws://host:port/ws?...), with the API key as a header unless `key` is empty; the
// connector's Error (code = the HTTP status of a refused handshake) when it fails.
inline Result<std::shared_ptr<http::WebSocket>> openWs(http::WsConnector& c, const std::string& url,
                                                       const std::string& key = "") {
  http::WsConnectOptions o;
  o.url = url;
  if (!key.empty()) {
    o.headers.set("X-Api-Key", key);
  }
  o.timeout = std::chrono::seconds(5);
  auto p = std::make_shared<std::promise<Result<std::shared_ptr<http::WebSocket>>>>();
  auto f = p->get_future();
  c.connect(o, [p](Result<std::shared_ptr<http::WebSocket>> r) { p->set_value(std::move(r)); });
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return Error::make(0, "Timeout", "no answer to the WebSocket connect in 10 s");
  }
  return f.get();
}

// Opens `url` and collects its frames into `l`; the socket, or the Error of the open.
inline Result<std::shared_ptr<http::WebSocket>> subscribeWs(http::WsConnector& c,
                                                            const std::string& url, WsListener& l,
                                                            const std::string& key = "") {
  auto ws = openWs(c, url, key);
  if (ws.ok()) {
    l.listen(*ws);
  }
  return ws;
}

}  // namespace waha::test
