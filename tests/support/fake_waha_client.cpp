#include "support/fake_waha_client.h"

namespace waha::test {

using wahaapi::Json;

void FakeWahaClient::setSession(const std::string& baseUrl, const std::string& name,
                                const std::string& status) {
  std::lock_guard<std::mutex> lk(mu_);
  sessions_[baseUrl][name] = status;
}

std::optional<std::string> FakeWahaClient::status(const std::string& baseUrl,
                                                  const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto w = sessions_.find(baseUrl);
  if (w == sessions_.end() || w->second.count(name) == 0) {
    return std::nullopt;
  }
  return w->second.at(name);
}

void FakeWahaClient::failNext(const std::string& verb, Error err) {
  std::lock_guard<std::mutex> lk(mu_);
  failures_[verb] = std::move(err);
}

std::vector<FakeWahaClient::Call> FakeWahaClient::calls() const {
  std::lock_guard<std::mutex> lk(mu_);
  return calls_;
}

std::optional<Error> FakeWahaClient::record(const std::string& verb, const wahaapi::Endpoint& ep,
                                            const std::string& session, Json body) {
  std::lock_guard<std::mutex> lk(mu_);
  calls_.push_back({verb, ep.baseUrl, session, std::move(body)});
  auto f = failures_.find(verb);
  if (f != failures_.end()) {
    Error e = f->second;
    failures_.erase(f);
    return e;
  }
  return std::nullopt;
}

void FakeWahaClient::list(const wahaapi::Endpoint& ep,
                          wahaapi::Callback<std::vector<wahaapi::SessionInfo>> cb) {
  if (auto e = record("list", ep, "")) {
    return cb(*e);
  }
  std::vector<wahaapi::SessionInfo> out;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [name, status] : sessions_[ep.baseUrl]) {
      out.push_back({name, status, std::nullopt, Json::object()});
    }
  }
  cb(std::move(out));
}

void FakeWahaClient::get(const wahaapi::Endpoint& ep, const std::string& name,
                         wahaapi::Callback<wahaapi::SessionInfo> cb) {
  if (auto e = record("get", ep, name)) {
    return cb(*e);
  }
  auto st = status(ep.baseUrl, name);
  if (!st) {
    return cb(Error::make(404, "NotFound", "Session not found"));
  }
  cb(wahaapi::SessionInfo{name, *st, std::nullopt, Json::object()});
}

void FakeWahaClient::create(const wahaapi::Endpoint& ep, const std::string& name,
                            const Json& config, bool start,
                            wahaapi::Callback<wahaapi::CreateOutcome> cb) {
  if (auto e = record("create", ep, name, {{"config", config}, {"start", start}})) {
    return cb(*e);
  }
  if (status(ep.baseUrl, name)) {
    return cb(wahaapi::CreateOutcome::AlreadyExisted);
  }
  setSession(ep.baseUrl, name, start ? "STARTING" : "STOPPED");
  cb(wahaapi::CreateOutcome::Created);
}

void FakeWahaClient::start(const wahaapi::Endpoint& ep, const std::string& name,
                           wahaapi::Callback<void> cb) {
  if (auto e = record("start", ep, name)) {
    return cb(*e);
  }
  setSession(ep.baseUrl, name, "STARTING");
  cb(Status{});
}

void FakeWahaClient::stop(const wahaapi::Endpoint& ep, const std::string& name,
                          wahaapi::Callback<void> cb) {
  if (auto e = record("stop", ep, name)) {
    return cb(*e);
  }
  if (!status(ep.baseUrl, name)) {
    return cb(Error::make(404, "NotFound", "Session not found"));
  }
  setSession(ep.baseUrl, name, "STOPPED");
  cb(Status{});
}

void FakeWahaClient::update(const wahaapi::Endpoint& ep, const std::string& name,
                            const Json& config, wahaapi::Callback<void> cb) {
  if (auto e = record("update", ep, name, {{"config", config}})) {
    return cb(*e);
  }
  cb(Status{});
}

void FakeWahaClient::logout(const wahaapi::Endpoint& ep, const std::string& name,
                            wahaapi::Callback<void> cb) {
  if (auto e = record("logout", ep, name)) {
    return cb(*e);
  }
  cb(Status{});
}

void FakeWahaClient::remove(const wahaapi::Endpoint& ep, const std::string& name,
                            wahaapi::Callback<void> cb) {
  if (auto e = record("remove", ep, name)) {
    return cb(*e);
  }
  std::lock_guard<std::mutex> lk(mu_);
  sessions_[ep.baseUrl].erase(name);
  cb(Status{});
}

}  // namespace waha::test
