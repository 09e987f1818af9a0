#include "kube/leader_election.h"

#include <cstdio>

#include "common/log.h"

namespace waha::kube {

namespace {

const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};

long seconds(Duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

}  // namespace

std::string formatMicroTime(WallTime t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (secs > t) {
    secs -= std::chrono::seconds(1);
  }
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::string base = formatRfc3339(secs);  // ...:05Z
  char frac[32];
  std::snprintf(frac, sizeof(frac), ".%06ldZ", static_cast<long>(micros));
  return base.substr(0, base.size() - 1) + frac;
}

LeaderElector::LeaderElector(KubeClient& client, Clock& clock, LeaderElectionConfig config,
                             LeaderCallbacks callbacks)
    : client_(client), clock_(clock), config_(std::move(config)), callbacks_(std::move(callbacks)) {
  if (callbacks_.onState) {
    callbacks_.onState(false);  // the gauge series exists from start-up
  }
}

LeaderElector::~LeaderElector() { stop(); }

std::string LeaderElector::observedLeader() const {
  std::lock_guard<std::mutex> lk(mu_);
  return observedHolder_;
}

void LeaderElector::observe(const Json& spec, TimePoint now) {
  std::string holder = spec.value("holderIdentity", "");
  bool newHolder = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    // Expiry is judged by when *we* saw the record change, never by its renewTime: clocks of
    // different nodes disagree (client-go does the same).
    if (spec != observedSpec_) {
      observedSpec_ = spec;
      observedTime_ = now;
    }
    newHolder = holder != observedHolder_;
    observedHolder_ = holder;
  }
  if (newHolder && !holder.empty()) {
    log::info("leader observed", {{"lease", config_.ns + "/" + config_.name}, {"holder", holder}});
    if (callbacks_.onNewLeader) {
      callbacks_.onNewLeader(holder);
    }
  }
}

LeaderElector::Attempt LeaderElector::tryAcquireOrRenew() {
  TimePoint now = clock_.now();
  std::string wall = formatMicroTime(clock_.wallNow());
  Json spec = {{"holderIdentity", config_.identity},
               {"leaseDurationSeconds", seconds(config_.leaseDuration)},
               {"acquireTime", wall},
               {"renewTime", wall},
               {"leaseTransitions", 0}};
  auto cur = client_.get(kLeases, config_.ns, config_.name);
  if (!cur.ok()) {
    if (cur.error().code != 404) {
      log::warn("lease read failed", {{"lease", config_.name}, {"error", cur.error().str()}});
      return Attempt::Failed;
    }
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.name}, {"namespace", config_.ns}}},
                  {"spec", spec}};
    auto created = client_.create(kLeases, config_.ns, lease);
    if (!created.ok()) {
      return Attempt::Failed;  // someone else created it first: 409, retried next round
    }
    observe(spec, now);
    return Attempt::Leading;
  }
  Json old = (*cur)["spec"].is_object() ? (*cur)["spec"] : Json::object();
  observe(old, now);
  std::string holder = old.value("holderIdentity", "");
  Duration oldDuration = std::chrono::seconds(old.value("leaseDurationSeconds", 0L));
  if (oldDuration.count() <= 0) {
    oldDuration = config_.leaseDuration;
  }
  TimePoint seenAt;
  {
    std::lock_guard<std::mutex> lk(mu_);
    seenAt = observedTime_;
  }
  if (!holder.empty() && holder != config_.identity && seenAt + oldDuration > now) {
    return Attempt::HeldByOther;
  }
  if (holder == config_.identity && leading_) {
    spec["acquireTime"] = old.value("acquireTime", wall);
    spec["leaseTransitions"] = old.value("leaseTransitions", 0);
  } else {
    spec["leaseTransitions"] = old.value("leaseTransitions", 0) + 1;
  }
  Json next = *cur;
  next["spec"] = spec;  // metadata.resourceVersion kept: a concurrent writer makes this 409
  auto updated = client_.update(kLeases, config_.ns, next);
  if (!updated.ok()) {
    if (updated.error().code != 409) {
      log::warn("lease update failed", {{"lease", config_.name}, {"error", updated.error().str()}});
    }
    return Attempt::Failed;
  }
  observe(spec, now);
  return Attempt::Leading;
}

void LeaderElector::setLeading(bool leading) {
  if (leading_.exchange(leading) == leading) {
    return;
  }
  log::info(leading ? "started leading" : "stopped leading",
            {{"lease", config_.ns + "/" + config_.name}, {"identity", config_.identity}});
  if (callbacks_.onState) {
    callbacks_.onState(leading);
  }
  auto& fn = leading ? callbacks_.onStartedLeading : callbacks_.onStoppedLeading;
  if (fn) {
    fn();
  }
}

void LeaderElector::step() {
  TimePoint started = clock_.now();
  Attempt a = tryAcquireOrRenew();
  if (a == Attempt::Leading) {
    lastRenew_ = started;
    setLeading(true);
    return;
  }
  if (!leading_) {
    return;
  }
  // Another holder with a valid lease is proof we lost it: stop at once. Failed renewals only
  // end leadership after renewDeadline, as in client-go.
  if (a == Attempt::HeldByOther || !lastRenew_ || started - *lastRenew_ >= config_.renewDeadline) {
    setLeading(false);
  }
}

Status LeaderElector::release() {
  auto cur = client_.get(kLeases, config_.ns, config_.name);
  if (!cur.ok()) {
    return cur.error();
  }
  if ((*cur)["spec"].value("holderIdentity", "") != config_.identity) {
    return Status{};
  }
  std::string wall = formatMicroTime(clock_.wallNow());
  Json next = *cur;
  // client-go's release(): an empty holder and a 1 s lease let a standby take over at once.
  next["spec"]["holderIdentity"] = "";
  next["spec"]["leaseDurationSeconds"] = 1;
  next["spec"]["acquireTime"] = wall;
  next["spec"]["renewTime"] = wall;
  auto res = client_.update(kLeases, config_.ns, next);
  if (!res.ok()) {
    return res.error();
  }
  return Status{};
}

void LeaderElector::start() {
  std::lock_guard<std::mutex> lk(loopMu_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lk(loopMu_);
    while (!stopping_) {
      lk.unlock();
      step();
      lk.lock();
      clock_.waitUntil(lk, loopCv_, clock_.now() + config_.retryPeriod,
                       [this] { return stopping_; });
    }
  });
}

void LeaderElector::stop() {
  {
    std::lock_guard<std::mutex> lk(loopMu_);
    stopping_ = true;
  }
  loopCv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (leading_ && config_.releaseOnStop) {
    if (auto st = release(); !st.ok()) {
      log::warn("lease release failed", {{"lease", config_.name}, {"error", st.error().str()}});
    }
  }
  setLeading(false);
}

}  // namespace waha::kube
