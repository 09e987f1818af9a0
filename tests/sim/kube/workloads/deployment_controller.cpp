#include <algorithm>

#include "common/log.h"
#include "workloads/controllers.h"
#include "workloads/objects.h"

namespace waha::sim::workloads {
namespace {

constexpr const char* kRevision = "deployment.kubernetes.io/revision";

int64_t specReplicas(const Json& obj) {
  return std::max<int64_t>(0, intAt(obj, "/spec/replicas", 1));
}

int64_t revisionOf(const Json& rs) {
  std::string v = strAt(rs, "/metadata/annotations/deployment.kubernetes.io~1revision", "0");
  return std::strtoll(v.c_str(), nullptr, 10);
}

// An RS's available pods, never more than it is asked to keep: right after a scale-down its
// status still counts the pods being removed, and trusting that would overshoot maxUnavailable.
int64_t availableOf(const Json& rs) {
  return std::min(intAt(rs, "/status/availableReplicas", 0), specReplicas(rs));
}

// The RS controller has not yet looked at the RS's latest spec: its status is stale.
bool statusStale(const Json& rs) {
  return intAt(rs, "/status/observedGeneration", 0) < intAt(rs, "/metadata/generation", 1);
}

struct Limits {
  int64_t maxSurge;
  int64_t maxUnavailable;
};

Limits rollingLimits(const Json& d) {
  int64_t desired = specReplicas(d);
  Json ru = d["spec"].value("strategy", Json::object()).value("rollingUpdate", Json::object());
  Json pct = "25%";
  Limits l{resolveIntOrPercent(ru.value("maxSurge", pct), desired, true, 0),
           resolveIntOrPercent(ru.value("maxUnavailable", pct), desired, false, 0)};
  if (l.maxSurge == 0 && l.maxUnavailable == 0) {
    l.maxUnavailable = 1;  // as the real controller: a rollout must be able to make progress
  }
  return l;
}

Json condition(const std::string& type, bool ok, const std::string& reason, const std::string& msg,
               const Json& previous, const std::string& now) {
  Json c = {{"type", type},   {"status", ok ? "True" : "False"}, {"reason", reason},
            {"message", msg}, {"lastUpdateTime", now},           {"lastTransitionTime", now}};
  if (previous.is_object() && previous.value("status", "") == c["status"]) {
    c["lastTransitionTime"] = previous.value("lastTransitionTime", now);
    if (previous.value("reason", "") == reason) {
      c["lastUpdateTime"] = previous.value("lastUpdateTime", now);
    }
  }
  return c;
}

}  // namespace

Result<Action> DeploymentController::reconcile(const std::string& ns, const std::string& name) {
  auto d = store_.get(kDeployments, ns, name);
  if (!d.ok()) {
    return d.error().code == 404 ? Result<Action>(Action{}) : Result<Action>(d.error());
  }
  if (isTerminating(*d)) {
    return Action{};
  }
  auto rsList = store_.list(kReplicaSets, ns);
  if (!rsList.ok()) {
    return rsList.error();
  }
  std::string uid = strAt(*d, "/metadata/uid");
  const Json tmpl = withoutHashLabel(d->at("spec").value("template", Json::object()));
  Json newRs;
  std::vector<Json> olds;
  int64_t maxRevision = 0;
  for (auto& rs : *rsList) {
    Json ref = controllerOf(rs);
    if (!ref.is_object() || ref.value("uid", "") != uid || isTerminating(rs)) {
      continue;
    }
    if (newRs.is_null() && withoutHashLabel(rs["spec"]["template"]) == tmpl) {
      newRs = std::move(rs);
    } else {
      maxRevision = std::max(maxRevision, revisionOf(rs));
      olds.push_back(std::move(rs));
    }
  }
  // Oldest first: rolling updates drain the oldest revision first.
  std::sort(olds.begin(), olds.end(), [](const Json& a, const Json& b) {
    return std::make_pair(revisionOf(a), strAt(a, "/metadata/name")) <
           std::make_pair(revisionOf(b), strAt(b, "/metadata/name"));
  });
  bool recreateStrategy = strAt(*d, "/spec/strategy/type", "RollingUpdate") == "Recreate";
  bool paused = d->at("spec").value("paused", false);
  if (newRs.is_null() && !paused) {
    int64_t initial = 0;
    if (!recreateStrategy) {
      // A first rollout has nothing to keep available: start at the full count at once.
      bool anyOld = std::any_of(olds.begin(), olds.end(),
                                [](const Json& rs) { return specReplicas(rs) > 0; });
      initial = anyOld ? 0 : specReplicas(*d);
    }
    auto created = createReplicaSet(*d, initial, maxRevision + 1);
    if (!created.ok()) {
      return created.error();
    }
    newRs = std::move(*created);
  } else if (!newRs.is_null() && revisionOf(newRs) <= maxRevision) {
    // A rollback to an older template makes that RS the newest revision again.
    newRs["metadata"]["annotations"][kRevision] = std::to_string(maxRevision + 1);
    auto r = store_.update(kReplicaSets, ns, newRs);
    if (!r.ok()) {
      return r.error();
    }
    newRs = std::move(*r);
  }
  if (!newRs.is_null() && !paused) {
    Status s = recreateStrategy ? recreate(*d, newRs, olds) : rollingUpdate(*d, newRs, olds);
    if (!s.ok()) {
      return s.error();
    }
    if (auto c = cleanupHistory(*d, olds); !c.ok()) {
      return c.error();
    }
  }
  std::vector<Json> all = olds;
  if (!newRs.is_null()) {
    all.push_back(newRs);
  }
  if (auto s = updateStatus(*d, newRs, all); !s.ok()) {
    return s.error();
  }
  Action action;
  if (requeue_) {
    action.requeueAfter = std::chrono::milliseconds(50);
    requeue_ = false;
  }
  return action;
}

Result<Json> DeploymentController::createReplicaSet(const Json& d, int64_t replicas,
                                                    int64_t revision) {
  Json tmpl = d["spec"]["template"];
  std::string hash = podTemplateHash(tmpl, intAt(d, "/status/collisionCount", 0));
  tmpl["metadata"]["labels"]["pod-template-hash"] = hash;
  Json selector = d["spec"].value("selector", Json::object());
  selector["matchLabels"]["pod-template-hash"] = hash;
  Json labels =
      d["spec"]["template"].value("metadata", Json::object()).value("labels", Json::object());
  labels["pod-template-hash"] = hash;
  std::string name = strAt(d, "/metadata/name") + "-" + hash;
  Json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata",
              {{"name", name},
               {"namespace", strAt(d, "/metadata/namespace")},
               {"labels", labels},
               {"annotations",
                {{kRevision, std::to_string(revision)},
                 {"deployment.kubernetes.io/desired-replicas", std::to_string(specReplicas(d))},
                 {"deployment.kubernetes.io/max-replicas",
                  std::to_string(specReplicas(d) + rollingLimits(d).maxSurge)}}},
               {"ownerReferences", Json::array({controllerRef(d, "apps/v1", "Deployment")})}}},
             {"spec",
              {{"replicas", replicas},
               {"minReadySeconds", intAt(d, "/spec/minReadySeconds", 0)},
               {"selector", selector},
               {"template", tmpl}}}};
  auto created = store_.create(kReplicaSets, strAt(d, "/metadata/namespace"), rs);
  if (created.ok()) {
    log::info(
        "deployment: created replicaset",
        {{"deployment", keyOf(d)}, {"replicaset", name}, {"replicas", std::to_string(replicas)}});
  }
  return created;
}

Result<Json> DeploymentController::scaleReplicaSet(Json rs, int64_t replicas, const Json& d) {
  if (specReplicas(rs) == replicas) {
    return rs;
  }
  log::debug("deployment: scaling replicaset", {{"replicaset", keyOf(rs)},
                                                {"from", std::to_string(specReplicas(rs))},
                                                {"to", std::to_string(replicas)}});
  rs["spec"]["replicas"] = replicas;
  rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
      std::to_string(specReplicas(d));
  return store_.update(kReplicaSets, strAt(rs, "/metadata/namespace"), rs);
}

// The real controller's rolling update: grow the new RS while the total stays within
// replicas+maxSurge, shrink old RSs while availability stays at or above replicas-maxUnavailable.
Status DeploymentController::rollingUpdate(const Json& d, Json& newRs, std::vector<Json>& olds) {
  int64_t desired = specReplicas(d);
  Limits lim = rollingLimits(d);
  int64_t oldCount = 0;
  for (const auto& rs : olds) {
    oldCount += specReplicas(rs);
  }
  int64_t target = specReplicas(newRs);
  if (oldCount == 0 || target > desired) {
    target = desired;  // plain scaling, or a rollout finished
  } else {
    int64_t room = desired + lim.maxSurge - (oldCount + specReplicas(newRs));
    target += std::max<int64_t>(0, std::min(room, desired - specReplicas(newRs)));
  }
  auto scaled = scaleReplicaSet(newRs, target, d);
  if (!scaled.ok()) {
    return scaled.error();
  }
  newRs = std::move(*scaled);
  if (oldCount == 0 || statusStale(newRs) ||
      std::any_of(olds.begin(), olds.end(), [](const Json& rs) { return statusStale(rs); })) {
    return {};  // decide scale-downs on fresh availability only (the RS events bring us back)
  }
  int64_t minAvailable = desired - lim.maxUnavailable;
  int64_t newUnavailable = specReplicas(newRs) - availableOf(newRs);
  int64_t maxScaledDown = oldCount + specReplicas(newRs) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) {
    return {};
  }
  // First old pods that are not available anyway: removing them costs no availability.
  for (auto& rs : olds) {
    int64_t unhealthy = specReplicas(rs) - availableOf(rs);
    if (maxScaledDown <= 0 || unhealthy <= 0) {
      continue;
    }
    int64_t n = std::min(maxScaledDown, unhealthy);
    auto r = scaleReplicaSet(rs, specReplicas(rs) - n, d);
    if (!r.ok()) {
      return r.error();
    }
    rs = std::move(*r);
    maxScaledDown -= n;
  }
  int64_t availableNow = availableOf(newRs);
  for (const auto& rs : olds) {
    availableNow += availableOf(rs);
  }
  int64_t budget = std::min(availableNow - minAvailable, maxScaledDown);
  for (auto& rs : olds) {
    if (budget <= 0) {
      break;
    }
    int64_t n = std::min(specReplicas(rs), budget);
    if (n == 0) {
      continue;
    }
    auto r = scaleReplicaSet(rs, specReplicas(rs) - n, d);
    if (!r.ok()) {
      return r.error();
    }
    rs = std::move(*r);
    budget -= n;
  }
  return {};
}

// Recreate: every old pod is gone before the first new one is created.
Status DeploymentController::recreate(const Json& d, Json& newRs, std::vector<Json>& olds) {
  bool oldPodsLeft = false;
  for (auto& rs : olds) {
    auto r = scaleReplicaSet(rs, 0, d);
    if (!r.ok()) {
      return r.error();
    }
    rs = std::move(*r);
    oldPodsLeft = oldPodsLeft || statusStale(rs) || intAt(rs, "/status/replicas", 0) > 0;
  }
  if (!oldPodsLeft) {
    // Like the real controller: terminating old pods still count until they have stopped.
    auto pods = store_.list(kPods, strAt(d, "/metadata/namespace"));
    if (!pods.ok()) {
      return pods.error();
    }
    for (const auto& p : *pods) {
      Json ref = controllerOf(p);
      std::string phase = strAt(p, "/status/phase");
      bool old = ref.is_object() && std::any_of(olds.begin(), olds.end(), [&](const Json& rs) {
                   return strAt(rs, "/metadata/uid") == ref.value("uid", "");
                 });
      oldPodsLeft = oldPodsLeft || (old && phase != "Succeeded" && phase != "Failed");
    }
    // Pod events reach only the ReplicaSets: look again shortly.
    requeue_ = oldPodsLeft;
  }
  if (oldPodsLeft) {
    return {};
  }
  auto r = scaleReplicaSet(newRs, specReplicas(d), d);
  if (!r.ok()) {
    return r.error();
  }
  newRs = std::move(*r);
  return {};
}

// revisionHistoryLimit: old, fully scaled-down ReplicaSets beyond the limit are deleted.
Status DeploymentController::cleanupHistory(const Json& d, const std::vector<Json>& olds) {
  int64_t limit = intAt(d, "/spec/revisionHistoryLimit", 10);
  std::vector<const Json*> idle;
  for (const auto& rs : olds) {
    if (specReplicas(rs) == 0 && intAt(rs, "/status/replicas", 0) == 0 && !statusStale(rs)) {
      idle.push_back(&rs);
    }
  }
  for (size_t i = 0; static_cast<int64_t>(idle.size() - i) > limit; ++i) {
    Status s = store_.remove(kReplicaSets, strAt(*idle[i], "/metadata/namespace"),
                             strAt(*idle[i], "/metadata/name"));
    if (!s.ok() && s.error().code != 404) {
      return s;
    }
  }
  return {};
}

Status DeploymentController::updateStatus(const Json& d, const Json& newRs,
                                          const std::vector<Json>& all) {
  int64_t desired = specReplicas(d);
  int64_t replicas = 0, ready = 0, available = 0, wanted = 0;
  for (const auto& rs : all) {
    wanted += specReplicas(rs);
    replicas += intAt(rs, "/status/replicas", 0);
    ready += intAt(rs, "/status/readyReplicas", 0);
    available += intAt(rs, "/status/availableReplicas", 0);
  }
  int64_t updated = newRs.is_null() ? 0 : intAt(newRs, "/status/replicas", 0);
  Json old = d.value("status", Json::object());
  Json prevAvailable, prevProgressing;
  for (const auto& c : old.value("conditions", Json::array())) {
    if (c.value("type", "") == "Available") {
      prevAvailable = c;
    } else if (c.value("type", "") == "Progressing") {
      prevProgressing = c;
    }
  }
  std::string now = formatRfc3339(clock_.wallNow());
  // As the real controller: only a RollingUpdate tolerates unavailable pods.
  bool rolling = strAt(d, "/spec/strategy/type", "RollingUpdate") == "RollingUpdate";
  bool minAvailable =
      available >= desired - (rolling && desired > 0 ? rollingLimits(d).maxUnavailable : 0);
  bool complete = updated == desired && replicas == desired && available == desired &&
                  !newRs.is_null() && intAt(newRs, "/status/availableReplicas", 0) == desired;
  std::string rsName = newRs.is_null() ? "" : strAt(newRs, "/metadata/name");
  Json status = old;
  status["observedGeneration"] = intAt(d, "/metadata/generation", 1);
  status["replicas"] = replicas;
  status["updatedReplicas"] = updated;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["unavailableReplicas"] = std::max<int64_t>(0, wanted - available);
  status["conditions"] = Json::array(
      {condition("Available", minAvailable,
                 minAvailable ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                 minAvailable ? "Deployment has minimum availability."
                              : "Deployment does not have minimum availability.",
                 prevAvailable, now),
       condition("Progressing", true, complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                 complete ? "ReplicaSet \"" + rsName + "\" has successfully progressed."
                          : "ReplicaSet \"" + rsName + "\" is progressing.",
                 prevProgressing, now)});
  if (status == old) {
    return {};
  }
  Json obj = d;
  obj["status"] = status;
  obj["metadata"].erase("resourceVersion");
  auto r = store_.update(kDeployments, strAt(d, "/metadata/namespace"), obj, "status");
  if (!r.ok() && r.error().code != 404) {
    return r.error();
  }
  return {};
}

}  // namespace waha::sim::workloads
