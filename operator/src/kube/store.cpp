#include "kube/store.h"

#include <algorithm>
#include <mutex>

namespace waha::kube {

namespace {

std::string stringAt(const Json& obj, const char* a, const char* b) {
  auto it = obj.find(a);
  if (it == obj.end() || !it->is_object()) {
    return "";
  }
  auto jt = it->find(b);
  if (jt == it->end() || !jt->is_string()) {
    return "";
  }
  return jt->get<std::string>();
}

std::vector<std::string> namespaceValues(const Json& obj) {
  return {stringAt(obj, "metadata", "namespace")};
}

std::vector<std::string> labelValues(const Json& obj) {
  std::vector<std::string> out;
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) {
    return out;
  }
  auto labels = md->find("labels");
  if (labels == md->end() || !labels->is_object()) {
    return out;
  }
  for (auto it = labels->begin(); it != labels->end(); ++it) {
    if (it.value().is_string()) {
      out.push_back(it.key() + "=" + it.value().get<std::string>());
    }
  }
  return out;
}

}  // namespace

std::string objectKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string objectKey(const Json& obj) {
  return objectKey(stringAt(obj, "metadata", "namespace"), stringAt(obj, "metadata", "name"));
}

std::string resourceVersionOf(const Json& obj) {
  return stringAt(obj, "metadata", "resourceVersion");
}

Store::Store() {
  indexes_[kNamespaceIndex].fn = namespaceValues;
  indexes_[kLabelIndex].fn = labelValues;
}

void Store::addIndex(const std::string& name, IndexFn fn) {
  std::unique_lock lk(mu_);
  Index& idx = indexes_[name];
  idx.fn = std::move(fn);
  idx.keysByValue.clear();
  for (const auto& [key, obj] : objects_) {
    for (const auto& v : idx.fn(*obj)) {
      idx.keysByValue[v].insert(key);
    }
  }
}

ObjectPtr Store::get(const std::string& key) const {
  std::shared_lock lk(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::list() const {
  std::shared_lock lk(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) {
    out.push_back(obj);
  }
  return out;
}

std::vector<std::string> Store::keys() const {
  std::shared_lock lk(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) {
    out.push_back(key);
  }
  return out;
}

std::vector<ObjectPtr> Store::lookupLocked(const Index& idx, const std::string& value) const {
  std::vector<ObjectPtr> out;
  auto it = idx.keysByValue.find(value);
  if (it == idx.keysByValue.end()) {
    return out;
  }
  for (const auto& key : it->second) {
    auto ot = objects_.find(key);
    if (ot != objects_.end()) {
      out.push_back(ot->second);
    }
  }
  return out;
}

std::vector<ObjectPtr> Store::byIndex(const std::string& index, const std::string& value) const {
  std::shared_lock lk(mu_);
  auto it = indexes_.find(index);
  if (it == indexes_.end()) {
    return {};
  }
  return lookupLocked(it->second, value);
}

std::size_t Store::countByIndex(const std::string& index, const std::string& value) const {
  std::shared_lock lk(mu_);
  auto it = indexes_.find(index);
  if (it == indexes_.end()) {
    return 0;
  }
  auto bucket = it->second.keysByValue.find(value);
  return bucket == it->second.keysByValue.end() ? 0 : bucket->second.size();
}

std::vector<ObjectPtr> Store::byNamespace(const std::string& ns) const {
  return byIndex(kNamespaceIndex, ns);
}

std::vector<ObjectPtr> Store::byLabel(const std::string& key, const std::string& value) const {
  return byIndex(kLabelIndex, key + "=" + value);
}

std::size_t Store::size() const {
  std::shared_lock lk(mu_);
  return objects_.size();
}

bool Store::hasSynced() const {
  std::shared_lock lk(mu_);
  return syncedScopes_.size() >= expectedSyncs_;
}

void Store::expectSyncs(std::size_t n) {
  std::unique_lock lk(mu_);
  expectedSyncs_ = std::max<std::size_t>(n, 1);
}

void Store::markSynced(const std::string& scope) {
  std::unique_lock lk(mu_);
  syncedScopes_.insert(scope);
}

void Store::indexLocked(const std::string& key, const Json& obj) {
  for (auto& [name, idx] : indexes_) {
    for (const auto& v : idx.fn(obj)) {
      idx.keysByValue[v].insert(key);
    }
  }
}

void Store::unindexLocked(const std::string& key, const Json& obj) {
  for (auto& [name, idx] : indexes_) {
    for (const auto& v : idx.fn(obj)) {
      auto it = idx.keysByValue.find(v);
      if (it == idx.keysByValue.end()) {
        continue;
      }
      it->second.erase(key);
      // Empty buckets are dropped so values that come and go (worker names) do not pile up.
      if (it->second.empty()) {
        idx.keysByValue.erase(it);
      }
    }
  }
}

ObjectPtr Store::upsert(ObjectPtr obj) {
  std::string key = objectKey(*obj);
  std::unique_lock lk(mu_);
  ObjectPtr old;
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    old = it->second;
    unindexLocked(key, *old);
    it->second = obj;
  } else {
    objects_.emplace(key, obj);
  }
  indexLocked(key, *obj);
  return old;
}

ObjectPtr Store::remove(const std::string& key) {
  std::unique_lock lk(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return nullptr;
  }
  ObjectPtr old = it->second;
  unindexLocked(key, *old);
  objects_.erase(it);
  return old;
}

std::vector<StoreChange> Store::replace(const std::vector<ObjectPtr>& objs, const std::string& ns) {
  std::map<std::string, ObjectPtr> fresh;
  for (const auto& o : objs) {
    fresh[objectKey(*o)] = o;
  }
  std::vector<StoreChange> changes;
  std::unique_lock lk(mu_);
  auto inScope = [&ns](const ObjectPtr& o) {
    return ns.empty() || (*o)["metadata"].value("namespace", "") == ns;
  };
  if (!ns.empty()) {
    // Objects of other namespaces belong to other watchers: carry them over untouched.
    for (const auto& [key, old] : objects_) {
      if (!inScope(old)) {
        fresh.emplace(key, old);
      }
    }
  }
  for (const auto& [key, old] : objects_) {
    if (!inScope(old)) {
      continue;
    }
    auto it = fresh.find(key);
    if (it == fresh.end()) {
      changes.push_back({old, nullptr});
    } else if (resourceVersionOf(*old) != resourceVersionOf(*it->second)) {
      changes.push_back({old, it->second});
    }
  }
  for (const auto& [key, obj] : fresh) {
    if (objects_.find(key) == objects_.end()) {
      changes.push_back({nullptr, obj});
    }
  }
  for (auto& [name, idx] : indexes_) {
    idx.keysByValue.clear();
  }
  objects_ = std::move(fresh);
  for (const auto& [key, obj] : objects_) {
    indexLocked(key, *obj);
  }
  return changes;
}

}  // namespace waha::kube
