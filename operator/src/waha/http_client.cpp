#include "waha/http_client.h"

#include <atomic>
#include <utility>

#include "common/log.h"
#include "common/thread_pool.h"
#include "http/http.h"

namespace waha::wahaapi {
namespace {

bool contains(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

// WAHA's errors are NestJS-shaped: {"statusCode":422,"message":"...","error":"..."}; `message`
// may also be a list or an object. Falls back to the raw body.
std::string errorMessage(const http::Response& res) {
  auto j = Json::parse(res.body, nullptr, false);
  if (j.is_object() && j.contains("message")) {
    const auto& m = j["message"];
    return m.is_string() ? m.get<std::string>() : m.dump();
  }
  return res.body.substr(0, 300);
}

Error httpError(const http::Response& res, const std::string& what) {
  std::string reason = res.status == 404   ? "NotFound"
                       : res.status == 401 ? "Unauthorized"
                       : res.status == 422 ? "Unprocessable"
                                           : "WorkerError";
  bool retryable = res.status >= 500 || res.status == 429;
  return Error::make(res.status, reason, what + ": " + errorMessage(res), retryable);
}

class HttpWahaClient final : public WahaClient {
 public:
  HttpWahaClient(std::shared_ptr<http::HttpClient> http, HttpWahaClientOptions opts)
      : http_(std::move(http)), opts_(opts), pool_(opts.threads) {}
  ~HttpWahaClient() override { pool_.shutdown(); }

  void list(const Endpoint& ep, Callback<std::vector<SessionInfo>> cb) override {
    run(ep, "GET", "/api/sessions?all=true", "", opts_.listTimeout,
        [cb = std::move(cb)](Result<http::Response> r) {
          if (!r.ok()) {
            return cb(r.error());
          }
          if (r->status != 200) {
            return cb(httpError(*r, "list sessions"));
          }
          auto j = Json::parse(r->body, nullptr, false);
          if (!j.is_array()) {
            return cb(Error::make(r->status, "BadAnswer", "list sessions: not a JSON array"));
          }
          std::vector<SessionInfo> out;
          out.reserve(j.size());
          for (const auto& item : j) {
            auto s = parseSession(item);
            if (s.ok()) {
              out.push_back(std::move(*s));
            }
          }
          cb(std::move(out));
        });
  }

  void get(const Endpoint& ep, const std::string& name, Callback<SessionInfo> cb) override {
    run(ep, "GET", "/api/sessions/" + http::urlEncode(name), "", opts_.listTimeout,
        [cb = std::move(cb), name](Result<http::Response> r) {
          if (!r.ok()) {
            return cb(r.error());
          }
          if (r->status != 200) {
            return cb(httpError(*r, "get session " + name));
          }
          auto j = Json::parse(r->body, nullptr, false);
          cb(parseSession(j));
        });
  }

  void create(const Endpoint& ep, const std::string& name, const Json& config, bool start,
              Callback<CreateOutcome> cb) override {
    Json body = {{"name", name}, {"start", start}};
    if (!config.is_null()) {
      body["config"] = config;
    }
    run(ep, "POST", "/api/sessions", body.dump(), opts_.lifecycleTimeout,
        [cb = std::move(cb), name](Result<http::Response> r) {
          if (!r.ok()) {
            return cb(r.error());
          }
          if (r->status == 200 || r->status == 201) {
            return cb(CreateOutcome::Created);  // the body may be empty: never rely on it
          }
          if (r->status == 422 && contains(errorMessage(*r), "already exists")) {
            return cb(CreateOutcome::AlreadyExisted);
          }
          cb(httpError(*r, "create session " + name));
        });
  }

  void start(const Endpoint& ep, const std::string& name, Callback<void> cb) override {
    lifecycle(ep, "POST", name, "/start", "", "already started", std::move(cb));
  }
  void stop(const Endpoint& ep, const std::string& name, Callback<void> cb) override {
    lifecycle(ep, "POST", name, "/stop", "", nullptr, std::move(cb));
  }
  void logout(const Endpoint& ep, const std::string& name, Callback<void> cb) override {
    lifecycle(ep, "POST", name, "/logout", "", nullptr, std::move(cb));
  }
  void update(const Endpoint& ep, const std::string& name, const Json& config,
              Callback<void> cb) override {
    Json body = {{"config", config.is_null() ? Json::object() : config}};
    lifecycle(ep, "PUT", name, "", body.dump(), nullptr, std::move(cb));
  }
  void remove(const Endpoint& ep, const std::string& name, Callback<void> cb) override {
    run(ep, "DELETE", "/api/sessions/" + http::urlEncode(name), "", opts_.lifecycleTimeout,
        [cb = std::move(cb), name](Result<http::Response> r) {
          if (!r.ok()) {
            return cb(r.error());
          }
          if (r->status / 100 == 2 || r->status == 404) {
            return cb(Status{});
          }
          cb(httpError(*r, "delete session " + name));
        });
  }

 private:
  // `benign`: an error message that means the wanted state already holds.
  void lifecycle(const Endpoint& ep, const char* method, const std::string& name,
                 const std::string& suffix, std::string body, const char* benign,
                 Callback<void> cb) {
    std::string what = std::string(method) + " session " + name + suffix;
    run(ep, method, "/api/sessions/" + http::urlEncode(name) + suffix, std::move(body),
        opts_.lifecycleTimeout, [cb = std::move(cb), benign, what](Result<http::Response> r) {
          if (!r.ok()) {
            return cb(r.error());
          }
          if (r->status / 100 == 2) {
            return cb(Status{});
          }
          if (benign != nullptr && r->status == 422 && contains(errorMessage(*r), benign)) {
            return cb(Status{});
          }
          cb(httpError(*r, what));
        });
  }

  void run(const Endpoint& ep, std::string method, std::string path, std::string body,
           std::chrono::milliseconds timeout, std::function<void(Result<http::Response>)> done) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = ep.baseUrl + path;
    req.timeout = timeout;
    req.headers.set("Accept", "application/json");
    if (!ep.apiKey.empty()) {
      req.headers.set("X-Api-Key", ep.apiKey);
    }
    if (!body.empty()) {
      req.headers.set("Content-Type", "application/json");
      req.body = std::move(body);
    }
    auto http = http_;
    bool queued = pool_.post([http, req = std::move(req), done]() mutable {
      auto res = http->send(req);
      if (!res.ok()) {
        Error e = res.error();
        e.retryable = true;
        e.message = req.method + " " + req.url + ": " + e.message;
        return done(e);
      }
      done(std::move(res));
    });
    if (!queued) {
      done(Error::make(0, "ShuttingDown", "WAHA client is shutting down"));
    }
  }

  std::shared_ptr<http::HttpClient> http_;
  HttpWahaClientOptions opts_;
  ThreadPool pool_;
};

}  // namespace

Result<SessionInfo> parseSession(const Json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
    return Error::make(0, "BadAnswer", "session JSON without a name");
  }
  SessionInfo s;
  s.name = j["name"].get<std::string>();
  if (j.contains("status") && j["status"].is_string()) {
    s.status = j["status"].get<std::string>();
  }
  if (j.contains("me") && j["me"].is_object()) {
    Me me;
    if (j["me"].contains("id") && j["me"]["id"].is_string()) {
      me.id = j["me"]["id"].get<std::string>();
    }
    if (j["me"].contains("pushName") && j["me"]["pushName"].is_string()) {
      me.pushName = j["me"]["pushName"].get<std::string>();
    }
    s.me = me;
  }
  if (j.contains("config")) {
    s.config = j["config"];
  }
  return s;
}

std::unique_ptr<WahaClient> makeHttpWahaClient(std::shared_ptr<http::HttpClient> http,
                                               HttpWahaClientOptions options) {
  return std::make_unique<HttpWahaClient>(std::move(http), options);
}

}  // namespace waha::wahaapi
