#include "controller/context.h"

#include "api/types.h"
#include "controller/views.h"

namespace waha::controller {

void ClaimLedger::add(const std::string& workerKey, const std::string& sessionKey, TimePoint at) {
  std::lock_guard<std::mutex> lk(mu_);
  claims_[workerKey][sessionKey] = at;
}

void ClaimLedger::remove(const std::string& workerKey, const std::string& sessionKey) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = claims_.find(workerKey);
  if (it != claims_.end()) {
    it->second.erase(sessionKey);
  }
}

int ClaimLedger::extraLoad(const std::string& workerKey,
                           const std::function<bool(const std::string&)>& cached, TimePoint now,
                           Duration ttl) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = claims_.find(workerKey);
  if (it == claims_.end()) {
    return 0;
  }
  int n = 0;
  for (auto c = it->second.begin(); c != it->second.end();) {
    if (now - c->second >= ttl || cached(c->first)) {
      c = it->second.erase(c);
    } else {
      ++n;
      ++c;
    }
  }
  return n;
}

std::mutex& ClaimLedger::clusterLock(const std::string& clusterKey) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& m = clusterLocks_[clusterKey];
  if (!m) {
    m = std::make_unique<std::mutex>();
  }
  return *m;
}

void Context::event(const Json& obj, kube::EventType type, const std::string& reason,
                    const std::string& message) const {
  if (events != nullptr) {
    events->record(kube::ObjectReference::fromObject(obj), type, reason, message);
  }
}

std::optional<std::string> clusterApiKey(const Context& ctx, const Json& clusterJson) {
  auto cluster = api::parseCluster(clusterJson);
  if (!cluster.ok() || !cluster->spec.apiKeySecretRef || ctx.caches.secrets == nullptr) {
    return std::nullopt;
  }
  const auto& ref = *cluster->spec.apiKeySecretRef;
  return secretValue(*ctx.caches.secrets, cluster->metadata.namespace_, ref.name, ref.key);
}

}  // namespace waha::controller
