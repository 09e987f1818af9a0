#pragma once

// The hub's routing decisions, pure: which session a WAHA API call names (path, JSON body, query,
// or none), what the hub does with it (answer itself, refuse, change the custom resource, merge
// the workers' lists, proxy), and which worker holds a session right now. No I/O: HubServer feeds
// it requests and informer objects and acts on what it returns.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace waha::hub {

// The session WAHA assumes when a body or query route names none.
inline constexpr const char* kDefaultSession = "default";

enum class RouteKind {
  Local,          // answered by the hub itself (/ping, /health, versions, server status)
  Refused,        // never passed through: it exposes or changes a worker's secrets or process
  NotFound,       // no such WAHA route
  BadRequest,     // a body route whose body is not a JSON object
  ListSessions,   // GET /api/sessions: every worker asked, answers merged
  CreateSession,  // POST /api/sessions: a new WahaSession
  UpdateSession,  // PUT /api/sessions/{s}: spec.config
  StartSession,   // spec.state=Running
  StopSession,    // spec.state=Stopped
  DeleteSession,  // DELETE /api/sessions/{s}: the WahaSession is deleted
  Proxy,          // forwarded to the worker holding `session`
  WebSocket,      // /ws (session from the query; "*" for every worker)
};

// Where the session name came from (docs, metrics labels).
enum class SessionSource { None, Path, Body, Query };

struct RouteDecision {
  RouteKind kind = RouteKind::NotFound;
  std::string session;  // the WAHA session name, when the route names one
  SessionSource source = SessionSource::None;
  // Low-cardinality route label for metrics ("session.path", "sessions.create", ...).
  std::string label;
  std::string message;  // why, for Refused / NotFound / BadRequest answers

  bool operator==(const RouteDecision&) const = default;
};

// True when the route names its session in the JSON body: the body must be read whole before
// route() can decide (bounded by the hub's max body size). Every other route can be decided from
// the request head, so its body streams.
bool needsBody(std::string_view method, std::string_view path);

// Decides what to do with one request. `path` is percent-decoded without the query, `query` the
// raw query string; `body` is used only when needsBody() is true.
RouteDecision route(std::string_view method, std::string_view path, std::string_view query,
                    std::string_view body = {});

// ---- session -> worker ------------------------------------------------------------------------

// What the hub knows about one WahaSession of its cluster (from the informer).
struct SessionEntry {
  std::string resource;    // metadata.name of the WahaSession
  std::string worker;      // status.worker (pod name), "" when not placed
  std::string workerIP;    // status.workerIP
  std::string phase;       // status.phase ("Migrating" while moving)
  std::string wahaStatus;  // status.wahaStatus (STARTING, SCAN_QR_CODE, WORKING, ...)
  // status.observedGeneration: the spec generation the operator has applied on the worker.
  std::int64_t observedGeneration = 0;
  bool operator==(const SessionEntry&) const = default;
};

struct PodEntry {
  std::string ip;
  bool ready = false;
  bool deleting = false;
  bool operator==(const PodEntry&) const = default;
};

struct Lookup {
  enum class Kind { Proxy, NotPlaced, Unknown };
  Kind kind = Kind::Unknown;
  std::string pod;
  std::string ip;
  int port = 0;
  // NotPlaced: "unplaced" (no worker yet) or "moving" (being moved, or its worker not ready).
  std::string reason;
};

// session name -> worker, kept current by informer events. Not thread-safe: HubServer guards it.
class RouteTable {
 public:
  explicit RouteTable(int workerPort) : port_(workerPort) {}

  void upsertSession(const std::string& name, SessionEntry entry);
  void removeSession(const std::string& name);
  void upsertPod(const std::string& name, PodEntry entry);
  void removePod(const std::string& name);

  // Proxy only to a Ready pod whose IP is the one the session was placed on: anything else is a
  // session in flux, answered 503 rather than risking the wrong worker.
  Lookup lookup(const std::string& session) const;
  std::optional<SessionEntry> session(const std::string& name) const;
  // Ready, not deleting worker pods: name -> IP (list merge, `/ws?session=*`).
  std::map<std::string, std::string> readyWorkers() const;
  std::size_t sessions() const { return sessions_.size(); }
  int port() const { return port_; }

 private:
  int port_;
  std::map<std::string, SessionEntry> sessions_;
  std::map<std::string, PodEntry> pods_;
};

}  // namespace waha::hub
