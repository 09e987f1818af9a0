// Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for: CRD
// additionalPrinterColumns through a small JSONPath evaluator, and the familiar columns of pods,
// deployments, replicasets, namespaces and nodes.

#include <algorithm>

#include "api_server.h"
#include "common/clock.h"

namespace waha::sim {

namespace {

// kubectl's duration.HumanDuration, so AGE reads like a real cluster's.
std::string humanDuration(std::chrono::seconds d) {
  long long s = d.count();
  if (s < -1) {
    return "<invalid>";
  }
  if (s < 0) {
    return "0s";
  }
  if (s < 120) {
    return std::to_string(s) + "s";
  }
  long long m = s / 60;
  if (m < 10) {
    return s % 60 == 0 ? std::to_string(m) + "m"
                       : std::to_string(m) + "m" + std::to_string(s % 60) + "s";
  }
  if (m < 180) {
    return std::to_string(m) + "m";
  }
  long long h = m / 60;
  if (h < 8) {
    return m % 60 == 0 ? std::to_string(h) + "h"
                       : std::to_string(h) + "h" + std::to_string(m % 60) + "m";
  }
  if (h < 48) {
    return std::to_string(h) + "h";
  }
  if (h < 24 * 8) {
    return h % 24 == 0 ? std::to_string(h / 24) + "d"
                       : std::to_string(h / 24) + "d" + std::to_string(h % 24) + "h";
  }
  if (h < 24 * 365 * 2) {
    return std::to_string(h / 24) + "d";
  }
  return std::to_string(h / 24 / 365) + "y";
}

std::string age(const Json& obj) {
  WallTime t;
  if (!parseRfc3339(obj["metadata"].value("creationTimestamp", ""), t)) {
    return "<unknown>";
  }
  return humanDuration(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t));
}

// Evaluates the JSONPath subset printer columns use: .a.b, [n], [*], [?(@.k=="v")].
Json evalPath(const Json& root, std::string path) {
  if (!path.empty() && path.front() == '{' && path.back() == '}') {
    path = path.substr(1, path.size() - 2);
  }
  const Json* cur = &root;
  size_t i = 0;
  while (i < path.size() && cur != nullptr) {
    if (path[i] == '.') {
      size_t end = path.find_first_of(".[", i + 1);
      std::string key =
          path.substr(i + 1, end == std::string::npos ? std::string::npos : end - i - 1);
      i = end == std::string::npos ? path.size() : end;
      if (key.empty()) {
        continue;
      }
      cur = cur->is_object() && cur->contains(key) ? &(*cur)[key] : nullptr;
    } else if (path[i] == '[') {
      size_t end = path.find(']', i);
      if (end == std::string::npos) {
        return nullptr;
      }
      std::string inner = path.substr(i + 1, end - i - 1);
      i = end + 1;
      if (!cur->is_array()) {
        return nullptr;
      }
      if (inner.rfind("?(@.", 0) == 0) {
        size_t eq = inner.find("==");
        std::string key = inner.substr(4, eq - 4);
        std::string val = inner.substr(eq + 2);
        val.erase(std::remove_if(val.begin(), val.end(),
                                 [](char c) { return c == '"' || c == '\'' || c == ')'; }),
                  val.end());
        const Json* hit = nullptr;
        for (const auto& e : *cur) {
          if (e.is_object() && e.contains(key) && e[key].is_string() &&
              e[key].get<std::string>() == val) {
            hit = &e;
            break;
          }
        }
        cur = hit;
      } else if (inner == "*") {
        cur = cur->empty() ? nullptr : &(*cur)[0];
      } else {
        size_t idx = std::stoul(inner);
        cur = idx < cur->size() ? &(*cur)[idx] : nullptr;
      }
    } else {
      ++i;
    }
  }
  return cur == nullptr ? Json() : *cur;
}

Json cellFor(const std::string& type, const Json& v) {
  if (v.is_null()) {
    return nullptr;
  }
  if (type == "date" && v.is_string()) {
    WallTime t;
    if (!parseRfc3339(v.get<std::string>(), t)) {
      return "<invalid>";
    }
    return humanDuration(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t));
  }
  if (type == "string" && !v.is_string()) {
    return v.dump();
  }
  return v;
}

Json column(const std::string& name, const std::string& type, int priority = 0,
            const std::string& format = "") {
  return {{"name", name},
          {"type", type},
          {"format", format},
          {"description", name},
          {"priority", priority}};
}

std::string podStatus(const Json& pod) {
  if (pod["metadata"].contains("deletionTimestamp")) {
    return "Terminating";
  }
  for (const auto& cs : pod["status"].value("containerStatuses", Json::array())) {
    const Json& st = cs.value("state", Json::object());
    if (st.contains("waiting") && st["waiting"].contains("reason")) {
      return st["waiting"]["reason"];
    }
  }
  return pod["status"].value("phase", "Pending");
}

Json podCells(const Json& pod) {
  const Json& st = pod.value("status", Json::object());
  size_t total = pod["spec"].value("containers", Json::array()).size();
  size_t ready = 0;
  long long restarts = 0;
  for (const auto& cs : st.value("containerStatuses", Json::array())) {
    ready += cs.value("ready", false) ? 1 : 0;
    restarts += cs.value("restartCount", 0);
  }
  return Json::array({pod["metadata"]["name"], std::to_string(ready) + "/" + std::to_string(total),
                      podStatus(pod), std::to_string(restarts), age(pod),
                      st.value("podIP", "<none>"), pod["spec"].value("nodeName", "<none>"),
                      "<none>", "<none>"});
}

Json deploymentCells(const Json& d) {
  const Json& st = d.value("status", Json::object());
  std::string images;
  std::string names;
  for (const auto& c : d["spec"]["template"]["spec"].value("containers", Json::array())) {
    names += (names.empty() ? "" : ",") + c.value("name", "");
    images += (images.empty() ? "" : ",") + c.value("image", "");
  }
  std::string sel;
  const Json matchLabels = d["spec"]["selector"].value("matchLabels", Json::object());
  for (const auto& [k, v] : matchLabels.items()) {
    sel += (sel.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return Json::array({d["metadata"]["name"],
                      std::to_string(st.value("readyReplicas", 0)) + "/" +
                          std::to_string(d["spec"].value("replicas", 1)),
                      st.value("updatedReplicas", 0), st.value("availableReplicas", 0), age(d),
                      names, images, sel});
}

}  // namespace

Json toTable(const ResourceInfo& info, const std::vector<Json>& items, const Json& listMeta,
             bool withColumns) {
  Json cols = Json::array({column("Name", "string", 0, "name")});
  const std::string& res = info.gvr.resource;
  std::vector<std::function<Json(const Json&)>> getters;
  if (!info.builtin) {
    Json printer = info.printerColumns.is_array() && !info.printerColumns.empty()
                       ? info.printerColumns
                       : Json::array({{{"name", "Age"},
                                       {"type", "date"},
                                       {"jsonPath", ".metadata.creationTimestamp"}}});
    for (const auto& c : printer) {
      cols.push_back(column(c.value("name", ""), c.value("type", "string"), c.value("priority", 0),
                            c.value("format", "")));
      std::string path = c.value("jsonPath", "");
      std::string type = c.value("type", "string");
      getters.push_back([path, type](const Json& o) { return cellFor(type, evalPath(o, path)); });
    }
  } else if (res == "pods") {
    for (auto [n, p] : std::vector<std::pair<const char*, int>>{{"Ready", 0},
                                                                {"Status", 0},
                                                                {"Restarts", 0},
                                                                {"Age", 0},
                                                                {"IP", 1},
                                                                {"Node", 1},
                                                                {"Nominated Node", 1},
                                                                {"Readiness Gates", 1}}) {
      cols.push_back(column(n, "string", p));
    }
  } else if (res == "deployments") {
    cols.push_back(column("Ready", "string"));
    cols.push_back(column("Up-to-date", "integer"));
    cols.push_back(column("Available", "integer"));
    cols.push_back(column("Age", "string"));
    cols.push_back(column("Containers", "string", 1));
    cols.push_back(column("Images", "string", 1));
    cols.push_back(column("Selector", "string", 1));
  } else if (res == "replicasets") {
    for (const char* n : {"Desired", "Current", "Ready"}) {
      cols.push_back(column(n, "integer"));
    }
    cols.push_back(column("Age", "string"));
    getters = {
        [](const Json& o) { return Json(o["spec"].value("replicas", 0)); },
        [](const Json& o) { return Json(o.value("status", Json::object()).value("replicas", 0)); },
        [](const Json& o) {
          return Json(o.value("status", Json::object()).value("readyReplicas", 0));
        },
        [](const Json& o) { return Json(age(o)); }};
  } else if (res == "events") {
    // kubectl get events: LAST SEEN TYPE REASON OBJECT MESSAGE (core v1 and events.k8s.io/v1).
    for (const char* n : {"Last Seen", "Type", "Reason", "Object", "Message"}) {
      cols.push_back(column(n, "string"));
    }
    getters = {[](const Json& o) {
                 for (const char* k : {"lastTimestamp", "eventTime", "deprecatedLastTimestamp"}) {
                   if (o.contains(k) && o[k].is_string()) {
                     return cellFor("date", o[k]);
                   }
                 }
                 return Json(age(o));
               },
               [](const Json& o) { return Json(o.value("type", "")); },
               [](const Json& o) { return Json(o.value("reason", "")); },
               [](const Json& o) {
                 const Json& ref = o.contains("regarding")
                                       ? o["regarding"]
                                       : o.value("involvedObject", Json::object());
                 std::string kind = ref.value("kind", "");
                 std::transform(kind.begin(), kind.end(), kind.begin(), ::tolower);
                 return Json(kind + "/" + ref.value("name", ""));
               },
               [](const Json& o) {
                 return Json(o.contains("note") ? o.value("note", "") : o.value("message", ""));
               }};
  } else if (res == "leases") {
    cols.push_back(column("Holder", "string"));
    cols.push_back(column("Age", "string"));
    getters = {[](const Json& o) {
                 return Json(o.value("spec", Json::object()).value("holderIdentity", ""));
               },
               [](const Json& o) { return Json(age(o)); }};
  } else if (res == "namespaces" || res == "nodes") {
    cols.push_back(column("Status", "string"));
    cols.push_back(column("Age", "string"));
    getters = {[res](const Json& o) {
                 if (res == "namespaces") {
                   return Json(o.value("status", Json::object()).value("phase", "Active"));
                 }
                 return Json("Ready");
               },
               [](const Json& o) { return Json(age(o)); }};
  } else {
    cols.push_back(column("Age", "string"));
    getters = {[](const Json& o) { return Json(age(o)); }};
  }
  Json rows = Json::array();
  for (const auto& obj : items) {
    Json cells;
    if (info.builtin && res == "pods") {
      cells = podCells(obj);
    } else if (info.builtin && res == "deployments") {
      cells = deploymentCells(obj);
    } else {
      cells = Json::array({obj["metadata"].value("name", "")});
      for (const auto& g : getters) {
        cells.push_back(g(obj));
      }
    }
    rows.push_back({{"cells", cells},
                    {"object",
                     {{"kind", "PartialObjectMetadata"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", obj["metadata"]}}}});
  }
  Json table = {
      {"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", listMeta}, {"rows", rows}};
  table["columnDefinitions"] = withColumns ? cols : Json::array();
  return table;
}

}  // namespace waha::sim
