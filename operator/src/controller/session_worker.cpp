// SessionReconciler, the part that talks to the session's worker: start/update/stop calls run
// asynchronously (WAHA takes seconds for them), their outcome comes back through the work queue.

#include <algorithm>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"
#include "common/log.h"
#include "controller/session_reconciler.h"
#include "controller/worker_sync.h"

namespace waha::controller {
namespace {

bool isLive(const std::string& wahaStatus) {
  return wahaStatus == "STARTING" || wahaStatus == "SCAN_QR_CODE" || wahaStatus == "WORKING";
}

// WAHA's config with the values kept in Secrets filled in (they never sit in the resource).
Json effectiveConfig(const Context& ctx, const api::WahaSession& s) {
  Json config = s.spec.config.is_object() ? s.spec.config : Json::object();
  if (!s.spec.secretRefs || ctx.caches.secrets == nullptr) {
    return config;
  }
  const auto& ns = s.metadata.namespace_;
  if (const auto& ref = s.spec.secretRefs->proxyPassword) {
    if (auto v = secretValue(*ctx.caches.secrets, ns, ref->name, ref->key)) {
      config["proxy"]["password"] = *v;
    }
  }
  if (const auto& ref = s.spec.secretRefs->webhookHmacKey) {
    if (auto v = secretValue(*ctx.caches.secrets, ns, ref->name, ref->key)) {
      if (config.contains("webhooks") && config["webhooks"].is_array()) {
        for (auto& hook : config["webhooks"]) {
          hook["hmac"]["key"] = *v;
        }
      }
    }
  }
  return config;
}

std::size_t configHash(const Json& config) { return std::hash<std::string>{}(config.dump()); }

// A phone can use the session: linked and working, or waiting for its QR scan.
bool isUsable(const std::string& wahaStatus) {
  return wahaStatus == "WORKING" || wahaStatus == "SCAN_QR_CODE";
}

}  // namespace

api::SessionPhase phaseForWahaStatus(const std::string& st, bool wantRunning) {
  if (st == "WORKING" || st == "SCAN_QR_CODE") {
    return api::SessionPhase::Running;
  }
  if (st == "FAILED") {
    return api::SessionPhase::Failed;
  }
  if (st == "STOPPED" || st.empty()) {
    return wantRunning ? api::SessionPhase::Starting : api::SessionPhase::Stopped;
  }
  if (st == "STARTING") {
    return api::SessionPhase::Starting;
  }
  // PASSKEY_REQUIRED and whatever newer releases add: up, but not working.
  return api::SessionPhase::Running;
}

Result<Action> SessionReconciler::onWorker(Work& w, const Json& clusterObj, const WorkerPod& pod) {
  const std::string& ns = w.s.metadata.namespace_;
  std::optional<std::string> key =
      clusterObj.is_object() ? clusterApiKey(ctx_, clusterObj) : std::nullopt;
  std::optional<wahaapi::Endpoint> ep;
  if (key && !pod.ip.empty()) {
    ep = wahaapi::Endpoint{workerBaseUrl(pod), *key};
  }

  if (pod.terminating) {
    // Its sessions move. Fence first: stopped there (answered), or the pod gone for good.
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto it = ops_.find(w.key);
      if (it != ops_.end() && it->second.kind == "fence" && it->second.result &&
          it->second.epoch == w.status.epoch) {
        bool ok = it->second.result->ok();
        it->second.result.reset();
        if (ok) {
          return releaseAssignment(w, "stopped on terminating worker " + pod.name, false);
        }
      }
    }
    if (w.status.phase != api::SessionPhase::Migrating) {
      w.status.phase = api::SessionPhase::Migrating;
      w.status.message = "worker " + pod.name + " is terminating; stopping the session there";
      auto st = writeStatus(w);
      if (!st.ok()) {
        return st.error();
      }
    }
    if (!ep || !pod.ready) {
      return Action::requeueAfter(options_.notReadyRecheck);  // wait for the pod to be gone
    }
    auto a = runOp(w, "fence", *ep, pod);
    return a.ok() ? Result<Action>(Action::requeueAfter(options_.notReadyRecheck)) : a;
  }

  if (!pod.ready || pod.ip.empty()) {
    std::string msg = "worker pod " + pod.name + " is not ready";
    condition(w, api::kConditionReady, false, "WorkerUnreachable", msg);
    w.status.message = msg;
    auto st = writeStatus(w);
    if (!st.ok()) {
      return st.error();
    }
    return Action::requeueAfter(options_.notReadyRecheck);
  }
  if (!ep) {
    std::string msg =
        "the worker API key Secret of cluster " + w.s.spec.clusterRef.name + " is missing";
    condition(w, api::kConditionReady, false, "WorkerError", msg);
    w.status.message = msg;
    auto st = writeStatus(w);
    if (!st.ok()) {
      return st.error();
    }
    return Action::requeueAfter(std::chrono::seconds(30));
  }

  const bool wantRunning = api::effectiveState(w.s.spec) == api::SessionState::Running;
  std::optional<Error> failed;
  std::optional<Error> lastError;
  int failures = 0;
  Applied applied;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& op = ops_[w.key];
    if (op.inFlight) {
      return Action::requeueAfter(options_.opBackstop);
    }
    if (op.result) {
      if (!op.result->ok()) {
        failed = op.result->error();
      }
      op.result.reset();
    }
    lastError = op.lastError;
    failures = op.failures;
    auto& a = applied_[w.key];
    if (a.epoch != w.status.epoch) {
      a = Applied{w.status.epoch, false, w.status.observedGeneration, std::nullopt, {}};
    }
    applied = a;
  }

  auto report = ctx_.sync.report(kube::objectKey(ns, pod.name));
  const wahaapi::SessionInfo* info = nullptr;
  if (report && report->ok) {
    auto it = report->sessions.find(w.sessionName);
    if (it != report->sessions.end()) {
      info = &it->second;
    }
  }
  const bool reportFresh = report && report->ok && report->at > applied.at;

  mirror(w, pod, wantRunning);
  if (lastError) {
    // Shown until a call succeeds, so the reason does not flicker between retries.
    std::string msg = lastError->str() + " (attempt " + std::to_string(failures) + ")";
    condition(w, api::kConditionReady, false, "WorkerError", msg);
    w.status.message = msg;
  }
  if (failed) {
    auto st = writeStatus(w);
    if (!st.ok()) {
      return st.error();
    }
    return *failed;  // retried with backoff by the runner
  }

  std::string next;
  if (wantRunning) {
    if (!applied.started && info && isLive(info->status)) {
      // Already running there (an operator restart): adopt it instead of starting again.
      std::lock_guard<std::mutex> lk(mu_);
      applied_[w.key].started = true;
      applied.started = true;
    }
    if (applied.started && reportFresh && (!info || info->status == "STOPPED")) {
      applied.started = false;  // the worker lost it (restart without resume) or it stopped
    }
    if (!applied.started) {
      next = "start";
    } else if (applied.generation != w.s.metadata.generation) {
      next = configUnchanged(w, applied) ? "" : "update";
    }
  } else if (applied.started || (info && isLive(info->status) && reportFresh)) {
    // A report older than our last call may still show the session live: trust only a newer one.
    next = "stop";
  }
  auto st = writeStatus(w);
  if (!st.ok()) {
    return st.error();
  }
  if (!next.empty()) {
    return runOp(w, next, *ep, pod);
  }
  if (report && report->at <= applied.at) {
    // A call finished after the worker's last report. The sync enqueues us only when a report
    // shows a change, and a poll that raced the call may already have shown it (then dismissed
    // above as older than the call): look again once the poll the call asked for is in.
    return Action::requeueAfter(std::chrono::seconds(1));
  }
  // Nothing to do until WAHA's status changes (the worker sync enqueues us) or the spec does.
  return Action::awaitChange();
}

// A new generation whose effective config is what the worker already has (a stop and a start
// change spec.state alone) is taken as applied: WAHA restarts a session on every update.
bool SessionReconciler::configUnchanged(Work& w, const Applied& applied) {
  if (!applied.configHash || *applied.configHash != configHash(effectiveConfig(ctx_, w.s))) {
    return false;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& a = applied_[w.key];
    if (a.epoch == applied.epoch) {
      a.generation = w.s.metadata.generation;
    }
  }
  w.status.observedGeneration = w.s.metadata.generation;
  return true;
}

void SessionReconciler::observeReady(const Work& w) {
  WallTime created;
  // Only the first placement: after a move, creation-to-ready would measure the session's age.
  if (!ctx_.metrics || w.status.epoch > 1 || !w.s.metadata.creationTimestamp ||
      !parseRfc3339(*w.s.metadata.creationTimestamp, created)) {
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& seen = readyObserved_[w.key];
    if (seen == w.s.metadata.uid) {
      return;  // measured once: later restarts and moves are not "creation to ready"
    }
    seen = w.s.metadata.uid;
  }
  std::chrono::duration<double> took = ctx_.clock.wallNow() - created;
  ctx_.metrics->sessionReady(std::max(0.0, took.count()));
}

void SessionReconciler::mirror(Work& w, const WorkerPod& pod, bool wantRunning) {
  const std::string before = w.status.wahaStatus;
  auto report = ctx_.sync.report(kube::objectKey(w.s.metadata.namespace_, pod.name));
  Applied applied;
  {
    std::lock_guard<std::mutex> lk(mu_);
    applied = applied_[w.key];
  }
  if (report && report->ok) {
    auto it = report->sessions.find(w.sessionName);
    if (it != report->sessions.end() && report->at >= applied.at) {
      w.status.wahaStatus = it->second.status;
      if (it->second.me && !it->second.me->id.empty()) {
        w.status.me = api::MeInfo{it->second.me->id, it->second.me->pushName};
      } else {
        w.status.me.reset();
      }
    } else if (applied.started && w.status.wahaStatus.empty()) {
      w.status.wahaStatus = "STARTING";
    }
  } else if (applied.started && w.status.wahaStatus.empty()) {
    w.status.wahaStatus = "STARTING";
  }
  if (applied.started || !wantRunning) {
    w.status.observedGeneration = applied.generation;
  }
  const std::string& st = w.status.wahaStatus;
  if (!isUsable(before) && isUsable(st)) {
    observeReady(w);
  }
  w.status.phase = phaseForWahaStatus(st, wantRunning);
  w.status.message = "";
  if (report && !report->ok && report->consecutiveFailures >= 3) {
    condition(w, api::kConditionReady, false, "WorkerUnreachable", report->error);
    return;
  }
  if (st == "WORKING") {
    condition(w, api::kConditionReady, true, "Working", "WhatsApp session is working");
  } else if (st == "SCAN_QR_CODE") {
    condition(w, api::kConditionReady, false, "ScanQRCode",
              "link a phone: GET /api/" + w.sessionName + "/auth/qr");
  } else if (st == "FAILED") {
    condition(w, api::kConditionReady, false, "WahaFailed", "WAHA reports FAILED");
  } else if (!wantRunning) {
    condition(w, api::kConditionReady, false, "Stopped", "spec.state is Stopped");
  } else {
    condition(w, api::kConditionReady, false, st.empty() ? "Starting" : st,
              "WAHA status " + (st.empty() ? std::string("unknown yet") : st));
  }
}

Result<Action> SessionReconciler::runOp(Work& w, const std::string& kind,
                                        const wahaapi::Endpoint& ep, const WorkerPod& pod) {
  const std::int64_t epoch = w.status.epoch;
  const std::int64_t generation = w.s.metadata.generation;
  const std::int64_t knownGeneration = w.status.observedGeneration;
  const std::string key = w.key;
  const std::string workerKey = kube::objectKey(w.s.metadata.namespace_, pod.name);
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& op = ops_[key];
    if (op.inFlight) {
      return Action::requeueAfter(options_.opBackstop);
    }
    TimePoint now = ctx_.clock.now();
    if (op.failures > 0 && now < op.retryAt) {
      return Action::requeueAfter(op.retryAt - now);  // backing off after a failed call
    }
    op.kind = kind;
    op.epoch = epoch;
    op.inFlight = true;
    op.started = now;
    op.result.reset();
  }
  log::info(
      "worker call",
      {{"session", key}, {"worker", pod.name}, {"op", kind}, {"epoch", std::to_string(epoch)}});
  // Runs on a WAHA client thread: record the outcome, then let the queue bring the key back.
  // `config`: the hash of the config the call gave the worker (create, update), if it did.
  auto finish = [this, key, workerKey, kind, epoch](Status st, bool started, std::int64_t gen,
                                                    std::optional<std::size_t> config) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto& op = ops_[key];
      op.inFlight = false;
      op.result = st;
      if (st.ok()) {
        op.lastError.reset();
        op.failures = 0;
      } else {
        op.lastError = st.error();
        op.failures += 1;
        auto delay = std::chrono::seconds(1) * (1 << std::min(op.failures - 1, 7));
        op.retryAt = ctx_.clock.now() + std::min<Duration>(delay, std::chrono::minutes(2));
      }
      auto& a = applied_[key];
      if (st.ok() && a.epoch == epoch) {
        a.started = started;
        if (gen >= 0) {
          a.generation = gen;
        }
        if (config) {
          a.configHash = config;
        }
        a.at = ctx_.clock.now();
      }
    }
    if (!st.ok()) {
      log::warn("worker call failed",
                {{"session", key}, {"op", kind}, {"error", st.error().str()}});
    }
    ctx_.sync.pokeSoon(workerKey);
    if (ctx_.enqueueSession) {
      ctx_.enqueueSession(key);
    }
  };
  const std::string name = w.sessionName;
  if (kind == "start") {
    Json config = effectiveConfig(ctx_, w.s);
    const std::size_t hash = configHash(config);
    ctx_.waha.create(ep, name, config, true,
                     [this, ep, name, finish, generation, knownGeneration,
                      hash](Result<wahaapi::CreateOutcome> r) {
                       if (!r.ok()) {
                         return finish(r.error(), false, -1, std::nullopt);
                       }
                       if (*r == wahaapi::CreateOutcome::Created) {
                         return finish({}, true, generation, hash);
                       }
                       // It existed (with the config last applied): make sure it runs.
                       ctx_.waha.start(ep, name, [finish, knownGeneration](Status s) {
                         finish(s, true, knownGeneration, std::nullopt);
                       });
                     });
  } else if (kind == "update") {
    Json config = effectiveConfig(ctx_, w.s);
    const std::size_t hash = configHash(config);
    ctx_.waha.update(ep, name, config,
                     [finish, generation, hash](Status s) { finish(s, true, generation, hash); });
  } else if (kind == "stop" || kind == "fence") {
    ctx_.waha.stop(ep, name, [finish](Status s) {
      // Not there at all is as stopped as it gets.
      if (!s.ok() && s.error().code == 404) {
        s = Status{};
      }
      finish(s, false, -1, std::nullopt);
    });
  } else if (kind == "delete") {
    ctx_.waha.remove(ep, name, [finish](Status s) { finish(s, false, -1, std::nullopt); });
  }
  return Action::requeueAfter(options_.opBackstop);
}

Result<Action> SessionReconciler::releaseAssignment(Work& w, const std::string& why, bool podGone) {
  const std::string& ns = w.s.metadata.namespace_;
  auto clusterObj = ctx_.caches.clusters->get(kube::objectKey(ns, w.s.spec.clusterRef.name));
  bool local = true;
  if (clusterObj) {
    auto c = api::parseCluster(*clusterObj);
    local = !c.ok() || api::effectiveStorageType(c->spec) == api::StorageType::Local;
  }
  std::string msg = "moving from " + w.status.worker + ": " + why;
  if (local) {
    msg += "; with Local session storage the phone must scan a new QR code on the new worker";
  }
  log::info("session released", {{"session", w.key},
                                 {"worker", w.status.worker},
                                 {"reason", why},
                                 {"podGone", podGone ? "true" : "false"}});
  ctx_.event(w.obj, kube::EventType::Warning, podGone ? "Failover" : "Migrating", msg);
  {
    std::lock_guard<std::mutex> lk(mu_);
    applied_.erase(w.key);
    ops_.erase(w.key);
  }
  w.status.worker.clear();
  w.status.workerIP.clear();
  w.status.node.clear();
  w.status.wahaStatus.clear();
  w.status.me.reset();
  w.status.phase = api::SessionPhase::Migrating;
  w.status.message = msg;
  condition(w, api::kConditionScheduled, false, "Migrating", msg);
  condition(w, api::kConditionReady, false, "Migrating", msg);
  auto st = writeStatus(w);
  if (!st.ok()) {
    return st.error();
  }
  if (ctx_.metrics) {
    ctx_.metrics->migrated(podGone ? metrics::kMigrationWorkerGone
                                   : metrics::kMigrationWorkerTerminating);
  }
  return Action::awaitChange();
}

}  // namespace waha::controller
