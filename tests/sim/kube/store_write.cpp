// MemoryStore's write paths: create/update/delete with the apiserver's metadata rules, finalizers,
// owner-reference garbage collection, CRD and namespace cascades, and event fan-out.

#include <algorithm>

#include "errors.h"
#include "memory_store.h"

namespace waha::sim {

namespace {

std::string objKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

const char* kForeground = "foregroundDeletion";

// True when anything but metadata and status differs (what bumps metadata.generation). Compares in
// place: copying whole objects on every write would dominate the write path.
bool specChanged(const Json& a, const Json& b) {
  auto counted = [](const Json& o) {
    size_t n = o.size();
    n -= o.contains("metadata") ? 1 : 0;
    n -= o.contains("status") ? 1 : 0;
    return n;
  };
  if (counted(a) != counted(b)) {
    return true;
  }
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "metadata" || it.key() == "status") {
      continue;
    }
    auto other = b.find(it.key());
    if (other == b.end() || *other != it.value()) {
      return true;
    }
  }
  return false;
}

bool hasFinalizers(const Json& obj) {
  const Json& m = obj["metadata"];
  return m.contains("finalizers") && m["finalizers"].is_array() && !m["finalizers"].empty();
}

Error conflict(const ResourceInfo& info, const std::string& name) {
  setErrorDetails({{"name", name}, {"group", info.gvr.group}, {"kind", info.gvr.resource}});
  return Error::make(
      409, "Conflict",
      "Operation cannot be fulfilled on " + qualifiedResource(info) + " \"" + name +
          "\": the object has been modified; please apply your changes to the latest "
          "version and try again");
}

// Built-in defaults kubectl output and the simulated controllers rely on.
void defaultBuiltin(const ResourceInfo& info, Json& obj) {
  const std::string& res = info.gvr.resource;
  if (res == "deployments" || res == "replicasets") {
    Json& spec = obj["spec"];
    if (!spec.contains("replicas")) {
      spec["replicas"] = 1;
    }
    if (res == "deployments") {
      if (!spec.contains("strategy")) {
        spec["strategy"] = {{"type", "RollingUpdate"},
                            {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}};
      }
      if (!spec.contains("revisionHistoryLimit")) {
        spec["revisionHistoryLimit"] = 10;
      }
      if (!spec.contains("progressDeadlineSeconds")) {
        spec["progressDeadlineSeconds"] = 600;
      }
    }
  } else if (res == "services") {
    if (!obj["spec"].contains("type")) {
      obj["spec"]["type"] = "ClusterIP";
    }
  } else if (res == "pods") {
    if (!obj.contains("status") || !obj["status"].contains("phase")) {
      obj["status"]["phase"] = "Pending";
    }
  } else if (res == "namespaces") {
    obj["spec"]["finalizers"] = Json::array({"kubernetes"});
    if (!obj["metadata"].contains("deletionTimestamp")) {
      obj["status"]["phase"] = "Active";
    }
  }
}

}  // namespace

Result<Json> MemoryStore::createLocked(const ResourceInfo& info, const std::string& ns, Json obj) {
  if (!obj.is_object()) {
    return Error::make(400, "BadRequest", "the body of the request was in an unknown format");
  }
  Json& m = obj["metadata"];
  if (!m.is_object()) {
    m = Json::object();
  }
  std::string effNs;
  if (info.namespaced) {
    effNs = ns.empty() ? m.value("namespace", "default") : ns;
    if (m.contains("namespace") && m["namespace"] != effNs && !m.value("namespace", "").empty()) {
      return Error::make(
          400, "BadRequest",
          "the namespace of the provided object does not match the namespace sent on "
          "the request");
    }
    m["namespace"] = effNs;
    if (data_["/namespaces"].count(effNs) == 0) {
      setErrorDetails({{"name", effNs}, {"kind", "namespaces"}});
      return Error::make(404, "NotFound", "namespaces \"" + effNs + "\" not found");
    }
  } else {
    m.erase("namespace");
  }
  auto& coll = data_[info.groupResource()];
  std::string name = m.value("name", "");
  if (name.empty() && !m.value("generateName", "").empty()) {
    static const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
    do {
      name = m.value("generateName", "");
      for (int i = 0; i < 5; ++i) {
        name += alphabet[rng_() % 27];
      }
    } while (coll.count(objKey(effNs, name)) != 0);
    m["name"] = name;
  }
  if (name.empty()) {
    Json causes = Json::array({{{"reason", "FieldValueRequired"},
                                {"message", "Required value: name or generateName is required"},
                                {"field", "metadata.name"}}});
    setErrorDetails({{"kind", info.kind}, {"group", info.gvr.group}, {"causes", causes}});
    return Error::make(422, "Invalid",
                       info.kind +
                           " \"\" is invalid: metadata.name: Required value: name or "
                           "generateName is required");
  }
  std::string key = objKey(effNs, name);
  if (coll.count(key) != 0) {
    setErrorDetails({{"name", name}, {"group", info.gvr.group}, {"kind", info.gvr.resource}});
    return Error::make(409, "AlreadyExists",
                       qualifiedResource(info) + " \"" + name + "\" already exists");
  }
  obj["apiVersion"] = info.apiVersion();
  obj["kind"] = info.kind;
  if (!info.builtin && info.hasStatus) {
    obj.erase("status");
  }
  if (auto st = admitCustomLocked(info, obj); !st) {
    return st.error();
  }
  defaultBuiltin(info, obj);
  if (info.gvr.resource == "customresourcedefinitions") {
    auto reg = registry_.registerCrd(obj);
    if (!reg) {
      return reg.error();
    }
    std::string now = nowText();
    obj["status"] = {
        {"acceptedNames", obj["spec"]["names"]},
        {"storedVersions", Json::array()},
        {"conditions", Json::array({{{"type", "NamesAccepted"},
                                     {"status", "True"},
                                     {"reason", "NoConflicts"},
                                     {"message", "no conflicts found"},
                                     {"lastTransitionTime", now}},
                                    {{"type", "Established"},
                                     {"status", "True"},
                                     {"reason", "InitialNamesAccepted"},
                                     {"message", "the initial names have been accepted"},
                                     {"lastTransitionTime", now}}})}};
    for (const auto& v : obj["spec"].value("versions", Json::array())) {
      if (v.value("storage", false)) {
        obj["status"]["storedVersions"].push_back(v.value("name", ""));
      }
    }
  }
  m.erase("deletionTimestamp");
  m.erase("deletionGracePeriodSeconds");
  m["uid"] = newUid();
  m["creationTimestamp"] = nowText();
  m["generation"] = 1;
  m["resourceVersion"] = std::to_string(++rv_);
  coll[key] = obj;
  byUid_[m["uid"].get<std::string>()] = {info.groupResource(), key};
  indexOwnersLocked(info.groupResource(), key, nullptr, &obj);
  commitLocked("ADDED", info, obj, nullptr);
  if (ownersAllGoneLocked(obj)) {
    // Kubernetes' garbage collector deletes a dependent whose owners no longer exist, also one
    // created after they went (a controller that read its owner just before the owner's delete).
    (void)removeLocked(info, effNs, name, "Background", "");
  }
  return obj;
}

bool MemoryStore::ownersAllGoneLocked(const Json& obj) const {
  const Json refs = obj["metadata"].value("ownerReferences", Json::array());
  return !refs.empty() && std::none_of(refs.begin(), refs.end(), [&](const Json& ref) {
    return byUid_.count(ref.value("uid", "")) != 0;
  });
}

Result<Json> MemoryStore::updateLocked(const ResourceInfo& info, const std::string& ns, Json obj,
                                       const std::string& subresource) {
  if (!obj.is_object() || !obj["metadata"].is_object()) {
    return Error::make(400, "BadRequest", "the body of the request was in an unknown format");
  }
  std::string name = obj["metadata"].value("name", "");
  std::string effNs =
      info.namespaced ? (ns.empty() ? obj["metadata"].value("namespace", "default") : ns) : "";
  auto& coll = data_[info.groupResource()];
  std::string key = objKey(effNs, name);
  auto it = coll.find(key);
  if (it == coll.end()) {
    return notFound(info, name);
  }
  const Json old = it->second;
  const Json& om = old["metadata"];
  std::string givenRv = obj["metadata"].value("resourceVersion", "");
  if (!givenRv.empty() && givenRv != om.value("resourceVersion", "")) {
    return conflict(info, name);
  }
  Json next;
  if (subresource == "status") {
    next = old;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
  } else {
    next = std::move(obj);
    if (info.hasStatus) {
      if (old.contains("status")) {
        next["status"] = old["status"];
      } else {
        next.erase("status");
      }
    }
    if (auto st = admitCustomLocked(info, next); !st) {
      return st.error();
    }
    defaultBuiltin(info, next);
    if (info.gvr.resource == "customresourcedefinitions") {
      if (auto reg = registry_.registerCrd(next); !reg) {
        return reg.error();
      }
    }
  }
  next["apiVersion"] = info.apiVersion();
  next["kind"] = info.kind;
  Json& nm = next["metadata"];
  for (const char* k : {"uid", "creationTimestamp", "name", "namespace", "generation",
                        "deletionTimestamp", "deletionGracePeriodSeconds"}) {
    if (om.contains(k)) {
      nm[k] = om[k];
    } else {
      nm.erase(k);
    }
  }
  nm["resourceVersion"] = om["resourceVersion"];
  if (next == old) {
    return old;  // a no-op write neither bumps resourceVersion nor emits an event
  }
  if (subresource != "status" && specChanged(next, old)) {
    nm["generation"] = om.value("generation", 1) + 1;
  }
  nm["resourceVersion"] = std::to_string(++rv_);
  it->second = next;
  indexOwnersLocked(info.groupResource(), key, &old, &next);
  commitLocked("MODIFIED", info, next, &old);
  if (nm.contains("deletionTimestamp") && !hasFinalizers(next)) {
    eraseLocked(info, key);
  }
  return next;
}

Result<Json> MemoryStore::removeLocked(const ResourceInfo& info, const std::string& ns,
                                       const std::string& name, const std::string& propagation,
                                       const std::string& preconditionRv) {
  auto& coll = data_[info.groupResource()];
  std::string key = objKey(ns, name);
  auto it = coll.find(key);
  if (it == coll.end()) {
    return notFound(info, name);
  }
  Json obj = it->second;
  if (!preconditionRv.empty() && preconditionRv != obj["metadata"].value("resourceVersion", "")) {
    return conflict(info, name);
  }
  std::string uid = obj["metadata"].value("uid", "");
  bool hasDependents = dependents_.count(uid) != 0 && !dependents_[uid].empty();
  if (propagation == "Orphan" && hasDependents) {
    auto deps = dependents_[uid];
    for (const auto& [gr, depKey] : deps) {
      auto depInfo = infoFor(gr);
      auto dit = data_[gr].find(depKey);
      if (!depInfo || dit == data_[gr].end()) {
        continue;
      }
      Json dep = dit->second;
      Json refs = Json::array();
      for (const auto& ref : dep["metadata"].value("ownerReferences", Json::array())) {
        if (ref.value("uid", "") != uid) {
          refs.push_back(ref);
        }
      }
      dep["metadata"]["ownerReferences"] = refs;
      (void)updateLocked(*depInfo, dep["metadata"].value("namespace", ""), dep, "");
    }
    hasDependents = false;
  }
  const bool graceful = gracefulPods_ && info.gvr.group.empty() && info.gvr.resource == "pods";
  if (obj["metadata"].contains("deletionTimestamp")) {
    if (graceful && !hasFinalizers(obj)) {
      eraseLocked(info, key);  // the kubelet's final delete: the containers have stopped
      obj["metadata"]["resourceVersion"] = std::to_string(rv_);
    }
    return obj;  // already terminating: finalizers decide
  }
  if (graceful && obj.contains("spec") && !obj["spec"].value("nodeName", "").empty()) {
    // A scheduled pod stays, terminating, until its kubelet has stopped the containers: until
    // then its processes may still run, and controllers must not treat it as gone.
    int grace = 30;
    if (obj["spec"].contains("terminationGracePeriodSeconds") &&
        obj["spec"]["terminationGracePeriodSeconds"].is_number_integer()) {
      grace = obj["spec"]["terminationGracePeriodSeconds"].get<int>();
    }
    Json old = it->second;
    obj["metadata"]["deletionTimestamp"] = nowText();
    obj["metadata"]["deletionGracePeriodSeconds"] = grace;
    obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
    it->second = obj;
    commitLocked("MODIFIED", info, obj, &old);
    return obj;
  }
  bool foreground = propagation == "Foreground" && hasDependents;
  if (foreground) {
    obj["metadata"]["finalizers"].push_back(kForeground);
  }
  if (hasFinalizers(obj)) {
    Json old = it->second;
    obj["metadata"]["deletionTimestamp"] = nowText();
    obj["metadata"]["deletionGracePeriodSeconds"] = 0;
    obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
    it->second = obj;
    commitLocked("MODIFIED", info, obj, &old);
    if (foreground) {
      auto deps = dependents_[uid];
      for (const auto& [gr, depKey] : deps) {
        auto depInfo = infoFor(gr);
        auto dit = data_[gr].find(depKey);
        if (depInfo && dit != data_[gr].end()) {
          const Json& dm = dit->second["metadata"];
          (void)removeLocked(*depInfo, dm.value("namespace", ""), dm.value("name", ""),
                             "Foreground", "");
        }
      }
    }
    auto again = coll.find(key);
    return again == coll.end() ? obj : again->second;
  }
  eraseLocked(info, key);
  obj["metadata"]["resourceVersion"] = std::to_string(rv_);
  return obj;
}

void MemoryStore::eraseLocked(const ResourceInfo& info, const std::string& key) {
  auto& coll = data_[info.groupResource()];
  auto it = coll.find(key);
  if (it == coll.end()) {
    return;
  }
  Json obj = std::move(it->second);
  coll.erase(it);
  obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
  std::string uid = obj["metadata"].value("uid", "");
  byUid_.erase(uid);
  indexOwnersLocked(info.groupResource(), key, &obj, nullptr);
  commitLocked("DELETED", info, obj, nullptr);
  collectGarbageLocked(uid);
  releaseForegroundOwnersLocked(obj);
  if (info.gvr.resource == "customresourcedefinitions") {
    std::string crdName = obj["metadata"].value("name", "");
    for (const auto& served : registry_.all()) {
      if (!served.builtin && served.crdName == crdName) {
        auto& crs = data_[served.groupResource()];
        while (!crs.empty()) {
          eraseLocked(served, crs.begin()->first);
        }
      }
    }
    registry_.unregisterCrd(crdName);
  } else if (info.gvr.resource == "namespaces") {
    std::string ns = obj["metadata"].value("name", "");
    for (const auto& served : registry_.all()) {
      if (!served.namespaced) {
        continue;
      }
      std::vector<std::string> names;
      auto& items = data_[served.groupResource()];
      for (auto i = items.lower_bound(ns + "/");
           i != items.end() && i->first.rfind(ns + "/", 0) == 0; ++i) {
        names.push_back(i->second["metadata"].value("name", ""));
      }
      for (const auto& n : names) {
        (void)removeLocked(served, ns, n, "Background", "");
      }
    }
  }
}

void MemoryStore::collectGarbageLocked(const std::string& uid) {
  auto found = dependents_.find(uid);
  if (uid.empty() || found == dependents_.end()) {
    return;
  }
  auto deps = found->second;
  dependents_.erase(found);
  for (const auto& [gr, depKey] : deps) {
    auto depInfo = infoFor(gr);
    auto dit = data_[gr].find(depKey);
    if (!depInfo || dit == data_[gr].end()) {
      continue;
    }
    Json dep = dit->second;
    Json refs = Json::array();
    for (const auto& ref : dep["metadata"].value("ownerReferences", Json::array())) {
      if (ref.value("uid", "") != uid && byUid_.count(ref.value("uid", "")) != 0) {
        refs.push_back(ref);
      }
    }
    const std::string ns = dep["metadata"].value("namespace", "");
    if (refs.empty()) {
      (void)removeLocked(*depInfo, depInfo->namespaced ? ns : "", dep["metadata"].value("name", ""),
                         "Background", "");
    } else {
      dep["metadata"]["ownerReferences"] = refs;
      (void)updateLocked(*depInfo, ns, dep, "");
    }
  }
}

void MemoryStore::releaseForegroundOwnersLocked(const Json& obj) {
  for (const auto& ref : obj["metadata"].value("ownerReferences", Json::array())) {
    std::string ownerUid = ref.value("uid", "");
    auto o = byUid_.find(ownerUid);
    if (o == byUid_.end()) {
      continue;
    }
    auto deps = dependents_.find(ownerUid);
    if (deps != dependents_.end() && !deps->second.empty()) {
      continue;
    }
    auto [gr, key] = o->second;
    auto ownerInfo = infoFor(gr);
    Json owner = data_[gr][key];
    Json& fins = owner["metadata"]["finalizers"];
    auto f = std::find(fins.begin(), fins.end(), kForeground);
    if (!ownerInfo || !owner["metadata"].contains("deletionTimestamp") || f == fins.end()) {
      continue;
    }
    fins.erase(f);
    (void)updateLocked(*ownerInfo, owner["metadata"].value("namespace", ""), owner, "");
  }
}

void MemoryStore::indexOwnersLocked(const std::string& gr, const std::string& key,
                                    const Json* before, const Json* after) {
  if (before != nullptr) {
    for (const auto& ref : (*before)["metadata"].value("ownerReferences", Json::array())) {
      auto d = dependents_.find(ref.value("uid", ""));
      if (d != dependents_.end()) {
        d->second.erase({gr, key});
        if (d->second.empty()) {
          dependents_.erase(d);
        }
      }
    }
  }
  if (after != nullptr) {
    for (const auto& ref : (*after)["metadata"].value("ownerReferences", Json::array())) {
      dependents_[ref.value("uid", "")].insert({gr, key});
    }
  }
}

}  // namespace waha::sim
