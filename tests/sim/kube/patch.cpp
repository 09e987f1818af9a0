#include "patch.h"

#include <algorithm>
#include <set>

#include "common/clock.h"

namespace waha::sim {

Json mergePatch(Json target, const Json& patch) {
  if (!patch.is_object()) {
    return patch;
  }
  if (!target.is_object()) {
    target = Json::object();
  }
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null()) {
      target.erase(k);
    } else {
      target[k] = mergePatch(target.contains(k) ? target[k] : Json(), v);
    }
  }
  return target;
}

namespace {

Error patchError(int code, const std::string& msg) {
  return Error::make(code, code == 422 ? "Invalid" : "BadRequest", msg);
}

std::string unescape(std::string s) {
  for (size_t p = s.find("~1"); p != std::string::npos; p = s.find("~1", p + 1)) {
    s.replace(p, 2, "/");
  }
  for (size_t p = s.find("~0"); p != std::string::npos; p = s.find("~0", p + 1)) {
    s.replace(p, 2, "~");
  }
  return s;
}

// Splits a JSON pointer into its parent pointer and last token.
bool splitPointer(const std::string& path, std::string& parent, std::string& last) {
  size_t slash = path.find_last_of('/');
  if (path.empty() || path[0] != '/' || slash == std::string::npos) {
    return false;
  }
  parent = path.substr(0, slash);
  last = unescape(path.substr(slash + 1));
  return true;
}

Result<Json*> resolve(Json& doc, const std::string& pointer) {
  try {
    return &doc.at(Json::json_pointer(pointer));
  } catch (const std::exception&) {
    return patchError(422, "doc is missing path: \"" + pointer + "\"");
  }
}

Status addAt(Json& doc, const std::string& path, Json value, bool replace) {
  if (path.empty()) {
    doc = std::move(value);
    return {};
  }
  std::string parentPtr;
  std::string last;
  if (!splitPointer(path, parentPtr, last)) {
    return patchError(400, "invalid JSON pointer: \"" + path + "\"");
  }
  auto parent = resolve(doc, parentPtr);
  if (!parent) {
    return parent.error();
  }
  Json& p = **parent;
  if (p.is_array()) {
    if (last == "-") {
      p.push_back(std::move(value));
      return {};
    }
    size_t idx = 0;
    try {
      idx = std::stoul(last);
    } catch (const std::exception&) {
      return patchError(400, "invalid array index: " + last);
    }
    if (idx > p.size() || (replace && idx >= p.size())) {
      return patchError(422, "array index out of bounds: " + last);
    }
    if (replace) {
      p[idx] = std::move(value);
    } else {
      p.insert(p.begin() + static_cast<long>(idx), std::move(value));
    }
    return {};
  }
  if (!p.is_object()) {
    return patchError(422, "doc is missing path: \"" + path + "\"");
  }
  if (replace && !p.contains(last)) {
    return patchError(422, "doc is missing key: \"" + path + "\"");
  }
  p[last] = std::move(value);
  return {};
}

Status removeAt(Json& doc, const std::string& path, Json* removed) {
  std::string parentPtr;
  std::string last;
  if (!splitPointer(path, parentPtr, last)) {
    return patchError(400, "invalid JSON pointer: \"" + path + "\"");
  }
  auto parent = resolve(doc, parentPtr);
  if (!parent) {
    return parent.error();
  }
  Json& p = **parent;
  if (p.is_array()) {
    size_t idx = 0;
    try {
      idx = std::stoul(last);
    } catch (const std::exception&) {
      return patchError(400, "invalid array index: " + last);
    }
    if (idx >= p.size()) {
      return patchError(422, "array index out of bounds: " + last);
    }
    if (removed != nullptr) {
      *removed = p[idx];
    }
    p.erase(idx);
    return {};
  }
  if (!p.is_object() || !p.contains(last)) {
    return patchError(422, "Unable to remove nonexistent key: " + last + ": missing value");
  }
  if (removed != nullptr) {
    *removed = p[last];
  }
  p.erase(last);
  return {};
}

std::string mergeKeyFor(const std::string& field, const Json& sample) {
  static const std::set<std::string> byName = {
      "containers", "initContainers",   "ephemeralContainers", "env",
      "volumes",    "imagePullSecrets", "hostAliases"};
  if (byName.count(field) != 0) {
    return "name";
  }
  if (field == "volumeMounts") {
    return "mountPath";
  }
  if (field == "ports") {
    return sample.contains("containerPort") ? "containerPort" : "port";
  }
  if (field == "conditions") {
    return "type";
  }
  return "";
}

Json strategicValue(Json target, const Json& patch);

Json mergeList(const std::string& field, Json target, const Json& patch) {
  if (patch.empty() || !patch[0].is_object()) {
    return patch;
  }
  std::string key = mergeKeyFor(field, patch[0]);
  if (key.empty()) {
    return patch;
  }
  if (!target.is_array()) {
    target = Json::array();
  }
  for (const auto& item : patch) {
    if (item.value("$patch", "") == "replace") {
      Json clean = item;
      clean.erase("$patch");
      return Json::array({clean});
    }
    auto it = std::find_if(target.begin(), target.end(), [&](const Json& t) {
      return t.contains(key) && item.contains(key) && t[key] == item[key];
    });
    if (item.value("$patch", "") == "delete") {
      if (it != target.end()) {
        target.erase(it);
      }
    } else if (it != target.end()) {
      *it = strategicValue(*it, item);
    } else {
      target.push_back(strategicValue(Json::object(), item));
    }
  }
  return target;
}

Json strategicValue(Json target, const Json& patch) {
  if (!patch.is_object()) {
    return patch;
  }
  if (!target.is_object() || patch.value("$patch", "") == "replace") {
    target = Json::object();
  }
  if (patch.contains("$retainKeys") && patch["$retainKeys"].is_array()) {
    for (auto it = target.begin(); it != target.end();) {
      bool keep = std::find(patch["$retainKeys"].begin(), patch["$retainKeys"].end(), it.key()) !=
                  patch["$retainKeys"].end();
      it = keep ? std::next(it) : target.erase(it);
    }
  }
  for (const auto& [k, v] : patch.items()) {
    if (k == "$patch" || k == "$retainKeys" || k.rfind("$setElementOrder/", 0) == 0) {
      continue;
    }
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string field = k.substr(std::string("$deleteFromPrimitiveList/").size());
      if (target.contains(field) && target[field].is_array()) {
        Json kept = Json::array();
        for (const auto& e : target[field]) {
          if (std::find(v.begin(), v.end(), e) == v.end()) {
            kept.push_back(e);
          }
        }
        target[field] = kept;
      }
      continue;
    }
    if (v.is_null()) {
      target.erase(k);
    } else if (v.is_array()) {
      if (k == "finalizers") {
        Json merged = target.value(k, Json::array());
        for (const auto& e : v) {
          if (std::find(merged.begin(), merged.end(), e) == merged.end()) {
            merged.push_back(e);
          }
        }
        target[k] = merged;
      } else {
        target[k] = mergeList(k, target.contains(k) ? target[k] : Json(), v);
      }
    } else {
      target[k] = strategicValue(target.contains(k) ? target[k] : Json(), v);
    }
  }
  return target;
}

// Apply: like merge patch, but an applied null is not a deletion request.
Json applyMerge(Json target, const Json& applied) {
  if (!applied.is_object() || !target.is_object()) {
    return applied;
  }
  for (const auto& [k, v] : applied.items()) {
    target[k] = applyMerge(target.contains(k) ? target[k] : Json(), v);
  }
  return target;
}

}  // namespace

Result<Json> jsonPatch(Json target, const Json& ops) {
  if (!ops.is_array()) {
    return patchError(400, "json patch must be an array of operations");
  }
  for (const auto& op : ops) {
    std::string kind = op.value("op", "");
    std::string path = op.value("path", "");
    Status st;
    if (kind == "add" || kind == "replace") {
      st = addAt(target, path, op.value("value", Json()), kind == "replace");
    } else if (kind == "remove") {
      st = removeAt(target, path, nullptr);
    } else if (kind == "move" || kind == "copy") {
      auto from = resolve(target, op.value("from", ""));
      if (!from) {
        return from.error();
      }
      Json value = **from;
      if (kind == "move") {
        st = removeAt(target, op.value("from", ""), nullptr);
      }
      if (st) {
        st = addAt(target, path, value, false);
      }
    } else if (kind == "test") {
      auto at = resolve(target, path);
      if (!at) {
        return at.error();
      }
      if (**at != op.value("value", Json())) {
        return patchError(422,
                          "the server rejected our request due to an error in our request: "
                          "testing value " +
                              path + " failed");
      }
    } else {
      return patchError(400, "Unexpected kind: " + kind);
    }
    if (!st) {
      return st.error();
    }
  }
  return target;
}

Json strategicMerge(Json target, const Json& patch) {
  return strategicValue(std::move(target), patch);
}

Json serverSideApply(Json live, const Json& applied, bool strategic, const std::string& manager) {
  Json out =
      strategic ? strategicMerge(std::move(live), applied) : applyMerge(std::move(live), applied);
  Json entry = {{"manager", manager},
                {"operation", "Apply"},
                {"apiVersion", applied.value("apiVersion", "")},
                {"time", formatRfc3339(std::chrono::system_clock::now())},
                {"fieldsType", "FieldsV1"},
                {"fieldsV1", Json::object()}};
  Json fields = Json::array();
  for (const auto& e : out["metadata"].value("managedFields", Json::array())) {
    if (e.value("manager", "") != manager) {
      fields.push_back(e);
    }
  }
  fields.push_back(entry);
  out["metadata"]["managedFields"] = fields;
  return out;
}

}  // namespace waha::sim
