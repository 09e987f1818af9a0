// Discovery and the resource REST verbs (GET/LIST/WATCH/POST/PUT/PATCH/DELETE, /status, /scale).

#include <sstream>

#include "api_server.h"
#include "errors.h"
#include "patch.h"

namespace waha::sim {

namespace {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (!part.empty()) {
      out.push_back(part);
    }
  }
  return out;
}

Json resourceList(const std::vector<ResourceInfo>& infos, const std::string& groupVersion) {
  static const Json verbs = {"create", "delete", "deletecollection", "get",
                             "list",   "patch",  "update",           "watch"};
  Json res = Json::array();
  for (const auto& r : infos) {
    if (r.apiVersion() != groupVersion) {
      continue;
    }
    Json e = {{"name", r.gvr.resource},
              {"singularName", r.singular},
              {"namespaced", r.namespaced},
              {"kind", r.kind},
              {"verbs", verbs}};
    if (!r.shortNames.empty()) {
      e["shortNames"] = r.shortNames;
    }
    if (!r.categories.empty()) {
      e["categories"] = r.categories;
    }
    res.push_back(e);
    if (r.hasStatus) {
      res.push_back({{"name", r.gvr.resource + "/status"},
                     {"singularName", ""},
                     {"namespaced", r.namespaced},
                     {"kind", r.kind},
                     {"verbs", {"get", "patch", "update"}}});
    }
    if (r.scale) {
      res.push_back({{"name", r.gvr.resource + "/scale"},
                     {"singularName", ""},
                     {"namespaced", r.namespaced},
                     {"group", "autoscaling"},
                     {"version", "v1"},
                     {"kind", "Scale"},
                     {"verbs", {"get", "patch", "update"}}});
    }
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", groupVersion},
          {"resources", res}};
}

Json groupJson(const std::string& group, const std::vector<std::string>& versions) {
  Json vs = Json::array();
  for (const auto& v : versions) {
    vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  }
  return {{"name", group}, {"versions", vs}, {"preferredVersion", vs[0]}};
}

Json* pathRef(Json& obj, const std::string& dotted, bool create) {
  Json* cur = &obj;
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (part.empty()) {
      continue;
    }
    if (!cur->is_object() || (!create && !cur->contains(part))) {
      return nullptr;
    }
    cur = &(*cur)[part];
  }
  return cur;
}

Json toScale(const ResourceInfo& info, const Json& obj) {
  Json copy = obj;
  const Json* spec = pathRef(copy, info.scale->specReplicasPath, false);
  const Json* status = pathRef(copy, info.scale->statusReplicasPath, false);
  std::string selector;
  if (info.builtin) {
    selector = LabelSelector::fromObject(obj["spec"].value("selector", Json::object())).str();
  } else if (!info.scale->labelSelectorPath.empty()) {
    const Json* s = pathRef(copy, info.scale->labelSelectorPath, false);
    selector = s != nullptr && s->is_string() ? s->get<std::string>() : "";
  }
  const Json& m = obj["metadata"];
  Json meta = {{"name", m["name"]},
               {"uid", m["uid"]},
               {"resourceVersion", m["resourceVersion"]},
               {"creationTimestamp", m["creationTimestamp"]}};
  if (m.contains("namespace")) {
    meta["namespace"] = m["namespace"];
  }
  return {
      {"kind", "Scale"},
      {"apiVersion", "autoscaling/v1"},
      {"metadata", meta},
      {"spec", {{"replicas", spec != nullptr ? *spec : Json(0)}}},
      {"status", {{"replicas", status != nullptr ? *status : Json(0)}, {"selector", selector}}}};
}

Error conflictFor(const ResourceInfo& info, const std::string& name) {
  setErrorDetails({{"name", name}, {"group", info.gvr.group}, {"kind", info.gvr.resource}});
  return Error::make(409, "Conflict",
                     "Operation cannot be fulfilled on " + qualifiedResource(info) + " \"" + name +
                         "\": the object has been modified; please apply your "
                         "changes to the latest version and try again");
}

// Applies a PATCH body of the given content type to `target`.
Result<Json> applyPatchType(const ResourceInfo& info, const std::string& contentType,
                            const Json& target, const Json& patch,
                            const std::string& fieldManager) {
  if (contentType.find("json-patch") != std::string::npos) {
    return jsonPatch(target, patch);
  }
  if (contentType.find("strategic-merge-patch") != std::string::npos) {
    if (!info.builtin) {
      return Error::make(
          415, "UnsupportedMediaType",
          "the body of the request was in an unknown format - accepted media types include: "
          "application/json-patch+json, application/merge-patch+json, "
          "application/apply-patch+yaml");
    }
    return strategicMerge(target, patch);
  }
  if (contentType.find("merge-patch") != std::string::npos) {
    return mergePatch(target, patch);
  }
  if (contentType.find("apply-patch") != std::string::npos) {
    return serverSideApply(target, patch, info.builtin, fieldManager);
  }
  return Error::make(415, "UnsupportedMediaType", "unsupported patch content type: " + contentType);
}

}  // namespace

http::Response ApiServer::discovery(const http::Request& req, bool& handled) {
  handled = true;
  const std::string& p = req.path;
  if (p == "/healthz" || p == "/readyz" || p == "/livez") {
    return http::Response::text(200, "ok");
  }
  if (p == "/version") {
    return jsonResponse(200, {{"major", "1"},
                              {"minor", "32"},
                              {"gitVersion", "v1.32.0-kube-sim"},
                              {"gitCommit", "kube-sim"},
                              {"gitTreeState", "clean"},
                              {"buildDate", "2026-01-01T00:00:00Z"},
                              {"goVersion", "go1.23"},
                              {"compiler", "gc"},
                              {"platform", "linux/amd64"}});
  }
  if (p.rfind("/openapi", 0) == 0) {
    // No OpenAPI documents (kubectl would want protobuf for v2): clients fall back, see docs.
    return jsonResponse(
        404, statusJson(
                 Error::make(404, "NotFound", "the server could not find the requested resource")));
  }
  auto parts = splitPath(p);
  auto infos = store_.registry().all();
  if (parts.size() == 1 && parts[0] == "api") {
    return jsonResponse(200, {{"kind", "APIVersions"},
                              {"versions", {"v1"}},
                              {"serverAddressByClientCIDRs",
                               {{{"clientCIDR", "0.0.0.0/0"},
                                 {"serverAddress", "127.0.0.1:" + std::to_string(httpsPort())}}}}});
  }
  if (parts.size() == 2 && parts[0] == "api" && parts[1] == "v1") {
    return jsonResponse(200, resourceList(infos, "v1"));
  }
  auto groups = store_.registry().groups();
  if (parts.size() == 1 && parts[0] == "apis") {
    Json list = Json::array();
    for (const auto& [g, versions] : groups) {
      if (!g.empty()) {
        list.push_back(groupJson(g, versions));
      }
    }
    return jsonResponse(200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", list}});
  }
  if (parts.size() == 2 && parts[0] == "apis" && groups.count(parts[1]) != 0) {
    Json g = groupJson(parts[1], groups[parts[1]]);
    g["kind"] = "APIGroup";
    g["apiVersion"] = "v1";
    return jsonResponse(200, g);
  }
  if (parts.size() == 3 && parts[0] == "apis") {
    Json list = resourceList(infos, parts[1] + "/" + parts[2]);
    if (list["resources"].empty()) {
      return jsonResponse(
          404, statusJson(Error::make(404, "NotFound",
                                      "the server could not find the requested resource")));
    }
    return jsonResponse(200, list);
  }
  handled = false;
  return {};
}

void ApiServer::resource(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                         bool& handled) {
  if (req.header("Content-Type").find("protobuf") != std::string::npos) {
    // Only JSON is spoken; client-go retries such writes as JSON after a 415.
    handled = true;
    ex->respond(errorResponse(
        Error::make(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media "
                    "types include: application/json, application/yaml")));
    return;
  }
  auto parts = splitPath(req.path);
  GVR gvr;
  size_t at = 0;
  if (parts.size() >= 3 && parts[0] == "api") {
    gvr.version = parts[1];
    at = 2;
  } else if (parts.size() >= 4 && parts[0] == "apis") {
    gvr.group = parts[1];
    gvr.version = parts[2];
    at = 3;
  } else {
    return;
  }
  std::vector<std::string> rest(parts.begin() + static_cast<long>(at), parts.end());
  std::string ns;
  if (rest.size() >= 3 && rest[0] == "namespaces" &&
      !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
    ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  gvr.resource = rest[0];
  std::string name = rest.size() > 1 ? rest[1] : "";
  std::string sub = rest.size() > 2 ? rest[2] : "";
  auto info = store_.registry().find(gvr);
  if (!info || (!info->namespaced && !ns.empty()) || rest.size() > 3) {
    return;
  }
  handled = true;
  if (req.queryParam("dryRun")) {
    // Refused rather than ignored: a silently persisted "dry run" would be worse than an error.
    ex->respond(errorResponse(Error::make(400, "BadRequest", "kube-sim does not support dryRun")));
    return;
  }
  if (name.empty()) {
    serveCollection(req, ex, *info, ns);
    return;
  }
  if (!sub.empty() && !(sub == "status" && info->hasStatus) && !(sub == "scale" && info->scale)) {
    handled = false;
    return;
  }
  serveItem(req, ex, *info, ns, name, sub);
}

void ApiServer::serveCollection(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                                const ResourceInfo& info, const std::string& ns) {
  if (req.method == "GET") {
    auto w = req.queryParam("watch");
    if (w && (*w == "true" || *w == "1")) {
      serveWatch(req, ex, info, ns);
      return;
    }
    ListOptions o;
    o.labelSelector = req.queryParam("labelSelector").value_or("");
    o.fieldSelector = req.queryParam("fieldSelector").value_or("");
    o.continueToken = req.queryParam("continue").value_or("");
    o.limit = std::stoll(req.queryParam("limit").value_or("0"));
    auto page = store_.listPage(info.gvr, ns, o);
    if (!page) {
      ex->respond(errorResponse(page.error()));
      return;
    }
    Json meta = {{"resourceVersion", std::to_string(page->resourceVersion)}};
    if (!page->continueToken.empty()) {
      meta["continue"] = page->continueToken;
      meta["remainingItemCount"] = page->remaining;
    }
    if (wantsTable(req)) {
      ex->respond(jsonResponse(200, toTable(info, page->items, meta)));
      return;
    }
    ex->respond(jsonResponse(200, {{"kind", info.listKind()},
                                   {"apiVersion", info.apiVersion()},
                                   {"metadata", meta},
                                   {"items", page->items}}));
    return;
  }
  if (req.method == "POST") {
    auto body = parseBody(req.body, true);
    if (!body) {
      ex->respond(errorResponse(body.error()));
      return;
    }
    auto created = store_.create(info.gvr, ns, std::move(*body));
    ex->respond(created ? jsonResponse(201, *created) : errorResponse(created.error()));
    return;
  }
  if (req.method == "DELETE") {
    auto items = store_.list(info.gvr, ns, req.queryParam("labelSelector").value_or(""));
    if (!items) {
      ex->respond(errorResponse(items.error()));
      return;
    }
    for (const auto& item : *items) {
      (void)store_.removeObject(info.gvr, ns, item["metadata"].value("name", ""), "Background");
    }
    ex->respond(jsonResponse(200, {{"kind", info.listKind()},
                                   {"apiVersion", info.apiVersion()},
                                   {"metadata", Json::object()},
                                   {"items", *items}}));
    return;
  }
  ex->respond(
      jsonResponse(405, statusJson(Error::make(405, "MethodNotAllowed", "method not allowed"))));
}

void ApiServer::serveItem(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                          const ResourceInfo& info, const std::string& ns, const std::string& name,
                          const std::string& sub) {
  if (req.method == "GET") {
    auto obj = store_.get(info.gvr, ns, name);
    if (!obj) {
      ex->respond(errorResponse(obj.error()));
    } else if (sub == "scale") {
      ex->respond(jsonResponse(200, toScale(info, *obj)));
    } else if (wantsTable(req)) {
      ex->respond(jsonResponse(
          200,
          toTable(info, {*obj}, {{"resourceVersion", (*obj)["metadata"]["resourceVersion"]}})));
    } else {
      ex->respond(jsonResponse(200, *obj));
    }
    return;
  }
  if (req.method == "PUT" || req.method == "PATCH") {
    serveWrite(req, ex, info, ns, name, sub);
    return;
  }
  if (req.method == "DELETE") {
    std::string propagation = req.queryParam("propagationPolicy").value_or("");
    std::string preRv;
    if (!req.body.empty()) {
      Json opts = Json::parse(req.body, nullptr, false);
      if (opts.is_object()) {
        propagation = opts.value("propagationPolicy", propagation);
        if (opts.contains("preconditions") && opts["preconditions"].is_object()) {
          preRv = opts["preconditions"].value("resourceVersion", "");
        }
        if (opts.contains("orphanDependents") && opts["orphanDependents"].is_boolean() &&
            propagation.empty()) {
          propagation = opts["orphanDependents"].get<bool>() ? "Orphan" : "Background";
        }
      }
    }
    auto removed = store_.removeObject(info.gvr, ns, name, propagation, preRv);
    ex->respond(removed ? jsonResponse(200, *removed) : errorResponse(removed.error()));
    return;
  }
  ex->respond(
      jsonResponse(405, statusJson(Error::make(405, "MethodNotAllowed", "method not allowed"))));
}

// PUT and PATCH of an object or its /status or /scale.
void ApiServer::serveWrite(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                           const ResourceInfo& info, const std::string& ns, const std::string& name,
                           const std::string& sub) {
  bool isPatch = req.method == "PATCH";
  std::string ctype = req.header("Content-Type");
  bool apply = isPatch && ctype.find("apply-patch") != std::string::npos;
  std::string manager = req.queryParam("fieldManager").value_or("");
  if (apply && manager.empty()) {
    setErrorDetails({{"causes",
                      {{{"reason", "FieldValueRequired"},
                        {"message", "Required value: is required for apply patch"},
                        {"field", "fieldManager"}}}}});
    ex->respond(errorResponse(Error::make(422, "Invalid",
                                          "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                                          "Required value: is required for apply patch")));
    return;
  }
  auto body = parseBody(req.body, apply || !isPatch);
  if (!body) {
    ex->respond(errorResponse(body.error()));
    return;
  }
  if (!isPatch && sub != "scale") {
    Json obj = std::move(*body);
    if (!obj.is_object() || obj["metadata"].value("name", "") != name) {
      ex->respond(errorResponse(Error::make(
          400, "BadRequest",
          "the name of the object (" + (obj.is_object() ? obj["metadata"].value("name", "") : "") +
              ") does not match the name on the URL (" + name + ")")));
      return;
    }
    auto updated = store_.update(info.gvr, ns, std::move(obj), sub);
    ex->respond(updated ? jsonResponse(200, *updated) : errorResponse(updated.error()));
    return;
  }
  Json patch = std::move(*body);
  ResourceInfo ri = info;
  auto mutate = [&](const Json& live) -> Result<Json> {
    if (sub == "scale") {
      Json scale = toScale(ri, live);
      auto next = isPatch ? applyPatchType(ri, ctype, scale, patch, manager) : Result<Json>(patch);
      if (!next) {
        return next;
      }
      std::string wantRv = (*next)["metadata"].value("resourceVersion", "");
      if (!wantRv.empty() && wantRv != live["metadata"].value("resourceVersion", "")) {
        return conflictFor(ri, name);
      }
      Json out = live;
      *pathRef(out, ri.scale->specReplicasPath, true) = (*next)["spec"].value("replicas", 0);
      return out;
    }
    auto next = applyPatchType(ri, ctype, live, patch, manager);
    if (!next) {
      return next;
    }
    std::string wantRv = (*next)["metadata"].value("resourceVersion", "");
    if (!wantRv.empty() && wantRv != live["metadata"].value("resourceVersion", "")) {
      return conflictFor(ri, name);
    }
    return next;
  };
  auto result = store_.modify(info.gvr, ns, name, mutate, sub == "scale" ? "" : sub, apply);
  if (result && sub == "scale") {
    ex->respond(jsonResponse(200, toScale(info, *result)));
    return;
  }
  ex->respond(result ? jsonResponse(200, *result) : errorResponse(result.error()));
  return;
}

void ApiServer::serveWatch(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                           const ResourceInfo& info, const std::string& ns) {
  WatchOptions o;
  o.labelSelector = req.queryParam("labelSelector").value_or("");
  o.fieldSelector = req.queryParam("fieldSelector").value_or("");
  o.resourceVersion = req.queryParam("resourceVersion").value_or("");
  if (auto l = LabelSelector::parse(o.labelSelector); !l) {
    ex->respond(errorResponse(l.error()));
    return;
  }
  if (auto f = FieldSelector::parse(o.fieldSelector); !f) {
    ex->respond(errorResponse(f.error()));
    return;
  }
  auto timeout = opts_.maxWatchTimeout;
  if (auto t = req.queryParam("timeoutSeconds")) {
    timeout = std::min(timeout, std::chrono::seconds(std::max(1LL, std::stoll(*t))));
  }
  struct State {
    std::mutex mu;
    bool replaying = true;
    std::string buffer;
  };
  auto state = std::make_shared<State>();
  bool table = wantsTable(req);
  bool bookmarks = req.queryParam("allowWatchBookmarks").value_or("") == "true";
  http::Headers headers;
  headers.set("Content-Type", "application/json");
  auto stream = ex->startStream(200, headers);
  ResourceInfo ri = info;
  auto sink = [state, stream, table, bookmarks, ri](const std::string& type, const Json& obj,
                                                    const std::string& text) {
    if (type == "CLOSE") {
      stream->end();
      return false;
    }
    Json out;
    if (type == "BOOKMARK") {
      if (!bookmarks) {
        return true;
      }
      out = {{"kind", ri.kind}, {"apiVersion", ri.apiVersion()}, {"metadata", obj["metadata"]}};
    } else if (table) {
      out = toTable(ri, {obj}, {{"resourceVersion", obj["metadata"]["resourceVersion"]}});
    }
    std::string line =
        "{\"type\":\"" + type + "\",\"object\":" + (out.is_null() ? text : out.dump()) + "}\n";
    std::lock_guard<std::mutex> lk(state->mu);
    if (state->replaying) {
      state->buffer += line;
      return true;
    }
    return stream->write(std::move(line));
  };
  auto id = store_.watch(info.gvr, ns, o, sink);
  if (!id) {
    Json status = statusJson(id.error(), takeErrorDetails());
    stream->write("{\"type\":\"ERROR\",\"object\":" + status.dump() + "}\n");
    stream->end();
    return;
  }
  {
    std::lock_guard<std::mutex> lk(state->mu);
    state->replaying = false;
    if (!state->buffer.empty()) {
      stream->write(std::move(state->buffer));
    }
  }
  uint64_t wid = *id;
  {
    std::lock_guard<std::mutex> lk(watchMu_);
    watchEntries_[wid] = WatchEntry{stream, std::chrono::steady_clock::now() + timeout};
  }
  stream->onClose([this, wid] {
    store_.unwatch(wid);
    std::lock_guard<std::mutex> lk(watchMu_);
    watchEntries_.erase(wid);
  });
}

}  // namespace waha::sim
