#include "events.h"

#include <algorithm>

namespace waha::sim {
namespace {

// Adds the comma-separated parts of `value` to `out`; `*` means no restriction (an empty set).
void addList(const std::string& value, std::set<std::string>& out, bool& any) {
  std::size_t pos = 0;
  while (pos <= value.size()) {
    auto comma = value.find(',', pos);
    if (comma == std::string::npos) {
      comma = value.size();
    }
    std::string part = value.substr(pos, comma - pos);
    if (part == "*") {
      any = true;
    } else if (!part.empty()) {
      out.insert(part);
    }
    pos = comma + 1;
  }
}

std::string randomHex(std::mt19937_64& gen, int n) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < n; ++i) {
    out.push_back(hex[gen() & 15]);
  }
  return out;
}

}  // namespace

EventFilter EventFilter::fromQuery(const http::Request& req) {
  EventFilter f;
  bool anySession = false;
  bool anyEvent = false;
  for (const auto& [k, v] : http::parseQuery(req.query)) {
    if (k == "session") {
      addList(v, f.sessions, anySession);
    } else if (k == "events") {
      addList(v, f.events, anyEvent);
    }
  }
  if (anySession) {
    f.sessions.clear();
  }
  if (anyEvent) {
    f.events.clear();
  }
  return f;
}

bool EventFilter::matches(const std::string& session, const std::string& event) const {
  return (sessions.empty() || sessions.count(session) > 0) &&
         (events.empty() || events.count(event) > 0);
}

EventHub::EventHub(EventSource source) : source_(std::move(source)) {}

EventHub::~EventHub() { closeAll(); }

void EventHub::subscribe(std::shared_ptr<http::WebSocket> ws, EventFilter filter) {
  std::uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lk(state_->mu);
    id = state_->nextId++;
    state_->subs.push_back({id, ws, std::move(filter)});
  }
  std::weak_ptr<State> weak = state_;
  // Clients only listen: what they send is ignored, as WAHA does.
  ws->start([](http::WsMessage) {},
            [weak, id](int, std::string) {
              if (auto st = weak.lock()) {
                std::lock_guard<std::mutex> lk(st->mu);
                std::erase_if(st->subs, [id](const Subscriber& s) { return s.id == id; });
              }
            });
}

void EventHub::publish(const std::string& session, const std::string& event, nlohmann::json payload,
                       nlohmann::json me, std::int64_t timestampMs) {
  std::lock_guard<std::mutex> lk(state_->mu);
  if (std::none_of(state_->subs.begin(), state_->subs.end(),
                   [&](const Subscriber& s) { return s.filter.matches(session, event); })) {
    return;
  }
  nlohmann::json frame = {{"id", "evt_" + randomHex(state_->random, 26)},
                          {"timestamp", timestampMs},
                          {"session", session},
                          {"event", event},
                          {"payload", std::move(payload)},
                          {"me", std::move(me)},
                          {"engine", source_.engine},
                          {"environment",
                           {{"version", source_.version},
                            {"engine", source_.engine},
                            {"tier", "CORE"},
                            {"browser", nullptr}}}};
  std::string text = frame.dump();
  for (const auto& s : state_->subs) {
    if (s.filter.matches(session, event)) {
      s.ws->send({text, false});
    }
  }
}

void EventHub::closeAll() {
  std::vector<Subscriber> subs;
  {
    std::lock_guard<std::mutex> lk(state_->mu);
    subs.swap(state_->subs);
  }
  for (auto& s : subs) {
    s.ws->close(1001, "worker shutting down");
  }
}

std::size_t EventHub::subscribers() const {
  std::lock_guard<std::mutex> lk(state_->mu);
  return state_->subs.size();
}

}  // namespace waha::sim
