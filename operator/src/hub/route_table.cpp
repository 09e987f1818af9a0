#include "hub/route_table.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "api/names.h"

namespace waha::hub {
namespace {

using Json = nlohmann::json;

// WAHA's Express router matches fixed routes case-insensitively; the hub must agree, or
// /api/SendText would be taken for a session called "SendText".
bool ieq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

template <std::size_t N>
bool oneOf(std::string_view s, const std::array<std::string_view, N>& set) {
  return std::any_of(set.begin(), set.end(), [s](std::string_view v) { return ieq(s, v); });
}

// POST /api/<route> naming the session in the JSON body (waha-api.md, family 3).
constexpr std::array<std::string_view, 19> kBodyPostRoutes = {
    "sendText",       "sendImage",      "sendFile",        "sendVoice",
    "sendVideo",      "sendButtons",    "sendList",        "sendPoll",
    "sendPollVote",   "sendLocation",   "sendLinkPreview", "sendContactVcard",
    "forwardMessage", "sendSeen",       "startTyping",     "stopTyping",
    "reply",          "contacts/block", "contacts/unblock"};
constexpr std::array<std::string_view, 2> kBodyPutRoutes = {"reaction", "star"};
// GET /api/<route> naming the session in the query (family 4).
constexpr std::array<std::string_view, 9> kQueryGetRoutes = {"messages",
                                                             "sendText",
                                                             "checkNumberStatus",
                                                             "screenshot",
                                                             "contacts",
                                                             "contacts/all",
                                                             "contacts/check-exists",
                                                             "contacts/about",
                                                             "contacts/profile-picture"};
constexpr std::array<std::string_view, 3> kDeprecatedLifecycle = {"start", "stop", "logout"};

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    if (j > i) {
      out.push_back(path.substr(i, j - i));
    }
    i = j + 1;
  }
  return out;
}

// "/api/<rest>" -> "<rest>" without a trailing slash.
std::string_view apiRest(std::string_view path) {
  std::string_view rest = path.substr(std::min<std::size_t>(path.size(), 5));
  while (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  return rest;
}

RouteDecision make(RouteKind kind, std::string label, std::string session = "",
                   SessionSource source = SessionSource::None, std::string message = "") {
  return RouteDecision{kind, std::move(session), source, std::move(label), std::move(message)};
}

RouteDecision notFound(std::string_view method, std::string_view path) {
  return make(RouteKind::NotFound, "unknown", "", SessionSource::None,
              "Cannot " + std::string(method) + " " + std::string(path));
}

bool isBodyRoute(std::string_view method, std::string_view rest) {
  return (method == "POST" && oneOf(rest, kBodyPostRoutes)) ||
         (method == "PUT" && oneOf(rest, kBodyPutRoutes));
}

bool isDeprecatedLifecycle(std::string_view method, const std::vector<std::string_view>& seg) {
  return method == "POST" && seg.size() == 3 && ieq(seg[1], "sessions") &&
         oneOf(seg[2], kDeprecatedLifecycle);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string decodeComponent(std::string_view v) {
  std::string out;
  for (std::size_t k = 0; k < v.size(); ++k) {
    int hi = k + 2 < v.size() && v[k] == '%' ? hexValue(v[k + 1]) : -1;
    int lo = hi >= 0 ? hexValue(v[k + 2]) : -1;
    if (lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      k += 2;
    } else {
      out += v[k] == '+' ? ' ' : v[k];
    }
  }
  return out;
}

// First value of a query parameter, decoded ("" when absent).
std::string queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    std::size_t eq = part.find('=');
    if (part.substr(0, eq) == name) {
      return eq == std::string_view::npos ? "" : decodeComponent(part.substr(eq + 1));
    }
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return "";
}

// The session (or `field`) named in a JSON body; nullopt when the body is not a JSON object or
// the field is not a string.
std::optional<std::string> bodyField(std::string_view body, const char* field,
                                     const char* fallback) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return fallback == nullptr ? std::nullopt : std::optional<std::string>(fallback);
  }
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    return fallback == nullptr ? std::nullopt : std::optional<std::string>(fallback);
  }
  if (!it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

RouteDecision deprecatedLifecycle(std::string_view verb, std::string_view body) {
  auto name = bodyField(body, "name", nullptr);
  if (!name || name->empty()) {
    return make(RouteKind::BadRequest, "sessions.deprecated", "", SessionSource::Body,
                "body must be a JSON object with a string field 'name'");
  }
  if (ieq(verb, "start")) {
    return make(RouteKind::StartSession, "sessions.start", *name, SessionSource::Body);
  }
  if (ieq(verb, "stop")) {
    return make(RouteKind::StopSession, "sessions.stop", *name, SessionSource::Body);
  }
  return make(RouteKind::Proxy, "sessions.logout", *name, SessionSource::Body);
}

// /api/sessions[/...]
RouteDecision sessionsRoute(std::string_view method, std::string_view path,
                            const std::vector<std::string_view>& seg) {
  if (seg.size() == 2) {
    if (method == "GET") {
      return make(RouteKind::ListSessions, "sessions.list");
    }
    if (method == "POST") {
      return make(RouteKind::CreateSession, "sessions.create");
    }
    return notFound(method, path);
  }
  std::string name(seg[2]);
  if (seg.size() == 3) {
    if (method == "PUT") {
      return make(RouteKind::UpdateSession, "sessions.update", name, SessionSource::Path);
    }
    if (method == "DELETE") {
      return make(RouteKind::DeleteSession, "sessions.delete", name, SessionSource::Path);
    }
  }
  if (seg.size() == 4 && method == "POST" && ieq(seg[3], "start")) {
    return make(RouteKind::StartSession, "sessions.start", name, SessionSource::Path);
  }
  if (seg.size() == 4 && method == "POST" && ieq(seg[3], "stop")) {
    return make(RouteKind::StopSession, "sessions.stop", name, SessionSource::Path);
  }
  return make(RouteKind::Proxy, "sessions.proxy", name, SessionSource::Path);
}

RouteDecision serverRoute(std::string_view method, const std::vector<std::string_view>& seg) {
  if (method == "GET" && seg.size() == 3 && (ieq(seg[2], "version") || ieq(seg[2], "status"))) {
    return make(RouteKind::Local, "local");
  }
  // environment reveals the worker's API key; stop/reboot would kill a worker under other
  // tenants' sessions: none of it is the caller's to see or do through the hub.
  return make(RouteKind::Refused, "refused", "", SessionSource::None,
              "The hub does not expose worker server routes");
}

RouteDecision apiRoute(std::string_view method, std::string_view path, std::string_view query,
                       std::string_view body, const std::vector<std::string_view>& seg) {
  std::string_view first = seg[1];
  std::string_view rest = apiRest(path);
  if (ieq(first, "sessions")) {
    return isDeprecatedLifecycle(method, seg) ? deprecatedLifecycle(seg[2], body)
                                              : sessionsRoute(method, path, seg);
  }
  if (ieq(first, "version") && seg.size() == 2 && method == "GET") {
    return make(RouteKind::Local, "local");
  }
  if (ieq(first, "server")) {
    return serverRoute(method, seg);
  }
  if (ieq(first, "keys")) {
    return make(RouteKind::Refused, "refused", "", SessionSource::None,
                "API keys are managed in the cluster's Secret, not through the hub");
  }
  if (ieq(first, "files")) {
    return seg.size() >= 4
               ? make(RouteKind::Proxy, "files", std::string(seg[2]), SessionSource::Path)
               : notFound(method, path);
  }
  if (isBodyRoute(method, rest)) {
    auto session = bodyField(body, "session", kDefaultSession);
    if (!session) {
      return make(RouteKind::BadRequest, "session.body", "", SessionSource::Body,
                  "body must be a JSON object; 'session' must be a string");
    }
    return make(RouteKind::Proxy, "session.body", *session, SessionSource::Body);
  }
  if (method == "GET" && oneOf(rest, kQueryGetRoutes)) {
    std::string session = queryParam(query, "session");
    return make(RouteKind::Proxy, "session.query", session.empty() ? kDefaultSession : session,
                SessionSource::Query);
  }
  if (api::isReservedSessionName(first) || seg.size() < 3) {
    return notFound(method, path);
  }
  return make(RouteKind::Proxy, "session.path", std::string(first), SessionSource::Path);
}

}  // namespace

bool needsBody(std::string_view method, std::string_view path) {
  auto seg = split(path);
  if (seg.size() < 2 || seg[0] != "api") {
    return false;
  }
  return isDeprecatedLifecycle(method, seg) || isBodyRoute(method, apiRest(path));
}

RouteDecision route(std::string_view method, std::string_view path, std::string_view query,
                    std::string_view body) {
  auto seg = split(path);
  if (seg.size() == 1 && method == "GET" && (seg[0] == "ping" || seg[0] == "health")) {
    return make(RouteKind::Local, "local");
  }
  if (seg.size() == 1 && seg[0] == "ws") {
    std::string session = queryParam(query, "session");
    return make(RouteKind::WebSocket, "ws", session.empty() ? "*" : session, SessionSource::Query);
  }
  if (seg.size() < 2 || seg[0] != "api") {
    return notFound(method, path);
  }
  return apiRoute(method, path, query, body, seg);
}

// ---- RouteTable --------------------------------------------------------------------------------

void RouteTable::upsertSession(const std::string& name, SessionEntry entry) {
  sessions_[name] = std::move(entry);
}

void RouteTable::removeSession(const std::string& name) { sessions_.erase(name); }

void RouteTable::upsertPod(const std::string& name, PodEntry entry) {
  pods_[name] = std::move(entry);
}

void RouteTable::removePod(const std::string& name) { pods_.erase(name); }

Lookup RouteTable::lookup(const std::string& session) const {
  auto s = sessions_.find(session);
  if (s == sessions_.end()) {
    return Lookup{Lookup::Kind::Unknown, "", "", 0, "unknown"};
  }
  const SessionEntry& e = s->second;
  if (e.worker.empty()) {
    return Lookup{Lookup::Kind::NotPlaced, "", "", 0, "unplaced"};
  }
  auto p = pods_.find(e.worker);
  bool podUsable = p != pods_.end() && p->second.ready && !p->second.deleting &&
                   !p->second.ip.empty() && (e.workerIP.empty() || e.workerIP == p->second.ip);
  if (e.phase == "Migrating" || !podUsable) {
    return Lookup{Lookup::Kind::NotPlaced, e.worker, "", 0, "moving"};
  }
  return Lookup{Lookup::Kind::Proxy, e.worker, p->second.ip, port_, ""};
}

std::optional<SessionEntry> RouteTable::session(const std::string& name) const {
  auto it = sessions_.find(name);
  return it == sessions_.end() ? std::nullopt : std::optional<SessionEntry>(it->second);
}

std::map<std::string, std::string> RouteTable::readyWorkers() const {
  std::map<std::string, std::string> out;
  for (const auto& [name, p] : pods_) {
    if (p.ready && !p.deleting && !p.ip.empty()) {
      out[name] = p.ip;
    }
  }
  return out;
}

}  // namespace waha::hub
