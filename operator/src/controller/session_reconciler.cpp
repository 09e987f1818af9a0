#include "controller/session_reconciler.h"

#include <algorithm>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/validation.h"
#include "common/log.h"
#include "controller/kinds.h"
#include "placement/placement.h"

namespace waha::controller {

namespace {

bool hasFinalizer(const api::WahaSession& s) {
  const auto& f = s.metadata.finalizers;
  return std::find(f.begin(), f.end(), api::kSessionFinalizer) != f.end();
}

placement::Strategy toStrategy(api::PlacementStrategy s) {
  return s == api::PlacementStrategy::BinPack ? placement::Strategy::BinPack
                                              : placement::Strategy::LeastLoaded;
}

}  // namespace

SessionReconciler::SessionReconciler(Context& ctx, SessionReconcilerOptions options)
    : ctx_(ctx), options_(options) {}

bool SessionReconciler::busy(const std::string& key) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = ops_.find(key);
  return it != ops_.end() && it->second.inFlight;
}

Result<Action> SessionReconciler::reconcile(const std::string& key) {
  auto obj = ctx_.caches.sessions->get(key);
  if (!obj) {
    std::lock_guard<std::mutex> lk(mu_);
    applied_.erase(key);
    readyObserved_.erase(key);
    if (ops_.count(key) != 0 && !ops_[key].inFlight) {
      ops_.erase(key);
    }
    return Action::awaitChange();
  }
  auto parsed = api::parseSession(*obj);
  if (!parsed.ok()) {
    // The CRD schema should make this impossible; report it and do not loop hot.
    log::error("session does not parse", {{"session", key}, {"error", parsed.error().message}});
    return Action::awaitChange();
  }
  Work w{key, *obj, std::move(*parsed), {}, ""};
  api::applyDefaults(w.s);
  w.status = w.s.status.value_or(api::WahaSessionStatus{});
  w.sessionName = api::effectiveSessionName(w.s);

  if (w.s.metadata.deletionTimestamp) {
    return finalize(w);
  }
  if (!hasFinalizer(w.s)) {
    // The finalizer comes before anything runs on a worker, so a delete always cleans up.
    auto st = addFinalizer(w);
    if (!st.ok()) {
      return st.error();
    }
    return Action::awaitChange();
  }

  const std::string& ns = w.s.metadata.namespace_;
  const std::string clusterName = w.s.spec.clusterRef.name;
  auto clusterObj = ctx_.caches.clusters->get(kube::objectKey(ns, clusterName));

  api::SessionValidationContext vctx;
  vctx.clusterExists = [&](const std::string&) { return clusterObj != nullptr; };
  auto errors = api::validate(w.s, vctx);
  std::erase_if(errors, [](const api::FieldError& e) { return e.path == "spec.clusterRef.name"; });
  if (!errors.empty()) {
    std::string msg = api::formatErrors(errors);
    if (!api::findCondition(w.status.conditions, api::kConditionValid) ||
        api::isConditionTrue(w.status.conditions, api::kConditionValid)) {
      ctx_.event(w.obj, kube::EventType::Warning, "InvalidSpec", msg);
    }
    condition(w, api::kConditionValid, false, "InvalidSpec", msg);
    if (w.status.worker.empty()) {
      w.status.phase = api::SessionPhase::Failed;
      w.status.message = msg;
    }
    auto st = writeStatus(w);
    return st.ok() ? Result<Action>(Action::awaitChange()) : Result<Action>(st.error());
  }
  condition(w, api::kConditionValid, true, "Valid", "");

  std::string owner;
  if (duplicateOf(w, owner)) {
    std::string msg = "sessionName '" + w.sessionName + "' is already used in cluster " +
                      clusterName + " by WahaSession " + owner;
    if (w.status.message != msg) {
      ctx_.event(w.obj, kube::EventType::Warning, "DuplicateName", msg);
    }
    w.status.phase = api::SessionPhase::Failed;
    w.status.message = msg;
    condition(w, api::kConditionScheduled, false, "DuplicateName", msg);
    condition(w, api::kConditionReady, false, "DuplicateName", msg);
    auto st = writeStatus(w);
    return st.ok() ? Result<Action>(Action::awaitChange()) : Result<Action>(st.error());
  }

  if (w.status.worker.empty()) {
    if (!clusterObj) {
      std::string msg = "WahaCluster " + clusterName + " not found in namespace " + ns;
      w.status.phase = api::SessionPhase::Pending;
      w.status.message = msg;
      condition(w, api::kConditionScheduled, false, "ClusterNotFound", msg);
      condition(w, api::kConditionReady, false, "ClusterNotFound", msg);
      auto st = writeStatus(w);
      return st.ok() ? Result<Action>(Action::awaitChange()) : Result<Action>(st.error());
    }
    if (api::effectiveState(w.s.spec) == api::SessionState::Stopped) {
      w.status.phase = api::SessionPhase::Stopped;
      w.status.wahaStatus = "";
      w.status.message = "";
      condition(w, api::kConditionScheduled, false, "Stopped", "spec.state is Stopped");
      condition(w, api::kConditionReady, false, "Stopped", "spec.state is Stopped");
      auto st = writeStatus(w);
      return st.ok() ? Result<Action>(Action::awaitChange()) : Result<Action>(st.error());
    }
    return place(w, *clusterObj);
  }

  auto podObj = ctx_.caches.pods->get(kube::objectKey(ns, w.status.worker));
  if (!podObj) {
    // The pod is gone for good: whatever ran there is dead, so the session may start elsewhere.
    return releaseAssignment(w, "worker pod " + w.status.worker + " is gone", true);
  }
  return onWorker(w, clusterObj ? *clusterObj : Json(), workerPodFrom(*podObj));
}

bool SessionReconciler::duplicateOf(const Work& w, std::string& owner) const {
  const auto& ns = w.s.metadata.namespace_;
  auto mine = std::make_pair(w.s.metadata.creationTimestamp.value_or(""), w.s.metadata.name);
  // Only the sessions with the same WAHA name (an index): a scan of the whole cluster per
  // reconcile made a burst of N sessions cost O(N^2) parses.
  for (const auto& other : ctx_.caches.sessions->byIndex(
           kBySessionName, ns + "/" + w.s.spec.clusterRef.name + "/" + w.sessionName)) {
    auto o = api::parseSession(*other);
    if (!o.ok() || o->metadata.name == w.s.metadata.name) {
      continue;
    }
    api::applyDefaults(*o);
    if (api::effectiveSessionName(*o) != w.sessionName) {
      continue;
    }
    // The older object keeps the name; the later one is refused.
    auto theirs = std::make_pair(o->metadata.creationTimestamp.value_or(""), o->metadata.name);
    if (theirs < mine) {
      owner = o->metadata.name;
      return true;
    }
  }
  return false;
}

Result<Action> SessionReconciler::place(Work& w, const Json& clusterObj) {
  auto cluster = api::parseCluster(clusterObj);
  if (!cluster.ok()) {
    return cluster.error();
  }
  api::applyDefaults(*cluster);
  const std::string& ns = w.s.metadata.namespace_;
  const std::string clusterKey = kube::objectKey(ns, cluster->metadata.name);
  const int capacity = api::effectiveSessionsPerWorker(cluster->spec);
  auto strategy = toStrategy(api::effectivePlacementStrategy(cluster->spec));

  std::optional<WorkerPod> chosen;
  std::string reason;
  {
    std::lock_guard<std::mutex> lk(ctx_.claims.clusterLock(clusterKey));
    auto pods = clusterWorkers(*ctx_.caches.pods, ns, cluster->metadata.name);
    std::vector<placement::WorkerView> views;
    TimePoint now = ctx_.clock.now();
    for (const auto& p : pods) {
      std::string workerKey = kube::objectKey(ns, p.name);
      auto onThisWorker = [&](const std::string& sessionKey) {
        auto o = ctx_.caches.sessions->get(sessionKey);
        return o && o->value("/status/worker"_json_pointer, std::string()) == p.name;
      };
      // The ledger first, then the index: a claim the cache shows between the two reads is then
      // counted twice (a moment's over-count), never missed (which overfilled a worker).
      int inFlight = ctx_.claims.extraLoad(workerKey, onThisWorker, now, options_.claimTtl);
      int load =
          static_cast<int>(ctx_.caches.sessions->countByIndex(kByWorker, workerKey)) + inFlight;
      views.push_back({p.name, p.ready && !p.ip.empty(), p.terminating, capacity, load});
    }
    auto d = placement::choose(views, strategy);
    reason = d.reason;
    if (d.worker) {
      for (const auto& p : pods) {
        if (p.name == *d.worker) {
          chosen = p;
        }
      }
      ctx_.claims.add(kube::objectKey(ns, *d.worker), w.key, now);
    }
  }
  if (!chosen) {
    w.status.phase = api::SessionPhase::Pending;
    w.status.message = "waiting for a worker: " + reason;
    condition(w, api::kConditionScheduled, false, "NoCapacity", reason);
    condition(w, api::kConditionReady, false, "NoCapacity", reason);
    if (ctx_.enqueueCluster) {
      ctx_.enqueueCluster(clusterKey);  // scale up
    }
    auto st = writeStatus(w);
    if (!st.ok()) {
      return st.error();
    }
    return Action::requeueAfter(options_.pendingRecheck);
  }
  // The claim comes first; the API server's optimistic concurrency makes it exclusive.
  w.status.worker = chosen->name;
  w.status.workerIP = chosen->ip;
  w.status.node = chosen->node;
  w.status.epoch += 1;
  w.status.assignedAt = formatRfc3339(ctx_.clock.wallNow());
  w.status.phase = api::SessionPhase::Scheduled;
  w.status.wahaStatus = "";
  w.status.message = "";
  condition(w, api::kConditionScheduled, true, "Placed", "on " + chosen->name + ": " + reason);
  auto st = writeStatus(w);
  if (!st.ok()) {
    ctx_.claims.remove(kube::objectKey(ns, chosen->name), w.key);
    return st.error();
  }
  if (ctx_.metrics) {
    ctx_.metrics->placed();
  }
  log::info("session placed", {{"session", w.key},
                               {"worker", chosen->name},
                               {"epoch", std::to_string(w.status.epoch)},
                               {"reason", reason}});
  ctx_.event(w.obj, kube::EventType::Normal, "Placed",
             "placed on worker " + chosen->name + " (" + reason + ")");
  if (ctx_.enqueueCluster) {
    ctx_.enqueueCluster(clusterKey);
  }
  return Action::awaitChange();  // the claim's own update event brings the next step
}

Result<Action> SessionReconciler::finalize(Work& w) {
  const std::string& ns = w.s.metadata.namespace_;
  if (!hasFinalizer(w.s)) {
    return Action::awaitChange();
  }
  std::shared_ptr<const Json> podObj;
  if (!w.status.worker.empty()) {
    podObj = ctx_.caches.pods->get(kube::objectKey(ns, w.status.worker));
  }
  if (!podObj) {
    // Never placed, or its worker is gone: nothing runs anywhere.
    auto st = removeFinalizer(w);
    return st.ok() ? Result<Action>(Action::awaitChange()) : Result<Action>(st.error());
  }
  WorkerPod pod = workerPodFrom(*podObj);
  auto clusterObj = ctx_.caches.clusters->get(kube::objectKey(ns, w.s.spec.clusterRef.name));
  std::optional<std::string> key = clusterObj ? clusterApiKey(ctx_, *clusterObj) : std::nullopt;
  const char* kind =
      api::effectiveDeletionPolicy(w.s.spec) == api::DeletionPolicy::Logout ? "delete" : "stop";
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& op = ops_[w.key];
    if (op.inFlight) {
      return Action::requeueAfter(options_.opBackstop);
    }
    if (op.kind == kind && op.result && op.epoch == w.status.epoch) {
      bool ok = op.result->ok();
      std::string err = ok ? "" : op.result->error().str();
      op.result.reset();
      if (ok) {
        ops_.erase(w.key);
        applied_.erase(w.key);
        auto st = removeFinalizer(w);
        return st.ok() ? Result<Action>(Action::awaitChange()) : Result<Action>(st.error());
      }
      // Failed: retried with backoff until it works or the pod is gone (then the branch above).
      return Error::make(0, "WorkerError", "cleanup on " + pod.name + " failed: " + err, true);
    }
  }
  if (w.status.phase != api::SessionPhase::Terminating) {
    w.status.phase = api::SessionPhase::Terminating;
    w.status.message = std::string(kind == std::string("delete") ? "logging out and deleting"
                                                                 : "stopping (login kept)") +
                       " on " + pod.name;
    auto st = writeStatus(w);
    if (!st.ok()) {
      return st.error();
    }
  }
  if (pod.ip.empty() || !key) {
    return Action::requeueAfter(options_.notReadyRecheck);
  }
  wahaapi::Endpoint ep{workerBaseUrl(pod), *key};
  return runOp(w, kind, ep, pod);
}

void SessionReconciler::condition(Work& w, const char* type, bool ok, const std::string& reason,
                                  const std::string& message) {
  api::setCondition(w.status.conditions, type, ok ? api::kConditionTrue : api::kConditionFalse,
                    reason, message, w.s.metadata.generation, ctx_.clock.wallNow());
}

Status SessionReconciler::writeStatus(Work& w) {
  if (w.s.status && *w.s.status == w.status) {
    return {};  // nothing changed: no write
  }
  Json body = w.obj;
  body["status"] = w.status;
  auto r = ctx_.kube.update(kSessions, w.s.metadata.namespace_, body, "status");
  if (!r.ok()) {
    return r.error();
  }
  w.obj = *r;
  w.s.status = w.status;
  return {};
}

Status SessionReconciler::addFinalizer(const Work& w) {
  Json body = w.obj;
  if (!body["metadata"].contains("finalizers") || !body["metadata"]["finalizers"].is_array()) {
    body["metadata"]["finalizers"] = Json::array();
  }
  body["metadata"]["finalizers"].push_back(api::kSessionFinalizer);
  body.erase("status");
  auto r = ctx_.kube.update(kSessions, w.s.metadata.namespace_, body);
  return r.ok() ? Status{} : Status(r.error());
}

Status SessionReconciler::removeFinalizer(const Work& w) {
  Json body = w.obj;
  Json kept = Json::array();
  for (const auto& f : body["metadata"].value("finalizers", Json::array())) {
    if (f != api::kSessionFinalizer) {
      kept.push_back(f);
    }
  }
  body["metadata"]["finalizers"] = kept;
  body.erase("status");
  auto r = ctx_.kube.update(kSessions, w.s.metadata.namespace_, body);
  if (!r.ok() && r.error().code != 404) {
    return r.error();
  }
  log::info("session cleaned up", {{"session", w.key}});
  return {};
}

}  // namespace waha::controller
