#pragma once

// WAHA's WebSocket `/ws`: subscribers with their session and event filters. The simulator
// publishes its events here (session.status on every change, message from a test hook) and each
// frame goes only to the subscribers whose filters match.

#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/http.h"
#include "http/websocket.h"

namespace waha::sim {

struct EventFilter {
  std::set<std::string> sessions;  // empty: every session on this worker (`*` or none given)
  std::set<std::string> events;    // empty: every event (`*` or none given)

  // `?session=<name|*>&events=a&events=b` (also `events=a,b`).
  static EventFilter fromQuery(const http::Request& req);
  bool matches(const std::string& session, const std::string& event) const;
};

// What WAHA puts around every event besides its payload.
struct EventSource {
  std::string engine;
  std::string version;
};

class EventHub {
 public:
  explicit EventHub(EventSource source);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Starts the socket; it stays subscribed until it closes.
  void subscribe(std::shared_ptr<http::WebSocket> ws, EventFilter filter);
  // Sends `{id,timestamp,session,event,payload,me,engine,environment}` to matching subscribers.
  void publish(const std::string& session, const std::string& event, nlohmann::json payload,
               nlohmann::json me, std::int64_t timestampMs);
  // Closes every subscriber (1001): the worker is going away.
  void closeAll();
  std::size_t subscribers() const;

 private:
  struct Subscriber {
    std::uint64_t id;
    std::shared_ptr<http::WebSocket> ws;
    EventFilter filter;
  };
  // Shared with the sockets' close callbacks, which may run after the hub is gone.
  struct State {
    mutable std::mutex mu;
    std::vector<Subscriber> subs;
    std::uint64_t nextId = 1;
    std::mt19937_64 random{std::random_device{}()};
  };

  EventSource source_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace waha::sim
