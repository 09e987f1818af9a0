#pragma once

// One simulated WAHA worker: the session state machine (simulator.cpp) and its HTTP routes
// (routes.cpp, admin.cpp). Every answer carries X-Waha-Worker so tests can see who answered.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "events.h"
#include "http/http.h"
#include "http/server.h"
#include "scheduler.h"
#include "sim_config.h"
#include "storage.h"

namespace waha::sim {

// What a route answers. JSON by default; `raw` for PNG and files.
struct Reply {
  int status = 200;
  std::optional<nlohmann::json> body;  // nullopt and raw empty: empty body
  std::string raw;
  std::string contentType;
  bool slow = false;            // answer after WAHA's fixed sleep (--slow-op-ms)
  bool statusMismatch = false;  // 422 for a session not yet in the expected status: may be retried

  static Reply json(int status, nlohmann::json body) {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Reply empty(int status) {
    Reply r;
    r.status = status;
    return r;
  }
};

// "/a//b/c" -> {"a","b","c"}
std::vector<std::string> splitPath(const std::string& path);

// NestJS-shaped error: {"statusCode","message","error"}.
Reply wahaError(int status, const std::string& message);

class Simulator {
 public:
  explicit Simulator(SimConfig cfg, Clock& clock = SteadyClock::instance());
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Opens storage and the phone registry, then resumes sessions as the env asks.
  Status start();
  // Process exit: timers stop and registry locks are released; storage stays as it is.
  void shutdown();

  // The HTTP entry point (routes.cpp). Never blocks: delays go through the scheduler.
  void handle(http::Request& req, std::shared_ptr<http::Exchange> ex);

  const SimConfig& config() const { return cfg_; }
  Faults faults() const;
  void setFaults(const Faults& f);
  // Called for simulated crashes (crash-on-stop, /_sim/crash); main() makes it kill the process.
  void setCrashHandler(std::function<void(const std::string& how)> fn);
  // Status of a session here ("" when unknown): for tests.
  std::string statusOf(const std::string& name) const;

  // Session operations used by the routes.
  Reply listSessions(bool all);
  Reply getSession(const std::string& name);
  Reply createSession(const nlohmann::json& body);
  Reply updateSession(const std::string& name, const nlohmann::json& body);
  Reply deleteSession(const std::string& name);
  Reply startSession(const std::string& name, bool createIfMissing = false);
  Reply stopSession(const std::string& name, bool logout = false);
  Reply restartSession(const std::string& name);
  Reply logoutSession(const std::string& name);
  Reply me(const std::string& name);
  Reply qr(const std::string& name, const std::string& format, bool wantJson);
  Reply requestCode(const std::string& name, const nlohmann::json& body);
  Reply pair(const std::string& name, const nlohmann::json& body);
  // Test hook: an incoming message on a WORKING session, published as the `message` event.
  Reply message(const std::string& name, const nlohmann::json& body);
  // WebSocket subscribers to /ws: for tests.
  std::size_t eventSubscribers() const { return events_.subscribers(); }
  void restartInPlace();
  std::string metricsText();
  nlohmann::json stateJson();
  // A 404/422 when `name` is not running here in one of `expected` statuses, else nullopt.
  std::optional<Reply> requireStatus(const std::string& name,
                                     const std::vector<std::string>& expected);

  SessionStorage& storage() { return storage_; }
  Scheduler& scheduler() { return scheduler_; }

 private:
  struct Session {
    std::string name;
    std::string status = "STOPPED";
    nlohmann::json config = nlohmann::json::object();
    std::optional<nlohmann::json> me;
    std::string qrValue;
    std::uint64_t gen = 0;  // bumped on every transition; stale timers compare it
    bool live() const {
      return status == "STARTING" || status == "SCAN_QR_CODE" || status == "WORKING";
    }
  };

  // Route internals (routes.cpp).
  void dispatch(std::shared_ptr<http::Request> req, std::shared_ptr<http::Exchange> ex,
                TimePoint statusDeadline);
  Reply route(const http::Request& req);
  Reply sessionsRoute(const http::Request& req, const std::vector<std::string>& seg);
  Reply scopedRoute(const http::Request& req, const std::vector<std::string>& seg);
  Reply filesRoute(const http::Request& req, const std::vector<std::string>& seg);
  Reply bodyRoute(const http::Request& req, const std::string& route);
  Reply queryRoute(const http::Request& req, const std::string& route);
  Reply pathRoute(const http::Request& req, const std::vector<std::string>& seg);
  Reply admin(const http::Request& req);
  bool authorized(const http::Request& req) const;
  void respond(const std::shared_ptr<http::Exchange>& ex, const Reply& reply);
  void openEvents(const http::Request& req, const std::shared_ptr<http::Exchange>& ex);

  // State internals (simulator.cpp); callers hold mu_.
  Session* findLocked(const std::string& name);
  std::optional<Reply> beginStartLocked(Session& s);
  void endLocked(Session& s, const std::string& status);
  // Every status change goes through here: it publishes session.status.
  void setStatusLocked(Session& s, const std::string& status);
  std::int64_t nowMs() const;
  void onStartDelay(const std::string& name, std::uint64_t gen);
  void pollConflicts();
  void resumeLocked();
  int liveCountLocked() const;
  nlohmann::json sessionJson(const Session& s, bool withMe) const;

  SimConfig cfg_;
  Clock& clock_;
  StdRandom random_;
  SessionStorage storage_;
  PhoneRegistry registry_;
  Scheduler scheduler_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;
  Faults faults_;
  EventHub events_;
  WallTime startedAt_;
  TimePoint startedMono_;
  std::function<void(const std::string&)> crash_;
  std::vector<std::shared_ptr<http::Exchange>> parked_;  // hung calls, never answered
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<bool> running_{false};
};

}  // namespace waha::sim
