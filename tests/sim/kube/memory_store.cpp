#include "memory_store.h"

#include <algorithm>

#include "errors.h"
#include "schema.h"

namespace waha::sim {

namespace {

std::string objKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace

std::string qualifiedResource(const ResourceInfo& info) {
  return info.gvr.group.empty() ? info.gvr.resource : info.gvr.resource + "." + info.gvr.group;
}

Error notFound(const ResourceInfo& info, const std::string& name) {
  setErrorDetails({{"name", name}, {"group", info.gvr.group}, {"kind", info.gvr.resource}});
  return Error::make(404, "NotFound", qualifiedResource(info) + " \"" + name + "\" not found");
}

MemoryStore::MemoryStore(ResourceRegistry& registry, Options opts)
    : registry_(registry), opts_(opts), rng_(std::random_device{}()) {
  if (opts_.clock == nullptr) {
    opts_.clock = &SteadyClock::instance();
  }
  auto nsInfo = *registry_.find(GVR{"", "v1", "namespaces"});
  std::lock_guard<std::mutex> lk(mu_);
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    (void)createLocked(nsInfo, "", Json{{"metadata", {{"name", ns}}}});
  }
}

std::string MemoryStore::newUid() {
  static const char* hex = "0123456789abcdef";
  std::string s(36, '-');
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != 8 && i != 13 && i != 18 && i != 23) {
      s[i] = hex[rng_() % 16];
    }
  }
  s[14] = '4';                 // version 4 (random)
  s[19] = "89ab"[rng_() % 4];  // RFC 4122 variant
  return s;
}

std::string MemoryStore::nowText() { return formatRfc3339(opts_.clock->wallNow()); }

Result<ResourceInfo> MemoryStore::resolve(const GVR& r) const {
  auto info = registry_.find(r);
  if (!info) {
    return Error::make(404, "NotFound",
                       "the server could not find the requested resource (" + r.resource + ")");
  }
  return *info;
}

std::optional<ResourceInfo> MemoryStore::infoFor(const std::string& groupResource) const {
  for (const auto& info : registry_.all()) {
    if (info.groupResource() == groupResource) {
      return info;
    }
  }
  return std::nullopt;
}

Result<Json> MemoryStore::get(const GVR& r, const std::string& ns, const std::string& name) {
  auto info = resolve(r);
  if (!info) {
    return info.error();
  }
  std::lock_guard<std::mutex> lk(mu_);
  auto& coll = data_[info->groupResource()];
  auto it = coll.find(objKey(info->namespaced ? ns : "", name));
  if (it == coll.end()) {
    return notFound(*info, name);
  }
  return it->second;
}

Result<std::vector<Json>> MemoryStore::list(const GVR& r, const std::string& ns,
                                            const std::string& labelSelector) {
  ListOptions o;
  o.labelSelector = labelSelector;
  auto page = listPage(r, ns, o);
  if (!page) {
    return page.error();
  }
  return std::move(page->items);
}

Result<ListPage> MemoryStore::listPage(const GVR& r, const std::string& ns, const ListOptions& o) {
  auto info = resolve(r);
  if (!info) {
    return info.error();
  }
  auto labels = LabelSelector::parse(o.labelSelector);
  if (!labels) {
    return labels.error();
  }
  auto fields = FieldSelector::parse(o.fieldSelector);
  if (!fields) {
    return fields.error();
  }
  std::string after;
  if (!o.continueToken.empty()) {
    size_t sep = o.continueToken.find(':');
    if (sep == std::string::npos) {
      return Error::make(400, "BadRequest", "continue key is not valid");
    }
    after = o.continueToken.substr(sep + 1);
  }
  std::lock_guard<std::mutex> lk(mu_);
  ListPage page;
  page.resourceVersion = rv_;
  auto& coll = data_[info->groupResource()];
  std::string prefix = info->namespaced && !ns.empty() ? ns + "/" : "";
  auto it = after.empty() ? coll.lower_bound(prefix) : coll.upper_bound(after);
  int64_t remaining = 0;
  for (; it != coll.end(); ++it) {
    if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) {
      break;
    }
    const Json& obj = it->second;
    if (!labels->matches(obj["metadata"].value("labels", Json::object())) ||
        !fields->matches(obj)) {
      continue;
    }
    if (o.limit > 0 && static_cast<int64_t>(page.items.size()) >= o.limit) {
      if (page.continueToken.empty()) {
        page.continueToken = std::to_string(rv_) + ":" + std::prev(it)->first;
      }
      ++remaining;
      continue;
    }
    page.items.push_back(obj);
  }
  if (!page.continueToken.empty()) {
    // The token must name the last returned item, not merely the previous key scanned.
    const Json& last = page.items.back()["metadata"];
    page.continueToken =
        std::to_string(rv_) + ":" +
        objKey(info->namespaced ? last.value("namespace", "") : "", last.value("name", ""));
    page.remaining = remaining;
  }
  return page;
}

Result<Json> MemoryStore::create(const GVR& r, const std::string& ns, Json obj) {
  auto info = resolve(r);
  if (!info) {
    return info.error();
  }
  Result<Json> out = Error{};
  {
    std::lock_guard<std::mutex> lk(mu_);
    out = createLocked(*info, ns, std::move(obj));
  }
  dispatchPending();
  return out;
}

Result<Json> MemoryStore::update(const GVR& r, const std::string& ns, Json obj,
                                 const std::string& subresource) {
  auto info = resolve(r);
  if (!info) {
    return info.error();
  }
  Result<Json> out = Error{};
  {
    std::lock_guard<std::mutex> lk(mu_);
    out = updateLocked(*info, ns, std::move(obj), subresource);
  }
  dispatchPending();
  return out;
}

Status MemoryStore::remove(const GVR& r, const std::string& ns, const std::string& name,
                           const std::string& propagation) {
  auto res = removeObject(r, ns, name, propagation);
  if (!res) {
    return res.error();
  }
  return {};
}

Result<Json> MemoryStore::removeObject(const GVR& r, const std::string& ns, const std::string& name,
                                       const std::string& propagation,
                                       const std::string& preconditionRv) {
  auto info = resolve(r);
  if (!info) {
    return info.error();
  }
  Result<Json> out = Error{};
  {
    std::lock_guard<std::mutex> lk(mu_);
    out = removeLocked(*info, info->namespaced ? ns : "", name, propagation, preconditionRv);
  }
  dispatchPending();
  return out;
}

Result<Json> MemoryStore::modify(const GVR& r, const std::string& ns, const std::string& name,
                                 const std::function<Result<Json>(const Json& live)>& mutate,
                                 const std::string& subresource, bool createIfMissing) {
  auto info = resolve(r);
  if (!info) {
    return info.error();
  }
  Result<Json> out = Error{};
  {
    std::lock_guard<std::mutex> lk(mu_);
    std::string effNs = info->namespaced ? ns : "";
    auto& coll = data_[info->groupResource()];
    auto it = coll.find(objKey(effNs, name));
    if (it == coll.end()) {
      if (!createIfMissing) {
        out = notFound(*info, name);
      } else {
        auto next = mutate(Json{{"apiVersion", info->apiVersion()},
                                {"kind", info->kind},
                                {"metadata", {{"name", name}}}});
        out = next ? createLocked(*info, effNs, std::move(*next)) : next;
      }
    } else {
      auto next = mutate(it->second);
      if (!next) {
        out = next;
      } else {
        Json obj = std::move(*next);
        obj["metadata"]["resourceVersion"] = it->second["metadata"]["resourceVersion"];
        out = updateLocked(*info, effNs, std::move(obj), subresource);
      }
    }
  }
  dispatchPending();
  return out;
}

Status MemoryStore::admitCustomLocked(const ResourceInfo& info, Json& obj) {
  if (info.builtin || !info.schema.is_object()) {
    return {};
  }
  pruneUnknown(info.schema, obj);
  applyDefaults(info.schema, obj);
  auto causes = validateSchema(info.schema, obj);
  if (causes.empty()) {
    return {};
  }
  Json jc = Json::array();
  for (const auto& c : causes) {
    jc.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
  }
  std::string name = obj["metadata"].value("name", "");
  setErrorDetails({{"name", name}, {"group", info.gvr.group}, {"kind", info.kind}, {"causes", jc}});
  return Error::make(422, "Invalid",
                     invalidMessage(info.kind + "." + info.gvr.group, name, causes));
}

}  // namespace waha::sim
