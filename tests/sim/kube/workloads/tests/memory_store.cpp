#include "workloads/tests/memory_store.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>

#include "common/clock.h"

namespace waha::sim {
namespace {

std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

Error notFound(const GVR& r, const std::string& name) {
  return Error::make(404, "NotFound", r.resource + " \"" + name + "\" not found");
}

Json withoutMetaAndStatus(Json obj) {
  obj.erase("metadata");
  obj.erase("status");
  return obj;
}

bool selectorMatches(const std::string& selector, const Json& labels) {
  std::stringstream ss(selector);
  std::string term;
  while (std::getline(ss, term, ',')) {
    if (term.empty()) {
      continue;
    }
    auto ne = term.find("!=");
    auto eq = term.find('=');
    if (ne != std::string::npos) {
      std::string k = term.substr(0, ne);
      if (labels.contains(k) && labels[k] == term.substr(ne + 2)) {
        return false;
      }
    } else if (eq != std::string::npos) {
      std::string k = term.substr(0, eq);
      std::string v = term.substr(term[eq + 1] == '=' ? eq + 2 : eq + 1);
      if (!labels.contains(k) || labels[k] != v) {
        return false;
      }
    } else if (term[0] == '!' ? labels.contains(term.substr(1)) : !labels.contains(term)) {
      return false;
    }
  }
  return true;
}

std::string nowText() { return formatRfc3339(std::chrono::system_clock::now()); }

}  // namespace

Result<Json> FakeStore::get(const GVR& r, const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& objs = data_[r];
  auto it = objs.find(key(ns, name));
  if (it == objs.end()) {
    return notFound(r, name);
  }
  return it->second;
}

Result<std::vector<Json>> FakeStore::list(const GVR& r, const std::string& ns,
                                          const std::string& labelSelector) {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<Json> out;
  for (const auto& [k, obj] : data_[r]) {
    if (!ns.empty() && obj["metadata"].value("namespace", "") != ns) {
      continue;
    }
    if (selectorMatches(labelSelector, obj["metadata"].value("labels", Json::object()))) {
      out.push_back(obj);
    }
  }
  return out;
}

Result<Json> FakeStore::create(const GVR& r, const std::string& ns, Json obj) {
  Json result;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& meta = obj["metadata"];
    std::string name = meta.value("name", "");
    if (name.empty() && meta.contains("generateName")) {
      static std::mt19937 gen(42);
      const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
      name = meta["generateName"].get<std::string>();
      for (int i = 0; i < 5; ++i) {
        name += alphabet[gen() % 27];
      }
      meta["name"] = name;
    }
    if (name.empty()) {
      return Error::make(422, "Invalid", "metadata.name: Required value");
    }
    if (data_[r].count(key(ns, name)) != 0) {
      return Error::make(409, "AlreadyExists", r.resource + " \"" + name + "\" already exists");
    }
    if (!ns.empty()) {
      meta["namespace"] = ns;
    }
    char uid[64];
    uint64_t n = ++uidCounter_;
    std::snprintf(uid, sizeof(uid), "5e1f%04x-0000-4000-8000-%012llx",
                  static_cast<unsigned>(n & 0xffff), static_cast<unsigned long long>(n));
    meta["uid"] = uid;
    meta["creationTimestamp"] = nowText();
    meta["generation"] = 1;
    meta.erase("deletionTimestamp");
    Json& stored = data_[r][key(ns, name)] = std::move(obj);
    commit(r, "ADDED", stored);
    result = stored;
  }
  flush();
  return result;
}

Result<Json> FakeStore::update(const GVR& r, const std::string& ns, Json obj,
                               const std::string& subresource) {
  Json result;
  {
    std::lock_guard<std::mutex> lk(mu_);
    std::string name = obj["metadata"].value("name", "");
    auto& objs = data_[r];
    auto it = objs.find(key(ns, name));
    if (it == objs.end()) {
      return notFound(r, name);
    }
    Json& cur = it->second;
    std::string rv = obj["metadata"].value("resourceVersion", "");
    if (!rv.empty() && rv != cur["metadata"].value("resourceVersion", "")) {
      return Error::make(409, "Conflict",
                         "the object has been modified; please apply your changes "
                         "to the latest version and try again");
    }
    Json next;
    if (subresource == "status") {
      next = cur;
      next["status"] = obj.value("status", Json::object());
    } else {
      next = obj;
      if (cur.contains("status")) {
        next["status"] = cur["status"];
      } else {
        next.erase("status");
      }
      for (const char* f : {"uid", "creationTimestamp", "namespace", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "generation"}) {
        if (cur["metadata"].contains(f)) {
          next["metadata"][f] = cur["metadata"][f];
        } else {
          next["metadata"].erase(f);
        }
      }
      if (withoutMetaAndStatus(next) != withoutMetaAndStatus(cur)) {
        next["metadata"]["generation"] = cur["metadata"].value("generation", 1) + 1;
      }
    }
    cur = next;
    bool noFinalizers = cur["metadata"].value("finalizers", Json::array()).empty();
    bool graceOver =
        r.resource != "pods" || cur["metadata"].value("deletionGracePeriodSeconds", 0) == 0;
    if (cur["metadata"].contains("deletionTimestamp") && noFinalizers && graceOver) {
      result = cur;
      erase(r, key(ns, name));
    } else {
      commit(r, "MODIFIED", cur);
      result = cur;
    }
  }
  flush();
  return result;
}

Status FakeStore::remove(const GVR& r, const std::string& ns, const std::string& name,
                         const std::string& propagation) {
  Status s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s = removeLocked(r, key(ns, name), propagation, true);
  }
  flush();
  return s;
}

Status FakeStore::removeLocked(const GVR& r, const std::string& k, const std::string& propagation,
                               bool explicitDelete) {
  auto& objs = data_[r];
  auto it = objs.find(k);
  if (it == objs.end()) {
    return notFound(r, k);
  }
  Json& obj = it->second;
  auto& meta = obj["metadata"];
  bool finalizers = !meta.value("finalizers", Json::array()).empty();
  if (meta.contains("deletionTimestamp")) {
    // A second delete of a pod is the kubelet's grace-0 delete: the pod goes once finalizers do.
    if (r.resource == "pods" && explicitDelete) {
      meta["deletionGracePeriodSeconds"] = 0;
      if (!finalizers) {
        erase(r, k);
      } else {
        commit(r, "MODIFIED", obj);
      }
    }
    return {};
  }
  std::string phase = obj.value("status", Json::object()).value("phase", "");
  bool graceful = r.resource == "pods" && !obj["spec"].value("nodeName", "").empty() &&
                  phase != "Succeeded" && phase != "Failed";
  if (finalizers || graceful) {
    meta["deletionTimestamp"] = nowText();
    if (graceful) {
      meta["deletionGracePeriodSeconds"] = obj["spec"].value("terminationGracePeriodSeconds", 30);
    }
    commit(r, "MODIFIED", obj);
    return {};
  }
  std::string uid = meta.value("uid", "");
  erase(r, k);
  // Owner GC: dependents are deleted (background, foreground treated alike) or orphaned.
  for (auto& [gvr, others] : data_) {
    std::vector<std::string> dependents;
    for (auto& [ok, o] : others) {
      for (const auto& ref : o["metadata"].value("ownerReferences", Json::array())) {
        if (ref.value("uid", "") == uid) {
          dependents.push_back(ok);
        }
      }
    }
    for (const auto& dk : dependents) {
      if (propagation == "Orphan") {
        auto& o = others[dk];
        Json refs = Json::array();
        for (const auto& ref : o["metadata"]["ownerReferences"]) {
          if (ref.value("uid", "") != uid) {
            refs.push_back(ref);
          }
        }
        o["metadata"]["ownerReferences"] = refs;
        commit(gvr, "MODIFIED", o);
      } else {
        (void)removeLocked(gvr, dk, propagation, false);
      }
    }
  }
  return {};
}

void FakeStore::erase(const GVR& r, const std::string& k) {
  Json last = data_[r][k];
  data_[r].erase(k);
  commit(r, "DELETED", last);
}

void FakeStore::commit(const GVR& r, const std::string& type, Json& stored) {
  stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
  writes_[r]++;
  pending_.push_back(StoreEvent{type, r, stored});
}

void FakeStore::flush() {
  std::lock_guard<std::recursive_mutex> dl(dispatchMu_);
  if (dispatching_) {
    return;  // a write from inside a callback: the outer loop delivers it, in order
  }
  dispatching_ = true;
  for (;;) {
    StoreEvent e;
    std::vector<std::function<void(const StoreEvent&)>> fns;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (pending_.empty()) {
        break;
      }
      e = std::move(pending_.front());
      pending_.pop_front();
      for (const auto& [id, sub] : subs_) {
        if (sub.first == e.gvr) {
          fns.push_back(sub.second);
        }
      }
    }
    for (const auto& fn : fns) {
      fn(e);
    }
  }
  dispatching_ = false;
}

uint64_t FakeStore::subscribe(const GVR& r, std::function<void(const StoreEvent&)> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  subs_[nextSub_] = {r, std::move(fn)};
  return nextSub_++;
}

void FakeStore::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  subs_.erase(id);
}

uint64_t FakeStore::writes(const GVR& r) {
  std::lock_guard<std::mutex> lk(mu_);
  return writes_[r];
}

}  // namespace waha::sim
