#include <algorithm>
#include <set>

#include "common/log.h"
#include "workloads/controllers.h"
#include "workloads/objects.h"

namespace waha::sim::workloads {

Result<Action> ReplicaSetController::reconcile(const std::string& ns, const std::string& name) {
  auto rs = store_.get(kReplicaSets, ns, name);
  if (!rs.ok()) {
    return rs.error().code == 404 ? Result<Action>(Action{}) : Result<Action>(rs.error());
  }
  auto pods = store_.list(kPods, ns);
  if (!pods.ok()) {
    return pods.error();
  }
  std::string uid = strAt(*rs, "/metadata/uid");
  auto& known = sequences_[uid];
  std::map<std::string, uint64_t> live;
  std::vector<Json> active;
  for (auto& p : *pods) {
    Json ref = controllerOf(p);
    if (!ref.is_object() || ref.value("uid", "") != uid) {
      continue;
    }
    std::string podUid = strAt(p, "/metadata/uid");
    auto it = known.find(podUid);
    live[podUid] = it != known.end() ? it->second : nextSequence_++;
    if (isPodActive(p)) {
      active.push_back(std::move(p));
    }
  }
  known = std::move(live);
  if (!isTerminating(*rs)) {
    auto want = static_cast<size_t>(std::max<int64_t>(0, intAt(*rs, "/spec/replicas", 1)));
    if (active.size() < want) {
      if (auto s = createPods(*rs, static_cast<int64_t>(want - active.size()), active); !s.ok()) {
        return s.error();
      }
    } else if (active.size() > want) {
      if (auto s = deletePods(ns, static_cast<int64_t>(active.size() - want), active, known);
          !s.ok()) {
        return s.error();
      }
    }
  }
  return updateStatus(*rs, active);
}

Status ReplicaSetController::createPods(const Json& rs, int64_t count, std::vector<Json>& active) {
  std::string ns = strAt(rs, "/metadata/namespace");
  std::string rsName = strAt(rs, "/metadata/name");
  const Json& tmpl = rs["spec"]["template"];
  for (int64_t i = 0; i < count; ++i) {
    Json meta = {{"generateName", rsName + "-"},
                 {"namespace", ns},
                 {"ownerReferences", Json::array({controllerRef(rs, "apps/v1", "ReplicaSet")})}};
    for (const char* field : {"labels", "annotations"}) {
      if (tmpl.contains("metadata") && tmpl["metadata"].contains(field)) {
        meta[field] = tmpl["metadata"][field];
      }
    }
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", meta},
                {"spec", tmpl.value("spec", Json::object())}};
    // Named here rather than by generateName so the name has the familiar 5-character suffix
    // whatever the store generates; a clash just draws again.
    Result<Json> created = Error::make(409, "AlreadyExists", "");
    for (int attempt = 0; attempt < 5 && !created.ok() && created.error().code == 409; ++attempt) {
      pod["metadata"]["name"] = rsName + "-" + randomSuffix(random_);
      created = store_.create(kPods, ns, pod);
    }
    if (!created.ok()) {
      log::warn("replicaset: pod create failed",
                {{"replicaset", keyOf(ns, rsName)}, {"error", created.error().str()}});
      return created.error();
    }
    sequences_[strAt(rs, "/metadata/uid")][strAt(*created, "/metadata/uid")] = nextSequence_++;
    log::debug("replicaset: created pod", {{"pod", keyOf(*created)}});
    active.push_back(std::move(*created));
  }
  return {};
}

Status ReplicaSetController::deletePods(const std::string& ns, int64_t count,
                                        std::vector<Json>& active,
                                        std::map<std::string, uint64_t>& sequences) {
  sortForDeletion(active, [&](const Json& p) {
    auto it = sequences.find(strAt(p, "/metadata/uid"));
    return it != sequences.end() ? it->second : 0;
  });
  for (int64_t i = 0; i < count; ++i) {
    std::string name = strAt(active.front(), "/metadata/name");
    Status s = store_.remove(kPods, ns, name);
    if (!s.ok() && s.error().code != 404) {
      return s;
    }
    log::debug("replicaset: deleted pod", {{"pod", keyOf(ns, name)}});
    active.erase(active.begin());
  }
  return {};
}

Result<Action> ReplicaSetController::updateStatus(const Json& rs, const std::vector<Json>& active) {
  int64_t minReady = intAt(rs, "/spec/minReadySeconds", 0);
  WallTime now = clock_.wallNow();
  int64_t ready = 0;
  int64_t available = 0;
  Duration soonest = Duration::max();
  const Json templateLabels =
      rs["spec"]["template"].value("metadata", Json::object()).value("labels", Json::object());
  int64_t fullyLabeled = 0;
  for (const auto& p : active) {
    Duration wait = Duration::max();
    ready += isPodReady(p) ? 1 : 0;
    available += isPodAvailable(p, minReady, now, &wait) ? 1 : 0;
    soonest = std::min(soonest, wait);
    Json labels = p["metadata"].value("labels", Json::object());
    bool all =
        std::all_of(templateLabels.items().begin(), templateLabels.items().end(),
                    [&](const auto& kv) { return labels.value(kv.key(), Json()) == kv.value(); });
    fullyLabeled += all ? 1 : 0;
  }
  Json status = rs.value("status", Json::object());
  Json want = status;
  want["replicas"] = static_cast<int64_t>(active.size());
  want["fullyLabeledReplicas"] = fullyLabeled;
  want["readyReplicas"] = ready;
  want["availableReplicas"] = available;
  want["observedGeneration"] = intAt(rs, "/metadata/generation", 1);
  Action action;
  if (soonest != Duration::max()) {
    action.requeueAfter = soonest;
  }
  if (want == status) {
    return action;
  }
  Json obj = rs;
  obj["status"] = want;
  obj["metadata"].erase("resourceVersion");
  auto r = store_.update(kReplicaSets, strAt(rs, "/metadata/namespace"), obj, "status");
  if (!r.ok() && r.error().code != 404) {
    return r.error();
  }
  return action;
}

}  // namespace waha::sim::workloads
