// The HTTP face of the simulator: WAHA's paths, methods, status codes and JSON shapes.

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "codec.h"
#include "common/log.h"
#include "simulator.h"

namespace waha::sim {
namespace {

// POST routes that name their session in the JSON body (field `session`, default "default").
const std::set<std::string>& bodyPostRoutes() {
  static const std::set<std::string> r = {
      "sendText",       "sendImage",    "sendFile",        "sendVoice",
      "sendVideo",      "sendButtons",  "sendList",        "sendPoll",
      "sendPollVote",   "sendLocation", "sendLinkPreview", "sendContactVcard",
      "forwardMessage", "sendSeen",     "startTyping",     "stopTyping",
      "reply"};
  return r;
}

// GET routes that name their session in the query (`session=`, default "default").
const std::set<std::string>& queryGetRoutes() {
  static const std::set<std::string> r = {"messages",
                                          "sendText",
                                          "checkNumberStatus",
                                          "screenshot",
                                          "contacts",
                                          "contacts/all",
                                          "contacts/check-exists",
                                          "contacts/about",
                                          "contacts/profile-picture"};
  return r;
}

nlohmann::json parseBody(const http::Request& req, bool* ok) {
  *ok = true;
  if (req.body.empty()) {
    return nlohmann::json::object();
  }
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *ok = false;
  }
  return j;
}

std::string joinFrom(const std::vector<std::string>& seg, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < seg.size(); ++i) {
    out += (out.empty() ? "" : "/") + seg[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') {
      ++i;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) {
      j = path.size();
    }
    if (j > i) {
      out.push_back(path.substr(i, j - i));
    }
    i = j;
  }
  return out;
}

bool Simulator::authorized(const http::Request& req) const {
  if (cfg_.apiKey.empty()) {
    return true;
  }
  std::string path = req.path;
  while (!path.empty() && path.front() == '/') {
    path.erase(path.begin());
  }
  if (path.rfind("_sim", 0) != 0) {  // test hooks are never left open
    for (const auto& p : cfg_.excludePaths) {
      if (path == p) {
        return true;
      }
    }
  }
  if (path == "ws" && !req.headers.has("X-Api-Key")) {
    // Browsers cannot set headers on a WebSocket: WAHA takes the key from the query there.
    return constantTimeEquals(req.queryParam("x-api-key").value_or(""), cfg_.apiKey);
  }
  return constantTimeEquals(req.header("X-Api-Key"), cfg_.apiKey);
}

void Simulator::respond(const std::shared_ptr<http::Exchange>& ex, const Reply& reply) {
  http::Response resp;
  resp.status = reply.status;
  if (!reply.raw.empty() || !reply.contentType.empty()) {
    resp.body = reply.raw;
    resp.headers.set("Content-Type",
                     reply.contentType.empty() ? "application/octet-stream" : reply.contentType);
  } else if (reply.body) {
    resp.body = reply.body->dump();
    resp.headers.set("Content-Type", "application/json; charset=utf-8");
  }
  resp.headers.set("X-Waha-Worker", cfg_.workerId);
  ex->respond(std::move(resp));
}

void Simulator::openEvents(const http::Request& req, const std::shared_ptr<http::Exchange>& ex) {
  if (req.method != "GET" || !http::isWebSocketUpgrade(req)) {
    respond(ex, wahaError(400, "/ws expects a WebSocket upgrade"));
    return;
  }
  http::Headers h;
  h.set("X-Waha-Worker", cfg_.workerId);
  auto ws = ex->acceptWebSocket(h);
  if (!ws) {
    respond(ex, wahaError(400, "/ws expects a WebSocket upgrade"));
    return;
  }
  events_.subscribe(std::move(ws), EventFilter::fromQuery(req));
}

void Simulator::handle(http::Request& req, std::shared_ptr<http::Exchange> ex) {
  ++requests_;
  auto r = std::make_shared<http::Request>(std::move(req));
  if (!authorized(*r)) {
    respond(ex, Reply::json(401, {{"statusCode", 401}, {"message", "Unauthorized"}}));
    return;
  }
  if (r->path == "/ws") {
    openEvents(*r, ex);
    return;
  }
  if (r->path.rfind("/_sim/", 0) == 0) {
    // Test hooks ignore faults, so a test can always switch them off again.
    Reply reply;
    try {
      reply = admin(*r);
    } catch (const std::exception& e) {
      reply = wahaError(400, std::string("bad test hook request: ") + e.what());
    }
    respond(ex, reply);
    return;
  }
  Faults f = faults();
  if (!f.hang.empty() && (f.hang == "*" || r->path.rfind(f.hang, 0) == 0)) {
    std::lock_guard<std::mutex> lk(mu_);
    parked_.push_back(ex);  // never answered: the caller's timeout must fire
    return;
  }
  // Probes are exempt: the worker whose API fails while its pod stays Ready is the case to model.
  const bool probe = r->path == "/ping" || r->path == "/health";
  if (!probe && f.errorShare > 0.0 && random_.uniform() < f.errorShare) {
    respond(ex, Reply::json(500, {{"statusCode", 500}, {"message", "Internal server error"}}));
    return;
  }
  TimePoint deadline = clock_.now() + std::chrono::milliseconds(cfg_.statusWaitMs);
  if (f.latencyMs > 0) {
    scheduler_.after(std::chrono::milliseconds(f.latencyMs),
                     [this, r, ex, deadline] { dispatch(r, ex, deadline); });
    return;
  }
  dispatch(r, ex, deadline);
}

void Simulator::dispatch(std::shared_ptr<http::Request> req, std::shared_ptr<http::Exchange> ex,
                         TimePoint statusDeadline) {
  Reply reply;
  try {
    reply = route(*req);
  } catch (const nlohmann::json::exception& e) {
    // A field of the wrong type: NestJS' validation pipe answers 400.
    reply = wahaError(400, std::string("invalid request body: ") + e.what());
  } catch (const std::exception& e) {
    reply = wahaError(500, std::string("simulator error: ") + e.what());
  }
  if (reply.statusMismatch && clock_.now() < statusDeadline) {
    // WAHA waits (up to 5 s) for the expected status before giving up with 422.
    scheduler_.after(std::chrono::milliseconds(20),
                     [this, req, ex, statusDeadline] { dispatch(req, ex, statusDeadline); });
    return;
  }
  if (reply.slow && cfg_.slowOpMs > 0) {
    scheduler_.after(std::chrono::milliseconds(cfg_.slowOpMs),
                     [this, ex, reply] { respond(ex, reply); });
    return;
  }
  respond(ex, reply);
}

Reply Simulator::route(const http::Request& req) {
  const std::string& m = req.method;
  if (req.path == "/ping" && m == "GET") {
    return Reply::json(200, {{"message", "pong"}});
  }
  if (req.path == "/health" && m == "GET") {
    return Reply::json(200, {{"status", "ok"},
                             {"info", {{"worker", {{"status", "up"}}}}},
                             {"error", nlohmann::json::object()},
                             {"details", {{"worker", {{"status", "up"}}}}}});
  }
  if (req.path == "/metrics" && m == "GET" && cfg_.prometheus) {
    Reply r;
    r.raw = metricsText();
    r.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (m == "GET" && (req.path == "/" || req.path == "/dashboard" || req.path == "/dashboard/")) {
    Reply r;
    r.raw = "<!doctype html><title>WAHA (waha-sim " + cfg_.workerId + ")</title>";
    r.contentType = "text/html; charset=utf-8";
    return r;
  }
  if (m == "GET" && req.path == "/-json") {
    return Reply::json(
        200, {{"openapi", "3.0.0"},
              {"info", {{"title", "WAHA - WhatsApp HTTP API"}, {"version", cfg_.version}}},
              {"paths", nlohmann::json::object()}});
  }
  auto seg = splitPath(req.path);
  Reply notFound = wahaError(404, "Cannot " + m + " " + req.path);
  if (seg.empty() || seg[0] != "api") {
    return notFound;
  }
  std::string rest = joinFrom(seg, 1);
  if (m == "GET" && (rest == "version" || rest == "server/version")) {
    return Reply::json(200, {{"version", cfg_.version},
                             {"engine", cfg_.engine},
                             {"tier", "CORE"},
                             {"browser", nullptr},
                             {"platform", "linux/x64"},
                             {"worker", {{"id", cfg_.workerId}}}});
  }
  if (m == "GET" && rest == "server/status") {
    std::lock_guard<std::mutex> lk(mu_);
    auto up = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - startedMono_);
    auto start =
        std::chrono::duration_cast<std::chrono::milliseconds>(startedAt_.time_since_epoch());
    return Reply::json(200, {{"startTimestamp", start.count()},
                             {"uptime", up.count()},
                             {"worker", {{"id", cfg_.workerId}}}});
  }
  if (m == "GET" && rest == "server/environment") {
    // Like WAHA it reveals the API key: the hub must never pass this route to callers.
    return Reply::json(200, {{"WAHA_WORKER_ID", cfg_.workerId},
                             {"WHATSAPP_DEFAULT_ENGINE", cfg_.engine},
                             {"WHATSAPP_API_KEY", cfg_.apiKey}});
  }
  if (seg.size() >= 2 && seg[1] == "sessions") {
    return sessionsRoute(req, seg);
  }
  Reply r = scopedRoute(req, seg);
  return r.status == 0 ? notFound : r;
}

Reply Simulator::sessionsRoute(const http::Request& req, const std::vector<std::string>& seg) {
  const std::string& m = req.method;
  bool ok = true;
  nlohmann::json body = parseBody(req, &ok);
  if (!ok) {
    return wahaError(400, "Unexpected token in JSON body");
  }
  if (seg.size() == 2) {
    if (m == "GET") {
      auto all = req.queryParam("all");
      return listSessions(all && (*all == "true" || *all == "1"));
    }
    if (m == "POST") {
      return createSession(body);
    }
  }
  if (seg.size() == 3 && m == "POST" &&
      (seg[2] == "start" || seg[2] == "stop" || seg[2] == "logout")) {
    // Deprecated forms naming the session in the body.
    std::string name = body.value("name", "default");
    if (seg[2] == "start") {
      return startSession(name, true);
    }
    if (seg[2] == "stop") {
      return stopSession(name, body.value("logout", false));
    }
    return logoutSession(name);
  }
  if (seg.size() == 3) {
    const std::string& name = seg[2];
    if (m == "GET") {
      return getSession(name);
    }
    if (m == "PUT") {
      return updateSession(name, body);
    }
    if (m == "DELETE") {
      return deleteSession(name);
    }
  }
  if (seg.size() == 4) {
    const std::string& name = seg[2];
    const std::string& verb = seg[3];
    if (m == "GET" && verb == "me") {
      return me(name);
    }
    if (m == "POST" && verb == "start") {
      return startSession(name);
    }
    if (m == "POST" && verb == "stop") {
      return stopSession(name);
    }
    if (m == "POST" && verb == "restart") {
      return restartSession(name);
    }
    if (m == "POST" && verb == "logout") {
      return logoutSession(name);
    }
  }
  return wahaError(404, "Cannot " + m + " " + req.path);
}

Reply Simulator::scopedRoute(const http::Request& req, const std::vector<std::string>& seg) {
  const std::string& m = req.method;
  std::string rest = joinFrom(seg, 1);
  if (seg.size() >= 4 && seg[1] == "files" && m == "GET") {
    return filesRoute(req, seg);
  }
  bool isBodyRoute = (m == "POST" && (bodyPostRoutes().count(rest) != 0 ||
                                      rest == "contacts/block" || rest == "contacts/unblock")) ||
                     (m == "PUT" && (rest == "reaction" || rest == "star"));
  if (isBodyRoute) {
    return bodyRoute(req, rest);
  }
  if (m == "GET" && queryGetRoutes().count(rest) != 0) {
    return queryRoute(req, rest);
  }
  // /api/{session}/<family>/...: the first segment names a session unless it is a fixed route.
  static const std::set<std::string> fixed = {
      "sessions", "server",         "version",  "contacts",          "files",     "screenshot",
      "keys",     "apps",           "messages", "checkNumberStatus", "reply",     "reaction",
      "star",     "forwardMessage", "sendSeen", "startTyping",       "stopTyping"};
  if (seg.size() >= 3 && fixed.count(seg[1]) == 0 && seg[1].rfind("send", 0) != 0) {
    return pathRoute(req, seg);
  }
  return Reply::empty(0);  // no route: the caller answers 404
}

// Media files are static: served whatever the session's status.
Reply Simulator::filesRoute(const http::Request& req, const std::vector<std::string>& seg) {
  std::string file = joinFrom(seg, 3);
  if (!validSessionName(seg[2]) || file.find("..") != std::string::npos) {
    return wahaError(404, "Cannot GET " + req.path);
  }
  std::ifstream in(storage_.filePath(seg[2], file), std::ios::binary);
  if (!in) {
    return wahaError(404, "Cannot GET " + req.path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  Reply r;
  r.raw = ss.str();
  r.contentType = "application/octet-stream";
  return r;
}

Reply Simulator::bodyRoute(const http::Request& req, const std::string& route) {
  bool ok = true;
  nlohmann::json body = parseBody(req, &ok);
  if (!ok) {
    return wahaError(400, "Unexpected token in JSON body");
  }
  std::string session = body.value("session", "default");
  if (auto err = requireStatus(session, {"WORKING"})) {
    return *err;
  }
  nlohmann::json echo = {{"worker", cfg_.workerId}, {"path", req.path}, {"session", session}};
  std::string chatId = body.value("chatId", "");
  if (route.rfind("send", 0) == 0 || route == "reply" || route == "forwardMessage") {
    echo["id"] =
        "true_" + chatId + "_" + sha256Hex(req.body + std::to_string(nowMs())).substr(0, 20);
    echo["timestamp"] = nowMs() / 1000;
    echo["fromMe"] = true;
    echo["to"] = chatId;
    echo["body"] = body.value("text", "");
  }
  if (route == "sendFile") {
    // Proof that a large body crossed the hub intact.
    echo["bodyBytes"] = req.body.size();
    echo["sha256"] = sha256Hex(req.body);
    if (body.contains("file") && body["file"].is_object() && body["file"].contains("data")) {
      auto data = base64Decode(body["file"].value("data", ""));
      std::string name = body["file"].value("filename", "file.bin");
      if (data && validSessionName(name)) {
        std::filesystem::create_directories(storage_.dir() + "/files/" + session);
        std::ofstream(storage_.filePath(session, name), std::ios::binary) << *data;
        echo["fileBytes"] = data->size();
        echo["fileSha256"] = sha256Hex(*data);
        echo["url"] = "/api/files/" + session + "/" + name;
      }
    }
  }
  return Reply::json(req.method == "PUT" ? 200 : 201, echo);
}

Reply Simulator::queryRoute(const http::Request& req, const std::string& route) {
  std::string session = req.queryParam("session").value_or("default");
  if (auto err = requireStatus(session, {"WORKING"})) {
    return *err;
  }
  nlohmann::json echo = {{"worker", cfg_.workerId}, {"path", req.path}, {"session", session}};
  if (route == "checkNumberStatus" || route == "contacts/check-exists") {
    std::string phone = req.queryParam("phone").value_or("");
    echo["numberExists"] = !phone.empty();
    echo["chatId"] = phone + "@c.us";
  }
  if (route == "messages" || route == "contacts/all") {
    return Reply::json(200, nlohmann::json::array({echo}));
  }
  return Reply::json(200, echo);
}

Reply Simulator::pathRoute(const http::Request& req, const std::vector<std::string>& seg) {
  const std::string& m = req.method;
  const std::string& session = seg[1];
  const std::string& family = seg[2];
  if (family == "auth" && seg.size() == 4 && seg[3] == "qr" && m == "GET") {
    bool wantJson = req.header("Accept").find("application/json") != std::string::npos;
    return qr(session, req.queryParam("format").value_or("image"), wantJson);
  }
  if (family == "auth" && seg.size() == 4 && seg[3] == "request-code" && m == "POST") {
    bool ok = true;
    nlohmann::json body = parseBody(req, &ok);
    return ok ? requestCode(session, body) : wahaError(400, "Unexpected token in JSON body");
  }
  if (auto err = requireStatus(session, {"WORKING"})) {
    return *err;
  }
  if (family == "chats" && seg.size() == 3 && m == "GET") {
    nlohmann::json chats = nlohmann::json::array();
    for (auto [id, name] :
         {std::pair{"79000000001@c.us", "Alice"}, std::pair{"79000000002@c.us", "Bob"}}) {
      chats.push_back(
          {{"id", id}, {"name", name}, {"session", session}, {"worker", cfg_.workerId}});
    }
    return Reply::json(200, chats);
  }
  nlohmann::json echo = {
      {"worker", cfg_.workerId}, {"path", req.path}, {"session", session}, {"family", family}};
  return Reply::json(m == "POST" ? 201 : 200, echo);
}

}  // namespace waha::sim
