// RouteTable: every route family of docs/waha-api.md, reserved first segments, defaults, and the
// session -> worker table's states.

#include "hub/route_table.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace waha::hub;

namespace {

struct Case {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  RouteKind kind;
  std::string session;
  SessionSource source;
};

std::vector<Case> cases() {
  using K = RouteKind;
  using S = SessionSource;
  return {
      // answered by the hub itself
      {"GET", "/ping", "", "", K::Local, "", S::None},
      {"GET", "/health", "", "", K::Local, "", S::None},
      {"GET", "/api/version", "", "", K::Local, "", S::None},
      {"GET", "/api/server/version", "", "", K::Local, "", S::None},
      {"GET", "/api/server/status", "", "", K::Local, "", S::None},
      // routes that expose or change a worker's secrets or process
      {"GET", "/api/server/environment", "", "", K::Refused, "", S::None},
      {"POST", "/api/server/stop", "", "", K::Refused, "", S::None},
      {"GET", "/api/keys", "", "", K::Refused, "", S::None},
      {"POST", "/api/keys", "", "{}", K::Refused, "", S::None},
      // session management
      {"GET", "/api/sessions", "all=true", "", K::ListSessions, "", S::None},
      {"GET", "/api/sessions/", "", "", K::ListSessions, "", S::None},
      {"POST", "/api/sessions", "", "{\"name\":\"a\"}", K::CreateSession, "", S::None},
      {"GET", "/api/sessions/alpha", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/sessions/alpha/me", "", "", K::Proxy, "alpha", S::Path},
      {"PUT", "/api/sessions/alpha", "", "{\"config\":{}}", K::UpdateSession, "alpha", S::Path},
      {"DELETE", "/api/sessions/alpha", "", "", K::DeleteSession, "alpha", S::Path},
      {"POST", "/api/sessions/alpha/start", "", "", K::StartSession, "alpha", S::Path},
      {"POST", "/api/sessions/alpha/stop", "", "", K::StopSession, "alpha", S::Path},
      {"POST", "/api/sessions/alpha/restart", "", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/sessions/alpha/logout", "", "", K::Proxy, "alpha", S::Path},
      // deprecated lifecycle calls with `name` in the body
      {"POST", "/api/sessions/start", "", "{\"name\":\"beta\"}", K::StartSession, "beta", S::Body},
      {"POST", "/api/sessions/stop", "", "{\"name\":\"beta\"}", K::StopSession, "beta", S::Body},
      {"POST", "/api/sessions/logout", "", "{\"name\":\"beta\"}", K::Proxy, "beta", S::Body},
      {"POST", "/api/sessions/start", "", "{}", K::BadRequest, "", S::Body},
      {"POST", "/api/sessions/stop", "", "not json", K::BadRequest, "", S::Body},
      // session in the path
      {"GET", "/api/alpha/auth/qr", "format=image", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/alpha/auth/request-code", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/alpha/chats", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/alpha/chats/123@c.us/messages", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/alpha/channels", "", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/alpha/groups", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/alpha/labels", "", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/alpha/presence", "", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/alpha/status/text", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/alpha/contacts/all", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/alpha/profile", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/alpha/lids", "", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/alpha/media/convert/voice", "", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/alpha/calls/reject", "", "", K::Proxy, "alpha", S::Path},
      {"POST", "/api/alpha/events", "", "", K::Proxy, "alpha", S::Path},
      // media files
      {"GET", "/api/files/alpha/abc.jpeg", "", "", K::Proxy, "alpha", S::Path},
      {"GET", "/api/files/alpha", "", "", K::NotFound, "", S::None},
      // session in the JSON body (default "default")
      {"POST", "/api/sendText", "", "{\"session\":\"alpha\",\"text\":\"hi\"}", K::Proxy, "alpha",
       S::Body},
      {"POST", "/api/sendText", "", "{\"text\":\"hi\"}", K::Proxy, "default", S::Body},
      {"POST", "/api/sendText", "", "", K::Proxy, "default", S::Body},
      {"POST", "/api/sendImage", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendFile", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendVoice", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendVideo", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendButtons", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendList", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendPoll", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendPollVote", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendLocation", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendLinkPreview", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendContactVcard", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/forwardMessage", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendSeen", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/startTyping", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/stopTyping", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/reply", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"PUT", "/api/reaction", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"PUT", "/api/star", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/contacts/block", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/contacts/unblock", "", "{}", K::Proxy, "default", S::Body},
      {"POST", "/api/SENDTEXT", "", "{\"session\":\"a\"}", K::Proxy, "a", S::Body},
      {"POST", "/api/sendText", "", "[1,2]", K::BadRequest, "", S::Body},
      {"POST", "/api/sendText", "", "{\"session\":7}", K::BadRequest, "", S::Body},
      // session in the query (default "default")
      {"GET", "/api/messages", "session=alpha&chatId=1", "", K::Proxy, "alpha", S::Query},
      {"GET", "/api/messages", "chatId=1", "", K::Proxy, "default", S::Query},
      {"GET", "/api/sendText", "session=a%2Db&text=x", "", K::Proxy, "a-b", S::Query},
      {"GET", "/api/checkNumberStatus", "session=a", "", K::Proxy, "a", S::Query},
      {"GET", "/api/screenshot", "session=a", "", K::Proxy, "a", S::Query},
      {"GET", "/api/contacts", "session=a", "", K::Proxy, "a", S::Query},
      {"GET", "/api/contacts/all", "session=a", "", K::Proxy, "a", S::Query},
      {"GET", "/api/contacts/check-exists", "phone=1&session=a", "", K::Proxy, "a", S::Query},
      {"GET", "/api/contacts/about", "", "", K::Proxy, "default", S::Query},
      {"GET", "/api/contacts/profile-picture", "session=a", "", K::Proxy, "a", S::Query},
      // WebSocket
      {"GET", "/ws", "session=alpha&events=message", "", K::WebSocket, "alpha", S::Query},
      {"GET", "/ws", "session=*", "", K::WebSocket, "*", S::Query},
      {"GET", "/ws", "", "", K::WebSocket, "*", S::Query},
      // reserved first segments are never sessions; unknown routes
      {"GET", "/api/screenshot/x/y", "", "", K::NotFound, "", S::None},
      {"GET", "/api/messages/x/y", "", "", K::NotFound, "", S::None},
      {"POST", "/api/sendText/x", "", "", K::NotFound, "", S::None},
      {"GET", "/api/apps/x/y", "", "", K::NotFound, "", S::None},
      {"GET", "/api/Reaction/x", "", "", K::NotFound, "", S::None},
      {"GET", "/api/sendFuture/x", "", "", K::NotFound, "", S::None},
      {"GET", "/api/alpha", "", "", K::NotFound, "", S::None},
      {"GET", "/api", "", "", K::NotFound, "", S::None},
      {"GET", "/", "", "", K::NotFound, "", S::None},
      {"GET", "/dashboard", "", "", K::NotFound, "", S::None},
      {"POST", "/ping", "", "", K::NotFound, "", S::None},
      {"DELETE", "/api/sessions", "", "", K::NotFound, "", S::None},
  };
}

}  // namespace

TEST_CASE("route: every WAHA route family") {
  for (const auto& c : cases()) {
    CAPTURE(c.method, c.path, c.query, c.body);
    auto d = route(c.method, c.path, c.query, c.body);
    CHECK(d.kind == c.kind);
    CHECK(d.session == c.session);
    CHECK(d.source == c.source);
    CHECK_FALSE(d.label.empty());
  }
}

TEST_CASE("route: needsBody only for routes naming the session in the body") {
  CHECK(needsBody("POST", "/api/sendText"));
  CHECK(needsBody("PUT", "/api/reaction"));
  CHECK(needsBody("POST", "/api/contacts/block"));
  CHECK(needsBody("POST", "/api/sessions/start"));
  CHECK(needsBody("POST", "/api/sessions/logout"));
  // Everything else streams: uploads to path-routed media calls are never buffered.
  CHECK_FALSE(needsBody("POST", "/api/alpha/media/upload"));
  CHECK_FALSE(needsBody("POST", "/api/sessions"));
  CHECK_FALSE(needsBody("PUT", "/api/sessions/alpha"));
  CHECK_FALSE(needsBody("POST", "/api/sessions/alpha/start"));
  CHECK_FALSE(needsBody("GET", "/api/sendText"));
  CHECK_FALSE(needsBody("GET", "/ping"));
  for (const auto& c : cases()) {
    if (c.source == SessionSource::Body) {
      CAPTURE(c.method, c.path);
      CHECK(needsBody(c.method, c.path));
    }
  }
}

TEST_CASE("route table: placed, moving, unplaced, unknown") {
  RouteTable t(3000);
  t.upsertPod("w-1", {"10.0.0.1", true, false});
  t.upsertPod("w-2", {"10.0.0.2", false, false});
  t.upsertPod("w-3", {"10.0.0.3", true, true});
  t.upsertSession("placed", {"placed", "w-1", "10.0.0.1", "Running", ""});
  t.upsertSession("noip", {"noip", "w-1", "", "Starting", ""});
  t.upsertSession("unplaced", {"unplaced", "", "", "Pending", ""});
  t.upsertSession("migrating", {"migrating", "w-1", "10.0.0.1", "Migrating", ""});
  t.upsertSession("notready", {"notready", "w-2", "10.0.0.2", "Running", ""});
  t.upsertSession("deleting", {"deleting", "w-3", "10.0.0.3", "Running", ""});
  t.upsertSession("gone", {"gone", "w-9", "10.0.0.9", "Running", ""});
  t.upsertSession("stale", {"stale", "w-1", "10.0.0.7", "Running", ""});

  auto p = t.lookup("placed");
  CHECK(p.kind == Lookup::Kind::Proxy);
  CHECK(p.pod == "w-1");
  CHECK(p.ip == "10.0.0.1");
  CHECK(p.port == 3000);
  CHECK(t.lookup("noip").kind == Lookup::Kind::Proxy);
  CHECK(t.lookup("unplaced").kind == Lookup::Kind::NotPlaced);
  CHECK(t.lookup("unplaced").reason == "unplaced");
  for (const char* s : {"migrating", "notready", "deleting", "gone", "stale"}) {
    CAPTURE(s);
    CHECK(t.lookup(s).kind == Lookup::Kind::NotPlaced);
    CHECK(t.lookup(s).reason == "moving");
  }
  CHECK(t.lookup("nobody").kind == Lookup::Kind::Unknown);
  CHECK(t.readyWorkers() == std::map<std::string, std::string>{{"w-1", "10.0.0.1"}});
  CHECK(t.sessions() == 8);
}

TEST_CASE("route table: a move is routed to the new worker once the cache has it") {
  RouteTable t(3000);
  t.upsertPod("w-1", {"10.0.0.1", true, false});
  t.upsertSession("s", {"s", "w-1", "10.0.0.1", "Running", ""});
  REQUIRE(t.lookup("s").pod == "w-1");
  // The old pod goes away: never routed there again, 503 until the new assignment arrives.
  t.removePod("w-1");
  CHECK(t.lookup("s").kind == Lookup::Kind::NotPlaced);
  t.upsertPod("w-2", {"10.0.0.2", true, false});
  t.upsertSession("s", {"s", "w-2", "10.0.0.2", "Running", ""});
  auto l = t.lookup("s");
  CHECK(l.kind == Lookup::Kind::Proxy);
  CHECK(l.ip == "10.0.0.2");
  t.removeSession("s");
  CHECK(t.lookup("s").kind == Lookup::Kind::Unknown);
}
