#include "kube/rest_client.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>

#include "common/base64.h"
#include "common/log.h"

namespace waha::kube {

namespace {

const char* reasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

const char* patchContentType(PatchType t) {
  switch (t) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
    case PatchType::StrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::Apply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

// Appends `name=value` (URL-encoded) to a query under construction.
void addParam(std::string& q, const std::string& name, const std::string& value) {
  if (value.empty()) {
    return;
  }
  q += (q.empty() ? "?" : "&") + name + "=" + http::urlEncode(value);
}

std::string hostOf(const std::string& server) {
  auto start = server.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto end = server.find('/', start);
  return server.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

bool parseEventType(const std::string& s, WatchEvent::Type& out) {
  static const std::pair<const char*, WatchEvent::Type> kTypes[] = {
      {"ADDED", WatchEvent::Type::Added},
      {"MODIFIED", WatchEvent::Type::Modified},
      {"DELETED", WatchEvent::Type::Deleted},
      {"BOOKMARK", WatchEvent::Type::Bookmark},
      {"ERROR", WatchEvent::Type::Error}};
  for (const auto& [name, type] : kTypes) {
    if (s == name) {
      out = type;
      return true;
    }
  }
  return false;
}

class RestWatch final : public WatchHandle {
 public:
  explicit RestWatch(std::shared_ptr<std::atomic<bool>> stopped) : stopped_(std::move(stopped)) {}
  void attach(std::unique_ptr<http::StreamHandle> s) { stream_ = std::move(s); }
  ~RestWatch() override { stop(); }
  void stop() override {
    stopped_->store(true);
    if (stream_) {
      stream_->cancel();
    }
  }

 private:
  std::shared_ptr<std::atomic<bool>> stopped_;
  std::unique_ptr<http::StreamHandle> stream_;
};

}  // namespace

Error errorFromResponse(int status, const std::string& body) {
  bool retryable = status == 0 || status == 429 || (status >= 500 && status != 501);
  Json j = Json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.value("kind", "") == "Status") {
    int code = j.value("code", status);
    std::string reason = j.value("reason", "");
    return Error::make(code == 0 ? status : code, reason.empty() ? reasonForCode(status) : reason,
                       j.value("message", ""), retryable);
  }
  std::string msg = body.size() > 512 ? body.substr(0, 512) + "..." : body;
  return Error::make(status, reasonForCode(status), msg, retryable);
}

RestKubeClient::RestKubeClient(std::shared_ptr<http::HttpClient> http, RestOptions options,
                               Clock& clock, Random& random)
    : http_(std::move(http)), opts_(std::move(options)), clock_(clock), random_(random) {
  while (!opts_.server.empty() && opts_.server.back() == '/') {
    opts_.server.pop_back();
  }
  host_ = hostOf(opts_.server);
  tokens_ = opts_.burst;
  refilled_ = clock_.now();
}

Result<std::shared_ptr<RestKubeClient>> RestKubeClient::fromConfig(const Config& config,
                                                                   Clock& clock, Random& random,
                                                                   RestOptions base) {
  http::ClientOptions httpOpts = config.clientOptions();
  httpOpts.timeout = base.requestTimeout;
  auto http = http::makeCpprestClient(httpOpts);
  if (!http.ok()) {
    return Error::make(0, "InvalidConfig", config.source + ": " + http.error().message);
  }
  auto tokens = std::make_shared<TokenSource>(config, clock);
  base.server = config.server;
  base.username = config.username;
  base.password = config.password;
  if (!config.token.empty() || !config.tokenFile.empty()) {
    base.token = [tokens] { return tokens->token(); };
  }
  auto client = std::make_shared<RestKubeClient>(*http, std::move(base), clock, random);
  client->tokenSource_ = tokens;
  return client;
}

http::Headers RestKubeClient::baseHeaders() const {
  http::Headers h;
  h.set("Accept", "application/json");
  h.set("User-Agent", opts_.userAgent);
  std::string token = opts_.token ? opts_.token() : "";
  if (!token.empty()) {
    h.set("Authorization", "Bearer " + token);
  } else if (!opts_.username.empty()) {
    h.set("Authorization", "Basic " + base64Encode(opts_.username + ":" + opts_.password));
  }
  return h;
}

void RestKubeClient::wait(Duration d) {
  if (opts_.sleep) {
    opts_.sleep(d);
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lk(mu);
  clock_.waitUntil(lk, cv, clock_.now() + d, [] { return false; });
}

void RestKubeClient::throttle() {
  if (opts_.qps <= 0) {
    return;
  }
  Duration delay{0};
  {
    std::lock_guard<std::mutex> lk(bucketMu_);
    TimePoint now = clock_.now();
    double elapsed = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min<double>(opts_.burst, tokens_ + elapsed * opts_.qps);
    refilled_ = now;
    // Take the token now (possibly going negative): callers queue up in arrival order.
    tokens_ -= 1;
    if (tokens_ < 0) {
      delay =
          std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / opts_.qps));
    }
  }
  if (delay.count() > 0) {
    wait(delay);
  }
}

Result<http::Response> RestKubeClient::call(const std::string& method, const std::string& target,
                                            const std::string& body, const std::string& contentType,
                                            bool idempotent) {
  Backoff backoff(opts_.backoffBase, opts_.backoffMax, random_, 2.0, 0.5);
  for (int attempt = 1;; ++attempt) {
    throttle();
    http::ClientRequest req{method, opts_.server + target, baseHeaders(), body,
                            opts_.requestTimeout};
    if (!contentType.empty()) {
      req.headers.set("Content-Type", contentType);
    }
    auto res = http_->send(req);
    int code = res.ok() ? res->status : 0;
    if (opts_.onRequest) {
      opts_.onRequest(method, code, host_);
    }
    bool retry = code == 429 || (idempotent && (code == 0 || (code >= 500 && code != 501)));
    if (!retry || attempt >= opts_.maxAttempts) {
      return res;
    }
    Duration delay = backoff.next();
    if (res.ok()) {
      if (auto ra = res->headers.get("Retry-After")) {
        try {
          delay = std::min<Duration>(std::chrono::seconds(std::stol(*ra)), opts_.maxRetryAfter);
        } catch (const std::exception&) {
          // An HTTP-date Retry-After: keep the backoff delay.
        }
      }
    }
    log::debug("retrying kube request", {{"method", method},
                                         {"path", target},
                                         {"code", std::to_string(code)},
                                         {"attempt", std::to_string(attempt)},
                                         {"delay_ms", std::to_string(delay.count() / 1000000)}});
    wait(delay);
  }
}

Result<Json> RestKubeClient::callJson(const std::string& method, const std::string& target,
                                      const std::string& body, const std::string& contentType,
                                      bool idempotent) {
  auto res = call(method, target, body, contentType, idempotent);
  if (!res.ok()) {
    return res.error();
  }
  if (res->status < 200 || res->status > 299) {
    return errorFromResponse(res->status, res->body);
  }
  if (res->body.empty()) {
    return Json::object();
  }
  Json j = Json::parse(res->body, nullptr, false);
  if (j.is_discarded()) {
    return Error::make(res->status, "InvalidResponse",
                       method + " " + target + ": answer is not JSON", false);
  }
  return j;
}

Result<Json> RestKubeClient::get(const ResourceRef& r, const std::string& ns,
                                 const std::string& name, const std::string& subresource) {
  return callJson("GET", r.path(ns, name, subresource), "", "", true);
}

Result<ListResult> RestKubeClient::list(const ResourceRef& r, const std::string& ns,
                                        const ListOptions& opts) {
  std::string q;
  addParam(q, "labelSelector", opts.labelSelector);
  addParam(q, "fieldSelector", opts.fieldSelector);
  addParam(q, "limit", opts.limit > 0 ? std::to_string(opts.limit) : "");
  addParam(q, "continue", opts.continueToken);
  addParam(q, "resourceVersion", opts.resourceVersion);
  auto j = callJson("GET", r.path(ns) + q, "", "", true);
  if (!j.ok()) {
    return j.error();
  }
  ListResult out;
  const Json& meta = (*j)["metadata"];
  if (meta.is_object()) {
    out.resourceVersion = meta.value("resourceVersion", "");
    out.continueToken = meta.value("continue", "");
  }
  // List items come without kind/apiVersion from a real apiserver; the cache wants them.
  std::string kind = j->value("kind", "");
  if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
    kind.resize(kind.size() - 4);
  }
  if ((*j)["items"].is_array()) {
    for (auto& item : (*j)["items"]) {
      if (!item.contains("apiVersion")) {
        item["apiVersion"] = r.apiVersion();
      }
      if (!item.contains("kind") && !kind.empty()) {
        item["kind"] = kind;
      }
      out.items.push_back(std::move(item));
    }
  }
  return out;
}

Result<Json> RestKubeClient::create(const ResourceRef& r, const std::string& ns, const Json& obj) {
  return callJson("POST", r.path(ns), obj.dump(), "application/json", false);
}

Result<Json> RestKubeClient::update(const ResourceRef& r, const std::string& ns, const Json& obj,
                                    const std::string& subresource) {
  std::string name = obj.contains("metadata") ? obj["metadata"].value("name", "") : "";
  if (name.empty()) {
    return Error::make(400, "BadRequest", "update: object has no metadata.name");
  }
  return callJson("PUT", r.path(ns, name, subresource), obj.dump(), "application/json", true);
}

Result<Json> RestKubeClient::patch(const ResourceRef& r, const std::string& ns,
                                   const std::string& name, PatchType type, const std::string& body,
                                   const PatchOptions& opts, const std::string& subresource) {
  if (type == PatchType::Apply && opts.fieldManager.empty()) {
    return Error::make(400, "BadRequest", "server-side apply needs a fieldManager");
  }
  std::string q;
  addParam(q, "fieldManager", opts.fieldManager);
  addParam(q, "force", type == PatchType::Apply && opts.force ? "true" : "");
  return callJson("PATCH", r.path(ns, name, subresource) + q, body, patchContentType(type),
                  type != PatchType::Json);
}

Status RestKubeClient::remove(const ResourceRef& r, const std::string& ns, const std::string& name,
                              const DeleteOptions& opts) {
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!opts.propagationPolicy.empty()) {
    body["propagationPolicy"] = opts.propagationPolicy;
  }
  if (opts.gracePeriodSeconds) {
    body["gracePeriodSeconds"] = *opts.gracePeriodSeconds;
  }
  if (!opts.preconditionUid.empty()) {
    body["preconditions"]["uid"] = opts.preconditionUid;
  }
  if (!opts.preconditionResourceVersion.empty()) {
    body["preconditions"]["resourceVersion"] = opts.preconditionResourceVersion;
  }
  auto res = callJson("DELETE", r.path(ns, name), body.dump(), "application/json", true);
  if (!res.ok()) {
    return res.error();
  }
  return Status{};
}

std::unique_ptr<WatchHandle> RestKubeClient::watch(const ResourceRef& r, const std::string& ns,
                                                   const WatchOptions& opts, WatchCallback onEvent,
                                                   WatchDone onDone) {
  std::string q = "?watch=true";
  addParam(q, "resourceVersion", opts.resourceVersion);
  addParam(q, "labelSelector", opts.labelSelector);
  addParam(q, "fieldSelector", opts.fieldSelector);
  addParam(q, "allowWatchBookmarks", opts.allowBookmarks ? "true" : "");
  addParam(q, "timeoutSeconds", opts.timeoutSeconds > 0 ? std::to_string(opts.timeoutSeconds) : "");
  throttle();
  http::ClientRequest req{"GET", opts_.server + r.path(ns) + q, baseHeaders(), "",
                          opts_.watchIdleTimeout};
  if (req.timeout.count() <= 0) {
    req.timeout = opts.timeoutSeconds > 0 ? std::chrono::seconds(opts.timeoutSeconds + 60)
                                          : std::chrono::minutes(10);
  }
  auto stopped = std::make_shared<std::atomic<bool>>(false);
  // A line that is not a watch event ends the stream with this error instead of a clean close.
  auto bad = std::make_shared<std::optional<Error>>();
  auto hook = opts_.onRequest;
  std::string host = host_;
  http::StreamCallbacks cb;
  cb.onLine = [stopped, bad, onEvent](std::string line) {
    Json j = Json::parse(line, nullptr, false);
    WatchEvent ev;
    if (j.is_discarded() || !j.is_object() || !j["type"].is_string() ||
        !parseEventType(j["type"].get<std::string>(), ev.type) || !j["object"].is_object()) {
      *bad = Error::make(0, "InvalidWatchEvent", "malformed watch event: " + line.substr(0, 200),
                         true);
      return false;
    }
    ev.object = std::move(j["object"]);
    if (!stopped->load()) {
      onEvent(std::move(ev));
    }
    return !stopped->load();
  };
  cb.onDone = [stopped, bad, onDone, hook, host](Status st) {
    if (hook) {
      hook("WATCH", st.ok() ? 200 : st.error().code, host);
    }
    if (stopped->load()) {
      return;
    }
    if (bad->has_value()) {
      onDone(**bad);
    } else if (!st.ok() && st.error().code != 0) {
      onDone(errorFromResponse(st.error().code, st.error().message));
    } else {
      onDone(st);
    }
  };
  auto handle = std::make_unique<RestWatch>(stopped);
  handle->attach(http_->stream(req, std::move(cb)));
  return handle;
}

}  // namespace waha::kube
