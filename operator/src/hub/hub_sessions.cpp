// The session API of the hub: list merged over the workers; create, update, start, stop and
// delete go through the WahaSession resource (the operator then does the work on a worker).

#include <nlohmann/json.hpp>
#include <set>

#include "api/defaults.h"
#include "api/names.h"
#include "api/types.h"
#include "common/log.h"
#include "hub/answers.h"
#include "hub/hub_server.h"

namespace waha::hub {
namespace {

using Json = nlohmann::json;

const kube::ResourceRef kSessions{api::kGroup, api::kVersion, api::kSessionPlural, true};

bool isDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string randomSuffix(Random& random, int n) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += kChars[static_cast<int>(random.uniform() * 36) % 36];
  }
  return out;
}

// A WAHA name may hold upper case and '_' that a Kubernetes name may not: such a session gets a
// derived resource name and keeps its WAHA name in spec.sessionName.
std::string resourceNameFor(const std::string& name, Random& random) {
  if (isDnsLabel(name)) {
    return name;
  }
  std::string out;
  for (char c : name) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') ? l : '-';
  }
  while (!out.empty() && out.front() == '-') {
    out.erase(out.begin());
  }
  return (out.empty() ? "session" : out.substr(0, 50)) + "-" + randomSuffix(random, 5);
}

std::optional<Json> jsonBody(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Json::object();
  }
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  return j;
}

// A string field, "" when absent or of another type (a worker's JSON is not trusted to throw on).
std::string stringField(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Running on its worker in any state WAHA has, or will add (PASSKEY_REQUIRED, ...): out of
// STOPPED and not FAILED.
bool isUp(const std::string& wahaStatus) {
  return !wahaStatus.empty() && wahaStatus != "STOPPED" && wahaStatus != "FAILED";
}

// The WAHA status the hub can vouch for: the worker's last report, else what the phase implies
// (a session not placed yet has no WAHA status).
std::string wahaStatusOf(const SessionEntry& e) {
  if (!e.wahaStatus.empty()) {
    return e.wahaStatus;
  }
  if (e.phase == "Stopped") {
    return "STOPPED";
  }
  return e.phase == "Failed" ? "FAILED" : "STARTING";
}

// Placed on a worker the hub can reach, and started there.
bool startedOn(const HubCache& c, const std::string& name, const SessionEntry& e) {
  return isUp(e.wahaStatus) && c.lookup(name).kind == Lookup::Kind::Proxy;
}

// The operator sets phase Stopped only once spec.state is Stopped and the worker reports the
// session STOPPED (or it holds no worker at all).
bool stoppedOn(const HubCache&, const std::string&, const SessionEntry& e) {
  return e.phase == "Stopped";
}

// A Kubernetes error as the answer to the caller: its 4xx are the caller's (422 invalid), the
// rest is the hub's failure to reach the API server.
http::Response kubeError(const Error& e) {
  int code = e.code >= 400 && e.code < 500 ? e.code : 502;
  return wahaError(code, e.message.empty() ? "Kubernetes API error" : e.message);
}

}  // namespace

namespace {

// The merge of every worker's session list (WAHA's all=true semantics across the pool).
struct ListMerge {
  std::mutex mu;
  std::size_t total = 0;
  std::size_t remaining = 0;
  std::size_t failed = 0;
  bool all = false;  // keep STOPPED sessions (the caller asked ?all=true)
  Json items = Json::array();
  std::set<std::string> names;

  // Adds one worker's answer; true when it was a list.
  bool add(const Result<http::Response>& r) {
    Json list = r.ok() && r->status == 200 ? Json::parse(r->body, nullptr, false) : Json();
    if (!list.is_array()) {
      ++failed;
      return false;
    }
    for (auto& s : list) {
      std::string name = s.is_object() ? stringField(s, "name") : "";
      bool stopped = s.is_object() && stringField(s, "status") == "STOPPED";
      if (!name.empty() && (all || !stopped) && names.insert(name).second) {
        items.push_back(std::move(s));
      }
    }
    return true;
  }
  http::Response result() const {
    if (failed == total) {
      return wahaError(502, "No worker answered the session list");
    }
    return http::Response::json(200, items.dump());
  }
};

}  // namespace

void HubServer::listSessions(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  auto workers = cache_.readyWorkers();
  if (workers.empty()) {
    return answer(ex, http::Response::json(200, "[]"), "sessions.list");
  }
  auto merge = std::make_shared<ListMerge>();
  merge->total = merge->remaining = workers.size();
  merge->all = req.queryParam("all").value_or("") == "true";
  for (const auto& [pod, ip] : workers) {
    http::UpstreamRequest up = upstreamRequest(req, "/api/sessions?all=true");
    up.method = "GET";
    up.headers.set("Host", ip + ":" + std::to_string(cache_.workerPort()));
    up.headers.set("Accept", "application/json");
    up.timeout = std::min<std::chrono::milliseconds>(up.timeout, std::chrono::seconds(10));
    upstream_.fetch({ip, cache_.workerPort()}, std::move(up),
                    [this, merge, ex, pod = pod](Result<http::Response> r) {
                      std::lock_guard<std::mutex> lk(merge->mu);
                      if (!merge->add(r)) {
                        metrics_.miss("upstream_error");
                        log::warn("hub: a worker's session list failed", {{"worker", pod}});
                      }
                      if (--merge->remaining == 0) {
                        answer(ex, merge->result(), "sessions.list");
                      }
                    });
  }
}

void HubServer::control(const std::shared_ptr<http::Exchange>& ex, const std::string& label,
                        std::function<void()> fn) {
  bool queued = control_.post([this, ex, label, fn = std::move(fn)] {
    try {
      fn();
    } catch (const std::exception& e) {
      log::error("hub: session API call failed", {{"route", label}, {"error", e.what()}});
      metrics_.miss("upstream_error");
      answer(ex, wahaError(502, "The hub could not complete the call"), label);
    }
  });
  if (!queued) {
    answer(ex, wahaError(503, "The hub is stopping"), label);
  }
}

void HubServer::createSession(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  auto body = jsonBody(req.body);
  if (!body) {
    return answer(ex, wahaError(400, "body must be a JSON object"), "sessions.create");
  }
  std::string name = body->contains("name") && (*body)["name"].is_string()
                         ? (*body)["name"].get<std::string>()
                         : "session-" + randomSuffix(random_, 8);
  if (auto problem = api::sessionNameProblem(name); !problem.empty()) {
    return answer(ex, wahaError(422, "Session name " + problem), "sessions.create");
  }
  if (cache_.session(name)) {
    return answer(ex,
                  wahaError(422, "Session '" + name + "' already exists. Use PUT to update it."),
                  "sessions.create");
  }
  // WAHA's own default for `start` changed across releases; the hub follows the OpenAPI (true).
  auto startField = body->find("start");
  if (startField != body->end() && !startField->is_boolean()) {
    return answer(ex, wahaError(400, "start must be a boolean"), "sessions.create");
  }
  bool start = startField == body->end() || startField->get<bool>();
  Json config = body->value("config", Json());
  Json spec = {{"clusterRef", {{"name", options_.cluster}}},
               {"state", start ? "Running" : "Stopped"}};
  std::string resource = resourceNameFor(name, random_);
  if (resource != name) {
    spec["sessionName"] = name;
  }
  if (!config.is_null()) {
    spec["config"] = config;
  }
  Json obj = {{"apiVersion", api::kApiVersion},
              {"kind", api::kSessionKind},
              {"metadata",
               {{"name", resource},
                {"namespace", options_.ns},
                {"labels", {{"app.kubernetes.io/created-by", "waha-hub"}}}}},
              {"spec", spec}};
  control(ex, "sessions.create", [this, ex, obj, name, start, config] {
    auto created = kube_.create(kSessions, options_.ns, obj);
    if (!created.ok()) {
      return answer(
          ex,
          created.error().code == 409
              ? wahaError(422, "Session '" + name + "' already exists. Use PUT to update it.")
              : kubeError(created.error()),
          "sessions.create");
    }
    log::info("hub: session created", {{"session", name}, {"resource", obj["metadata"]["name"]}});
    if (!start) {
      Json s = {{"name", name}, {"status", "STOPPED"}, {"config", config}, {"me", nullptr}};
      return answer(ex, http::Response::json(201, s.dump()), "sessions.create");
    }
    answerConfirmed(ex, {"sessions.create", name, 201, config, startedOn,
                         "The session is being placed on a worker", true});
  });
}

// Waits (bounded by createWait; the cache's wait thread holds the wait, so no thread is blocked
// and any number of writes can wait at once) until the cache shows the worker confirmed the write,
// then answers the worker's own session JSON; past the wait a 202 carries the status the hub last
// saw, so a client is never told of a state no worker has reached.
void HubServer::answerConfirmed(std::shared_ptr<http::Exchange> ex, const Confirmation& c) {
  // Gone after the hub saw it: deleted meanwhile, nothing left to wait for. A new session may
  // simply not have reached the cache yet. (Touched by the wait thread only.)
  auto seen = std::make_shared<bool>(!c.created);
  auto conf = std::make_shared<Confirmation>(c);
  cache_.whenTrue(
      options_.createWait,
      [conf, seen](const HubCache& h) {
        auto s = h.session(conf->session);
        *seen = *seen || s.has_value();
        return s ? conf->done(h, conf->session, *s) : *seen;
      },
      [this, ex, conf, seen](bool confirmed) { finishConfirmed(ex, *conf, *seen, confirmed); });
}

void HubServer::finishConfirmed(const std::shared_ptr<http::Exchange>& ex, const Confirmation& c,
                                bool seen, bool confirmed) {
  auto entry = cache_.session(c.session);
  if (!entry && seen) {
    return answer(ex, sessionNotFound(), c.label);
  }
  Json s = {{"name", c.session},
            {"status", entry ? wahaStatusOf(*entry) : "STARTING"},
            {"config", c.config},
            {"me", nullptr}};
  confirmed = confirmed && entry;
  if (!confirmed) {
    s["message"] = c.pending + "; poll GET /api/sessions/" + c.session;
    return answer(ex, http::Response::json(202, s.dump()), c.label);
  }
  Lookup l = cache_.lookup(c.session);
  if (l.kind != Lookup::Kind::Proxy) {
    return answer(ex, http::Response::json(c.status, s.dump()), c.label);  // stopped, no worker
  }
  http::UpstreamRequest up;
  up.target = "/api/sessions/" + http::urlEncode(c.session);
  up.headers.set("Host", l.ip + ":" + std::to_string(l.port));
  if (auto key = cache_.apiKey(); key && !key->empty()) {
    up.headers.set("X-Api-Key", *key);
  }
  up.timeout = std::chrono::seconds(10);
  upstream_.fetch({l.ip, l.port}, std::move(up),
                  [this, ex, label = c.label, status = c.status, s](Result<http::Response> r) {
                    if (!r.ok() || r->status != 200) {
                      return answer(ex, http::Response::json(status, s.dump()), label);
                    }
                    http::Response out = http::Response::json(status, r->body);
                    if (auto worker = r->headers.get("X-Waha-Worker")) {
                      out.headers.set("X-Waha-Worker", *worker);
                    }
                    answer(ex, std::move(out), label);
                  });
}

void HubServer::updateSession(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                              const RouteDecision& d) {
  auto body = jsonBody(req.body);
  if (!body) {
    return answer(ex, wahaError(400, "body must be a JSON object"), d.label);
  }
  auto entry = cache_.session(d.session);
  if (!entry) {
    metrics_.miss("unknown");
    return answer(ex, sessionNotFound(), d.label);
  }
  // PUT replaces the whole config, as WAHA does: a JSON patch, not a merge.
  Json config = body->value("config", Json::object());
  Json patch = Json::array({{{"op", "add"}, {"path", "/spec/config"}, {"value", config}}});
  control(ex, d.label, [this, ex, d, resource = entry->resource, patch, config] {
    auto r = kube_.patch(kSessions, options_.ns, resource, kube::PatchType::Json, patch.dump());
    if (!r.ok()) {
      return answer(ex, r.error().code == 404 ? sessionNotFound() : kubeError(r.error()), d.label);
    }
    auto written = api::parseSession(*r);
    if (written.ok() && api::effectiveState(written->spec) == api::SessionState::Stopped) {
      // A stopped session only keeps its new config (as on WAHA): nothing runs to confirm it.
      return answerConfirmed(ex, {d.label, d.session, 200, config, stoppedOn,
                                  "The session is being stopped on its worker"});
    }
    // Running: the operator puts the config to the worker (WAHA restarts the session) and then
    // reports this generation as observed.
    std::int64_t generation = written.ok() ? written->metadata.generation : 0;
    auto applied = [generation](const HubCache& c, const std::string& n, const SessionEntry& e) {
      return e.observedGeneration >= generation && startedOn(c, n, e);
    };
    answerConfirmed(ex, {d.label, d.session, 200, config, applied,
                         "The new config is being applied on the session's worker"});
  });
}

void HubServer::setState(std::shared_ptr<http::Exchange> ex, const RouteDecision& d, bool running) {
  auto entry = cache_.session(d.session);
  if (!entry) {
    metrics_.miss("unknown");
    return answer(ex, sessionNotFound(), d.label);
  }
  Json patch = {{"spec", {{"state", running ? "Running" : "Stopped"}}}};
  control(ex, d.label, [this, ex, d, resource = entry->resource, running, patch] {
    auto r = kube_.patch(kSessions, options_.ns, resource, kube::PatchType::Merge, patch.dump());
    if (!r.ok()) {
      return answer(ex, r.error().code == 404 ? sessionNotFound() : kubeError(r.error()), d.label);
    }
    Json config = r->value("/spec/config"_json_pointer, Json());
    if (running) {
      // Started and this generation observed: a status left from before (a stop that answered
      // 202 and has not happened yet) does not pass for the start.
      std::int64_t generation = r->value("/metadata/generation"_json_pointer, std::int64_t{0});
      auto started = [generation](const HubCache& c, const std::string& n, const SessionEntry& e) {
        return e.observedGeneration >= generation && startedOn(c, n, e);
      };
      return answerConfirmed(ex, {d.label, d.session, 201, config, started,
                                  "The session is being started on a worker"});
    }
    answerConfirmed(ex, {d.label, d.session, 201, config, stoppedOn,
                         "The session is being stopped on its worker"});
  });
}

void HubServer::deleteSession(std::shared_ptr<http::Exchange> ex, const RouteDecision& d) {
  auto entry = cache_.session(d.session);
  if (!entry) {
    // WAHA's DELETE is idempotent: a session that is not there is already deleted.
    return answer(ex, http::Response::json(200, ""), d.label);
  }
  control(ex, d.label, [this, ex, d, resource = entry->resource] {
    auto st = kube_.remove(kSessions, options_.ns, resource);
    if (!st.ok() && st.error().code != 404) {
      return answer(ex, kubeError(st.error()), d.label);
    }
    log::info("hub: session deleted", {{"session", d.session}, {"resource", resource}});
    answer(ex, http::Response::json(200, ""), d.label);
  });
}

}  // namespace waha::hub
