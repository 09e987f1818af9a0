#include "api_server.h"

#include <yaml-cpp/yaml.h>

#include <condition_variable>
#include <queue>

#include "common/log.h"
#include "errors.h"

namespace waha::sim {

// Runs jobs after a delay on one thread: injected latency must not stall the I/O threads.
class DelayQueue {
 public:
  DelayQueue() : thread_([this] { run(); }) {}
  ~DelayQueue() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::chrono::milliseconds delay, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs_.push(Job{std::chrono::steady_clock::now() + delay, seq_++, std::move(fn)});
    }
    cv_.notify_all();
  }

 private:
  struct Job {
    std::chrono::steady_clock::time_point at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Job& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stop_) {
      if (jobs_.empty()) {
        cv_.wait(lk);
        continue;
      }
      auto at = jobs_.top().at;
      if (std::chrono::steady_clock::now() < at) {
        cv_.wait_until(lk, at);
        continue;
      }
      auto fn = jobs_.top().fn;
      jobs_.pop();
      lk.unlock();
      fn();
      lk.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Job, std::vector<Job>, std::greater<Job>> jobs_;
  uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

http::Response jsonResponse(int code, const Json& body) {
  return http::Response::json(code, body.dump());
}

http::Response errorResponse(const Error& e) {
  int code = e.code == 0 ? 500 : e.code;
  return jsonResponse(code, statusJson(e, takeErrorDetails()));
}

bool wantsTable(const http::Request& req) {
  return req.header("Accept").find("as=Table") != std::string::npos;
}

namespace {

Json yamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) {
        o[kv.first.as<std::string>()] = yamlToJson(kv.second);
      }
      return o;
    }
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) {
        a.push_back(yamlToJson(e));
      }
      return a;
    }
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (n.Tag() == "!") {
        return s;  // quoted scalar
      }
      if (s == "true" || s == "false") {
        return s == "true";
      }
      if (s == "null" || s == "~") {
        return nullptr;
      }
      try {
        size_t pos = 0;
        long long v = std::stoll(s, &pos);
        if (pos == s.size()) {
          return v;
        }
        double d = std::stod(s, &pos);
        if (pos == s.size()) {
          return d;
        }
      } catch (const std::exception&) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

}  // namespace

Result<Json> parseBody(const std::string& body, bool allowYaml) {
  Json j = Json::parse(body, nullptr, false);
  if (!j.is_discarded()) {
    return j;
  }
  if (allowYaml) {
    try {
      return yamlToJson(YAML::Load(body));
    } catch (const std::exception& e) {
      return Error::make(400, "BadRequest", std::string("error decoding YAML: ") + e.what());
    }
  }
  return Error::make(400, "BadRequest",
                     "the body of the request was in an unknown format - accepted media types "
                     "include: application/json, application/yaml");
}

ApiServer::ApiServer(MemoryStore& store, ApiServerOptions opts)
    : store_(store), opts_(std::move(opts)), delay_(std::make_unique<DelayQueue>()) {}

ApiServer::~ApiServer() { stop(); }

Status ApiServer::start() {
  auto tls = makeTlsMaterial();
  if (!tls) {
    return tls.error();
  }
  caPem_ = tls->caCertPem;
  http::ServerOptions plain;
  plain.host = opts_.host;
  plain.port = opts_.httpPort;
  plain.threads = opts_.threads;
  plain.idleTimeout = std::chrono::seconds(3600);
  http::ServerOptions secure = plain;
  secure.port = opts_.httpsPort;
  secure.tls = http::TlsConfig{tls->certPem, tls->keyPem};
  http_ = http::makeBeastServer(plain);
  https_ = http::makeBeastServer(secure);
  auto handler = [this](http::Request& req, std::shared_ptr<http::Exchange> ex) {
    handle(req, std::move(ex));
  };
  if (auto st = http_->start(handler); !st) {
    return st;
  }
  if (auto st = https_->start(handler); !st) {
    return st;
  }
  running_ = true;
  ticker_ = std::thread([this] { tick(); });
  return {};
}

void ApiServer::stop() {
  if (running_.exchange(false)) {
    ticker_.join();
    store_.closeAllWatches();
    https_->stop();
    http_->stop();
  }
}

int ApiServer::httpPort() const { return http_ ? http_->port() : 0; }
int ApiServer::httpsPort() const { return https_ ? https_->port() : 0; }

// Bookmarks on their interval, and watch timeouts, from one thread that only ever queues.
void ApiServer::tick() {
  auto nextBookmark = std::chrono::steady_clock::now() + opts_.bookmarkInterval;
  while (running_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = std::chrono::steady_clock::now();
    if (now >= nextBookmark) {
      store_.bookmarkAll();
      nextBookmark = now + opts_.bookmarkInterval;
    }
    std::vector<std::pair<uint64_t, std::shared_ptr<http::ResponseStream>>> expired;
    {
      std::lock_guard<std::mutex> lk(watchMu_);
      for (auto it = watchEntries_.begin(); it != watchEntries_.end();) {
        if (it->second.deadline <= now || !it->second.stream->open()) {
          expired.emplace_back(it->first, it->second.stream);
          it = watchEntries_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& [id, stream] : expired) {
      store_.unwatch(id);
      stream->end();
    }
  }
}

void ApiServer::handle(http::Request& req, std::shared_ptr<http::Exchange> ex) {
  const std::string& p = req.path;
  bool open = p == "/healthz" || p == "/readyz" || p == "/livez" || p == "/version";
  if (!open && req.header("Authorization") != "Bearer " + opts_.token) {
    ex->respond(jsonResponse(401, statusJson(Error::make(401, "Unauthorized", "Unauthorized"))));
    return;
  }
  bool write = req.method != "GET" && req.method != "HEAD";
  bool isAdmin = p.rfind("/admin", 0) == 0;
  if (write && !isAdmin && failPercent_ > 0) {
    uint64_t n = writeCounter_++;
    if (static_cast<int>(n % 100) < failPercent_) {
      int code = failCode_;
      auto res = jsonResponse(
          code,
          statusJson(code == 429
                         ? Error::make(429, "TooManyRequests",
                                       "fault: too many requests, please try again later")
                         : Error::make(500, "InternalError", "fault: injected internal error")));
      if (code == 429) {
        res.headers.set("Retry-After", std::to_string(retryAfterSeconds_.load()));
      }
      ex->respond(std::move(res));
      return;
    }
  }
  int latency = isAdmin ? 0 : latencyMs_.load();
  if (latency > 0) {
    auto copy = std::make_shared<http::Request>(req);
    delay_->post(std::chrono::milliseconds(latency), [this, copy, ex] { route(*copy, ex); });
    return;
  }
  route(req, std::move(ex));
}

void ApiServer::route(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  try {
    if (req.path.rfind("/admin/", 0) == 0) {
      ex->respond(admin(req));
      return;
    }
    bool handled = false;
    auto res = discovery(req, handled);
    if (handled) {
      ex->respond(std::move(res));
      return;
    }
    resource(req, ex, handled);
    if (!handled) {
      ex->respond(jsonResponse(
          404, statusJson(Error::make(404, "NotFound",
                                      "the server could not find the requested resource"))));
    }
  } catch (const std::exception& e) {
    // Exceptions stop here: a bug in a handler is one 500, not a dead server.
    log::error("kube-sim handler failed", {{"path", req.path}, {"error", e.what()}});
    ex->respond(jsonResponse(500, statusJson(Error::make(500, "InternalError", e.what()))));
  }
}

}  // namespace waha::sim
