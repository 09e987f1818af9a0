#include "simulator.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace waha::sim {
namespace {

const char* statusText(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 422:
      return "Unprocessable Entity";
    case 500:
      return "Internal Server Error";
    default:
      return http::reasonPhrase(status);
  }
}

std::string randomToken(Random& rnd, std::size_t n, const char* alphabet) {
  std::string out;
  std::size_t len = std::strlen(alphabet);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(
        alphabet[static_cast<std::size_t>(rnd.uniform() * static_cast<double>(len)) % len]);
  }
  return out;
}

std::string makeTempStore() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/waha-sim-store-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return "";
  }
  return tmpl;
}

}  // namespace

Reply wahaError(int status, const std::string& message) {
  return Reply::json(status,
                     {{"statusCode", status}, {"message", message}, {"error", statusText(status)}});
}

Simulator::Simulator(SimConfig cfg, Clock& clock)
    : cfg_(std::move(cfg)),
      clock_(clock),
      storage_(cfg_.storeDir()),
      registry_(cfg_.phoneRegistry, cfg_.workerId),
      scheduler_(clock),
      faults_(cfg_.faults),
      events_(EventSource{cfg_.engine, cfg_.version}),
      startedAt_(clock.wallNow()),
      startedMono_(clock.now()),
      crash_([](const std::string&) { std::abort(); }) {}

Simulator::~Simulator() { shutdown(); }

Status Simulator::start() {
  if (cfg_.storeDir().empty()) {
    cfg_.localStoreDir = makeTempStore();
    if (cfg_.localStoreDir.empty()) {
      return Error::make(500, "StoreUnavailable", "cannot create a temporary session store");
    }
    storage_ = SessionStorage(cfg_.storeDir());
  }
  if (!storage_.init()) {
    return Error::make(500, "StoreUnavailable", "cannot create session store " + storage_.dir());
  }
  if (!registry_.init()) {
    return Error::make(500, "RegistryUnavailable",
                       "cannot create phone registry " + cfg_.phoneRegistry);
  }
  scheduler_.start();
  running_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    resumeLocked();
  }
  if (registry_.enabled()) {
    scheduler_.after(std::chrono::milliseconds(cfg_.conflictPollMs), [this] { pollConflicts(); });
  }
  log::info(
      "waha-sim started",
      {{"worker", cfg_.workerId}, {"store", storage_.dir()}, {"registry", cfg_.phoneRegistry}});
  return {};
}

void Simulator::shutdown() {
  if (!running_.exchange(false)) {
    return;
  }
  scheduler_.stop();
  registry_.releaseAll();
  events_.closeAll();
  std::lock_guard<std::mutex> lk(mu_);
  parked_.clear();
}

Faults Simulator::faults() const {
  std::lock_guard<std::mutex> lk(mu_);
  return faults_;
}

void Simulator::setFaults(const Faults& f) {
  std::lock_guard<std::mutex> lk(mu_);
  faults_ = f;
}

void Simulator::setCrashHandler(std::function<void(const std::string&)> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  crash_ = std::move(fn);
}

std::string Simulator::statusOf(const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = sessions_.find(name);
  return it == sessions_.end() ? "" : it->second.status;
}

Simulator::Session* Simulator::findLocked(const std::string& name) {
  auto it = sessions_.find(name);
  if (it != sessions_.end()) {
    return &it->second;
  }
  // Another worker may have created it in the shared store: WAHA reads its database too.
  auto config = storage_.loadConfig(name);
  if (!config) {
    return nullptr;
  }
  Session s;
  s.name = name;
  s.config = *config;
  return &sessions_.emplace(name, std::move(s)).first->second;
}

int Simulator::liveCountLocked() const {
  int n = 0;
  for (const auto& [name, s] : sessions_) {
    n += s.live() ? 1 : 0;
  }
  return n;
}

nlohmann::json Simulator::sessionJson(const Session& s, bool withMe) const {
  nlohmann::json j = {{"name", s.name}, {"status", s.status}, {"config", s.config}};
  if (withMe) {
    j["me"] = (s.status == "WORKING" && s.me) ? *s.me : nlohmann::json(nullptr);
    j["engine"] = {{"engine", cfg_.engine}};
  }
  return j;
}

std::optional<Reply> Simulator::beginStartLocked(Session& s) {
  if (faults_.maxSessions > 0 && liveCountLocked() >= faults_.maxSessions) {
    return wahaError(422, "Session limit reached: this worker runs at most " +
                              std::to_string(faults_.maxSessions) + " sessions");
  }
  ++s.gen;
  s.me.reset();
  std::string holder;
  if (registry_.acquire(s.name, &holder) == PhoneRegistry::Acquire::Conflict) {
    // The same phone is live on another worker: WhatsApp kicks both connections (440 conflict).
    setStatusLocked(s, "FAILED");
    log::warn("double start detected",
              {{"session", s.name}, {"worker", cfg_.workerId}, {"holder", holder}});
    return std::nullopt;
  }
  setStatusLocked(s, "STARTING");
  storage_.setOwner(s.name, {cfg_.workerId, true});
  std::string name = s.name;
  std::uint64_t gen = s.gen;
  scheduler_.after(std::chrono::milliseconds(cfg_.qrDelayMs),
                   [this, name, gen] { onStartDelay(name, gen); });
  return std::nullopt;
}

void Simulator::endLocked(Session& s, const std::string& status) {
  bool wasLive = s.live();
  ++s.gen;
  s.qrValue.clear();
  setStatusLocked(s, status);
  registry_.release(s.name);
  if (wasLive) {
    storage_.setOwner(s.name, {cfg_.workerId, false});
  }
}

void Simulator::setStatusLocked(Session& s, const std::string& status) {
  if (s.status == status) {
    return;
  }
  s.status = status;
  nlohmann::json me = (status == "WORKING" && s.me) ? *s.me : nlohmann::json(nullptr);
  events_.publish(s.name, "session.status", {{"status", status}}, std::move(me), nowMs());
}

std::int64_t Simulator::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wallNow().time_since_epoch())
      .count();
}

void Simulator::onStartDelay(const std::string& name, std::uint64_t gen) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = sessions_.find(name);
  if (it == sessions_.end() || it->second.gen != gen || it->second.status != "STARTING") {
    return;
  }
  Session& s = it->second;
  if (auto auth = storage_.loadAuth(name)) {
    s.me = *auth;
    setStatusLocked(s, "WORKING");
  } else {
    s.qrValue =
        "2@" + randomToken(random_, 40,
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    setStatusLocked(s, "SCAN_QR_CODE");
  }
  log::info("session status", {{"session", name}, {"status", s.status}, {"worker", cfg_.workerId}});
}

void Simulator::pollConflicts() {
  if (!running_) {
    return;
  }
  auto hit = registry_.takeConflicts();
  if (!hit.empty()) {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& name : hit) {
      auto it = sessions_.find(name);
      if (it != sessions_.end() && it->second.live()) {
        endLocked(it->second, "FAILED");
        log::warn("conflict: session kicked by a second connection",
                  {{"session", name}, {"worker", cfg_.workerId}});
      }
    }
  }
  scheduler_.after(std::chrono::milliseconds(cfg_.conflictPollMs), [this] { pollConflicts(); });
}

void Simulator::resumeLocked() {
  for (const auto& name : storage_.listSessions()) {
    Session* s = findLocked(name);
    if (s == nullptr || s->live()) {
      continue;
    }
    auto owner = storage_.owner(name);
    bool mine = owner && owner->worker == cfg_.workerId && owner->running;
    if (cfg_.restartAllSessions || (cfg_.workerRestartSessions && mine)) {
      log::info("resuming session",
                {{"session", name},
                 {"worker", cfg_.workerId},
                 {"reason", cfg_.restartAllSessions ? "restart-all" : "owned"}});
      (void)beginStartLocked(*s);
    }
  }
}

Reply Simulator::listSessions(bool all) {
  std::lock_guard<std::mutex> lk(mu_);
  if (all) {
    for (const auto& name : storage_.listSessions()) {
      findLocked(name);
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, s] : sessions_) {
    if (all || s.status != "STOPPED") {
      out.push_back(sessionJson(s, true));
    }
  }
  return Reply::json(200, out);
}

Reply Simulator::getSession(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return wahaError(404, "Session not found");
  }
  return Reply::json(200, sessionJson(*s, true));
}

Reply Simulator::createSession(const nlohmann::json& body) {
  std::string name = body.value("name", "");
  if (name.empty()) {
    name = "session_" + randomToken(random_, 8, "0123456789abcdef");
  }
  if (!validSessionName(name)) {
    return wahaError(400, "Invalid session name '" + name + "'");
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (findLocked(name) != nullptr) {
    return wahaError(422, "Session '" + name + "' already exists. Use PUT to update it.");
  }
  Session& s = sessions_[name];
  s.name = name;
  if (body.contains("config") && body["config"].is_object()) {
    s.config = body["config"];
  }
  storage_.saveConfig(name, s.config);
  // `start` defaults to false, as in the WAHA release the operator was measured against.
  if (body.value("start", false)) {
    if (auto err = beginStartLocked(s)) {
      return *err;
    }
  }
  return Reply::json(201, sessionJson(s, false));
}

Reply Simulator::updateSession(const std::string& name, const nlohmann::json& body) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return wahaError(404, "Session not found");
  }
  s->config = (body.contains("config") && body["config"].is_object()) ? body["config"]
                                                                      : nlohmann::json::object();
  storage_.saveConfig(name, s->config);
  bool wasLive = s->live();
  if (wasLive) {
    endLocked(*s, "STOPPED");
    if (auto err = beginStartLocked(*s)) {
      return *err;
    }
  }
  Reply r = Reply::json(200, sessionJson(*s, false));
  r.slow = wasLive;
  return r;
}

Reply Simulator::deleteSession(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return Reply::empty(200);  // idempotent
  }
  bool wasLive = s->live();
  endLocked(*s, "STOPPED");
  storage_.removeSession(name);
  sessions_.erase(name);
  Reply r = Reply::empty(200);
  r.slow = wasLive;
  return r;
}

Reply Simulator::startSession(const std::string& name, bool createIfMissing) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    if (!createIfMissing || !validSessionName(name)) {
      return wahaError(404, "Session not found");
    }
    s = &sessions_[name];
    s->name = name;
    storage_.saveConfig(name, s->config);
  }
  if (s->live()) {
    return wahaError(422, "Session '" + name + "' is already started.");
  }
  if (auto err = beginStartLocked(*s)) {
    return *err;
  }
  return Reply::json(201, sessionJson(*s, false));
}

Reply Simulator::stopSession(const std::string& name, bool logout) {
  std::function<void(const std::string&)> crash;
  {
    std::lock_guard<std::mutex> lk(mu_);
    Session* s = findLocked(name);
    if (s == nullptr) {
      return wahaError(404, "Session not found");
    }
    bool wasLive = s->live();
    if (wasLive && faults_.crashOnStop) {
      crash = crash_;
    } else {
      endLocked(*s, "STOPPED");
      if (logout) {
        storage_.removeAuth(name);
        s->me.reset();
      }
      Reply r = Reply::json(201, sessionJson(*s, false));
      r.slow = wasLive;
      return r;
    }
  }
  // Like NOWEB stopped mid-connect: the whole worker dies under the caller's stop.
  log::error("simulated crash under stop", {{"session", name}, {"worker", cfg_.workerId}});
  crash("crash-on-stop");
  return wahaError(500, "worker crashed");
}

Reply Simulator::restartSession(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return wahaError(404, "Session not found");
  }
  bool wasLive = s->live();
  endLocked(*s, "STOPPED");
  if (auto err = beginStartLocked(*s)) {
    return *err;
  }
  Reply r = Reply::json(201, sessionJson(*s, false));
  r.slow = wasLive;
  return r;
}

Reply Simulator::logoutSession(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return wahaError(404, "Session not found");
  }
  storage_.removeAuth(name);
  bool wasLive = s->live();
  if (wasLive) {
    // A logged-out session comes back asking for a new QR scan.
    endLocked(*s, "STOPPED");
    if (auto err = beginStartLocked(*s)) {
      return *err;
    }
  }
  s->me.reset();
  Reply r = Reply::json(201, sessionJson(*s, false));
  r.slow = wasLive;
  return r;
}

Reply Simulator::me(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return wahaError(404, "Session not found");
  }
  if (s->status != "WORKING" || !s->me) {
    return Reply::empty(200);  // WAHA answers null (an empty body) before pairing
  }
  return Reply::json(200, *s->me);
}

}  // namespace waha::sim
