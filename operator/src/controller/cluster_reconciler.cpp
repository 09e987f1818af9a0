#include "controller/cluster_reconciler.h"

#include <algorithm>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/validation.h"
#include "common/log.h"
#include "controller/kinds.h"
#include "controller/views.h"
#include "controller/worker_template.h"
#include "scaling/scaling.h"

namespace waha::controller {
namespace {

std::string templateHash(const Json& deployment) {
  const Json* cur = &deployment;
  for (const char* k : {"spec", "template", "metadata", "annotations", kTemplateHashAnnotation}) {
    if (!cur->is_object() || !cur->contains(k)) {
      return "";
    }
    cur = &(*cur)[k];
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

// A JSON merge patch turning `have` into `want` for a subtree the operator owns: keys `want`
// lacks are set to null (removed), lists are replaced whole. A strategic merge would keep an env
// var or a nodeSelector key the user removed from the WahaCluster.
Json ownedMergePatch(const Json& have, const Json& want) {
  if (!have.is_object() || !want.is_object()) {
    return want;
  }
  Json out = Json::object();
  for (const auto& [k, v] : have.items()) {
    if (!want.contains(k)) {
      out[k] = nullptr;
    }
  }
  for (const auto& [k, v] : want.items()) {
    out[k] = have.contains(k) ? ownedMergePatch(have[k], v) : v;
  }
  return out;
}

int intAt(const Json& obj, const char* a, const char* b) {
  if (obj.contains(a) && obj[a].is_object() && obj[a].contains(b) && obj[a][b].is_number()) {
    return obj[a][b].get<int>();
  }
  return 0;
}

}  // namespace

ClusterReconciler::ClusterReconciler(Context& ctx, ClusterReconcilerOptions options)
    : ctx_(ctx), options_(options) {}

Result<Action> ClusterReconciler::reconcile(const std::string& key) {
  auto obj = ctx_.caches.clusters->get(key);
  if (!obj) {
    return Action::awaitChange();  // its Deployment and PDB go with it (owner references)
  }
  auto parsed = api::parseCluster(*obj);
  if (!parsed.ok()) {
    log::error("cluster does not parse", {{"cluster", key}, {"error", parsed.error().message}});
    return Action::awaitChange();
  }
  api::WahaCluster c = std::move(*parsed);
  api::applyDefaults(c);
  api::WahaClusterStatus status = c.status.value_or(api::WahaClusterStatus{});
  const auto now = ctx_.clock.wallNow();
  const auto gen = c.metadata.generation;

  auto errors = api::validate(c);
  if (!errors.empty()) {
    std::string msg = api::formatErrors(errors);
    if (api::isConditionTrue(status.conditions, api::kConditionValid) ||
        !api::findCondition(status.conditions, api::kConditionValid)) {
      ctx_.event(*obj, kube::EventType::Warning, "InvalidSpec", msg);
    }
    api::setCondition(status.conditions, api::kConditionValid, api::kConditionFalse, "InvalidSpec",
                      msg, gen, now);
    api::setCondition(status.conditions, api::kConditionReady, api::kConditionFalse, "InvalidSpec",
                      msg, gen, now);
    auto st = writeStatus(*obj, c, status);
    return st.ok() ? Result<Action>(Action::awaitChange()) : Result<Action>(st.error());
  }
  api::setCondition(status.conditions, api::kConditionValid, api::kConditionTrue, "Valid", "", gen,
                    now);

  const auto& ns = c.metadata.namespace_;
  const int per = api::effectiveSessionsPerWorker(c.spec);
  // Index counts, not a walk over every session: this runs often during a burst.
  const std::string prefix = ns + "/" + c.metadata.name + "/";
  const int placed =
      static_cast<int>(ctx_.caches.sessions->countByIndex(kByDemand, prefix + "assigned"));
  const int waiting =
      static_cast<int>(ctx_.caches.sessions->countByIndex(kByDemand, prefix + "waiting"));
  const int demand = placed + waiting;
  auto decision = scaling::desiredReplicas(
      {demand, per, api::effectiveWorkersMin(c.spec), api::effectiveWorkersMax(c.spec)});
  auto st = ensureDeployment(c, *obj, decision.replicas, decision.reason);
  if (!st.ok()) {
    return st.error();
  }
  st = ensurePdb(c);
  if (!st.ok()) {
    return st.error();
  }
  auto nextDeadline = failStuckWorkers(c, *obj);

  auto pods = clusterWorkers(*ctx_.caches.pods, ns, c.metadata.name);
  status.observedGeneration = gen;
  status.replicas = decision.replicas;
  status.readyWorkers = 0;
  status.workers.clear();
  for (const auto& p : pods) {
    auto held = ctx_.caches.sessions->byIndex(kByWorker, kube::objectKey(ns, p.name));
    status.workers.push_back(
        {p.name, p.ip, p.ready, static_cast<std::int32_t>(held.size()), p.terminating});
    status.readyWorkers += (p.ready && !p.terminating) ? 1 : 0;
  }
  status.ready = std::to_string(status.readyWorkers) + "/" + std::to_string(status.replicas);
  status.sessions = placed;
  status.capacity = status.readyWorkers * per;

  bool allReady = status.readyWorkers >= status.replicas;
  api::setCondition(status.conditions, api::kConditionReady,
                    allReady ? api::kConditionTrue : api::kConditionFalse,
                    allReady ? "WorkersReady" : "WorkersNotReady", status.ready + " workers ready",
                    gen, now);
  auto dep =
      ctx_.caches.deployments->get(kube::objectKey(ns, workerDeploymentName(c.metadata.name)));
  bool progressing = !dep || intAt(*dep, "status", "updatedReplicas") < decision.replicas ||
                     intAt(*dep, "status", "readyReplicas") < decision.replicas ||
                     static_cast<int>(pods.size()) != decision.replicas;
  api::setCondition(status.conditions, "Progressing",
                    progressing ? api::kConditionTrue : api::kConditionFalse,
                    progressing ? "Scaling" : "Stable", decision.reason, gen, now);
  bool atMax = waiting > 0 && decision.replicas >= api::effectiveWorkersMax(c.spec) &&
               status.readyWorkers >= decision.replicas;
  api::setCondition(
      status.conditions, "Degraded", atMax ? api::kConditionTrue : api::kConditionFalse,
      atMax ? "AtMaxWorkers" : "AsExpected",
      atMax ? std::to_string(waiting) + " sessions wait: workers.max reached" : "", gen, now);
  st = writeStatus(*obj, c, status);
  if (!st.ok()) {
    return st.error();
  }
  Duration after = options_.resync;
  if (nextDeadline && *nextDeadline < after) {
    after = *nextDeadline;
  }
  return Action::requeueAfter(after);
}

Status ClusterReconciler::ensureDeployment(const api::WahaCluster& c, const Json& clusterObj,
                                           int replicas, const std::string& reason) {
  const auto& ns = c.metadata.namespace_;
  Json want = buildWorkerDeployment(c, replicas);
  auto have =
      ctx_.caches.deployments->get(kube::objectKey(ns, workerDeploymentName(c.metadata.name)));
  if (!have) {
    auto r = ctx_.kube.create(kDeployments, ns, want);
    if (!r.ok() && r.error().code != 409) {
      return r.error();
    }
    if (r.ok()) {
      ctx_.event(clusterObj, kube::EventType::Normal, "WorkersCreated",
                 "worker Deployment created with " + std::to_string(replicas) + " workers (" +
                     reason + ")");
    }
    return {};
  }
  int haveReplicas = intAt(*have, "spec", "replicas");
  bool templateChanged = templateHash(*have) != templateHash(want);
  if (haveReplicas == replicas && !templateChanged) {
    return {};
  }
  // A merge patch of the fields the operator builds. Labels and template annotations merge, so
  // what others add there (kubectl rollout restart's restartedAt) stays; the pod spec is the
  // operator's own, so what the WahaCluster no longer asks for is removed.
  Json patch = {{"metadata", {{"labels", want["metadata"]["labels"]}}},
                {"spec", {{"replicas", replicas}}}};
  if (templateChanged) {
    const Json& haveTemplate = (*have)["spec"].value("template", Json::object());
    patch["spec"]["template"] = {
        {"metadata", want["spec"]["template"]["metadata"]},
        {"spec", ownedMergePatch(haveTemplate.value("spec", Json::object()),
                                 want["spec"]["template"]["spec"])}};
    patch["spec"]["strategy"] = want["spec"]["strategy"];
  }
  auto r = ctx_.kube.patch(kDeployments, ns, workerDeploymentName(c.metadata.name),
                           kube::PatchType::Merge, patch.dump());
  if (!r.ok()) {
    return r.error();
  }
  if (haveReplicas != replicas) {
    log::info("scaling workers", {{"cluster", ns + "/" + c.metadata.name},
                                  {"from", std::to_string(haveReplicas)},
                                  {"to", std::to_string(replicas)},
                                  {"reason", reason}});
    ctx_.event(clusterObj, kube::EventType::Normal, "Scaled",
               "workers " + std::to_string(haveReplicas) + " -> " + std::to_string(replicas) +
                   ": " + reason);
  }
  if (templateChanged) {
    ctx_.event(clusterObj, kube::EventType::Normal, "RollingOut",
               "worker template changed; rolling out");
  }
  return {};
}

Status ClusterReconciler::ensurePdb(const api::WahaCluster& c) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (pdbEnsured_.count(c.metadata.uid) != 0) {
      return {};
    }
  }
  const auto& ns = c.metadata.namespace_;
  auto got = ctx_.kube.get(kPdbs, ns, workerDeploymentName(c.metadata.name));
  if (!got.ok() && got.error().code == 404) {
    auto r = ctx_.kube.create(kPdbs, ns, buildWorkerPdb(c));
    if (!r.ok() && r.error().code != 409) {
      return r.error();
    }
  } else if (!got.ok()) {
    return got.error();
  }
  std::lock_guard<std::mutex> lk(mu_);
  pdbEnsured_.insert(c.metadata.uid);
  return {};
}

std::optional<Duration> ClusterReconciler::failStuckWorkers(const api::WahaCluster& c,
                                                            const Json& clusterObj) {
  const auto& ns = c.metadata.namespace_;
  const auto timeout = std::chrono::seconds(api::effectiveNotReadyTimeoutSeconds(c.spec));
  const auto now = ctx_.clock.wallNow();
  std::optional<Duration> next;
  for (const auto& p : clusterWorkers(*ctx_.caches.pods, ns, c.metadata.name)) {
    if (p.ready || p.terminating || !p.readyChanged) {
      continue;
    }
    // Only workers that hold sessions matter: their sessions wait for this pod to be gone.
    if (ctx_.caches.sessions->byIndex(kByWorker, kube::objectKey(ns, p.name)).empty()) {
      continue;
    }
    auto notReadyFor = now - *p.readyChanged;
    if (notReadyFor < timeout) {
      Duration left = std::chrono::duration_cast<Duration>(timeout - notReadyFor) +
                      std::chrono::milliseconds(100);
      next = next ? std::min(*next, left) : left;
      continue;
    }
    // Fencing: the sessions start elsewhere only once this pod no longer exists.
    auto st = ctx_.kube.remove(kPods, ns, p.name);
    if (st.ok() && ctx_.metrics) {
      ctx_.metrics->failover();
    }
    if (st.ok() || st.error().code == 404) {
      log::warn("deleting NotReady worker",
                {{"pod", ns + "/" + p.name}, {"timeoutSeconds", std::to_string(timeout.count())}});
      ctx_.event(clusterObj, kube::EventType::Warning, "WorkerNotReady",
                 "deleting worker pod " + p.name + ": NotReady for more than " +
                     std::to_string(timeout.count()) + "s; its sessions will move");
    }
  }
  return next;
}

Status ClusterReconciler::writeStatus(const Json& clusterObj, const api::WahaCluster& c,
                                      const api::WahaClusterStatus& status) {
  if (c.status && *c.status == status) {
    return {};
  }
  Json body = clusterObj;
  body["status"] = status;
  auto r = ctx_.kube.update(kClusters, c.metadata.namespace_, body, "status");
  return r.ok() ? Status{} : Status(r.error());
}

}  // namespace waha::controller
