#include "controller/views.h"

#include <algorithm>

#include "api/defaults.h"
#include "common/base64.h"
#include "controller/worker_template.h"

namespace waha::controller {
namespace {

std::string str(const Json& j, const char* a, const char* b = nullptr) {
  const Json* cur = &j;
  for (const char* k : {a, b}) {
    if (k == nullptr) {
      break;
    }
    if (!cur->is_object() || !cur->contains(k)) {
      return "";
    }
    cur = &(*cur)[k];
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

}  // namespace

WorkerPod workerPodFrom(const Json& pod) {
  WorkerPod w;
  w.ns = str(pod, "metadata", "namespace");
  w.name = str(pod, "metadata", "name");
  w.uid = str(pod, "metadata", "uid");
  if (pod.contains("metadata") && pod["metadata"].contains("labels")) {
    w.cluster = str(pod["metadata"], "labels", kClusterLabel);
  }
  w.ip = str(pod, "status", "podIP");
  w.node = str(pod, "spec", "nodeName");
  w.terminating = !str(pod, "metadata", "deletionTimestamp").empty();
  if (pod.contains("status") && pod["status"].contains("conditions") &&
      pod["status"]["conditions"].is_array()) {
    for (const auto& c : pod["status"]["conditions"]) {
      if (str(c, "type") == "Ready") {
        w.ready = str(c, "status") == "True";
        WallTime t;
        if (parseRfc3339(str(c, "lastTransitionTime"), t)) {
          w.readyChanged = t;
        }
      }
    }
  }
  std::string phase = str(pod, "status", "phase");
  if (phase == "Failed" || phase == "Succeeded") {
    w.ready = false;
  }
  return w;
}

std::string workerBaseUrl(const WorkerPod& pod) {
  return "http://" + pod.ip + ":" + std::to_string(kWorkerPort);
}

std::vector<std::string> sessionClusterIndex(const Json& s) {
  std::string ns = str(s, "metadata", "namespace");
  std::string cluster;
  if (s.contains("spec") && s["spec"].is_object()) {
    cluster = str(s["spec"], "clusterRef", "name");
  }
  if (cluster.empty()) {
    return {};
  }
  return {ns + "/" + cluster};
}

std::vector<std::string> sessionWorkerIndex(const Json& s) {
  std::string worker = str(s, "status", "worker");
  if (worker.empty()) {
    return {};
  }
  return {str(s, "metadata", "namespace") + "/" + worker};
}

std::vector<std::string> podClusterIndex(const Json& pod) {
  std::string cluster;
  if (pod.contains("metadata") && pod["metadata"].contains("labels")) {
    cluster = str(pod["metadata"], "labels", kClusterLabel);
  }
  if (cluster.empty()) {
    return {};
  }
  return {str(pod, "metadata", "namespace") + "/" + cluster};
}

std::vector<WorkerPod> clusterWorkers(const kube::Store& pods, const std::string& ns,
                                      const std::string& cluster) {
  std::vector<WorkerPod> out;
  for (const auto& p : pods.byIndex(kByCluster, ns + "/" + cluster)) {
    out.push_back(workerPodFrom(*p));
  }
  std::sort(out.begin(), out.end(),
            [](const WorkerPod& a, const WorkerPod& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> sessionDemandIndex(const Json& obj) {
  std::string cluster = obj.value("/spec/clusterRef/name"_json_pointer, std::string());
  if (cluster.empty()) {
    return {};
  }
  std::string prefix =
      obj.value("/metadata/namespace"_json_pointer, std::string()) + "/" + cluster + "/";
  if (!obj.value("/status/worker"_json_pointer, std::string()).empty()) {
    return {prefix + "assigned"};
  }
  bool wants = obj.value("/spec/state"_json_pointer,
                         std::string(api::toString(api::kDefaultSessionState))) == "Running" &&
               !obj.contains("/metadata/deletionTimestamp"_json_pointer);
  return wants ? std::vector<std::string>{prefix + "waiting"} : std::vector<std::string>{};
}

std::vector<NamedIndex> sessionIndexes() {
  return {{kByCluster, sessionClusterIndex},
          {kByWorker, sessionWorkerIndex},
          {kBySessionName, sessionNameIndex},
          {kByDemand, sessionDemandIndex}};
}

std::vector<NamedIndex> podIndexes() { return {{kByCluster, podClusterIndex}}; }

std::vector<std::string> sessionNameIndex(const Json& obj) {
  // Raw fields, no full parse: this runs on every write to the session cache.
  std::string cluster = obj.value("/spec/clusterRef/name"_json_pointer, std::string());
  std::string name = obj.value("/metadata/name"_json_pointer, std::string());
  if (cluster.empty() || name.empty()) {
    return {};
  }
  std::string waha = obj.value("/spec/sessionName"_json_pointer, name);
  return {obj.value("/metadata/namespace"_json_pointer, std::string()) + "/" + cluster + "/" +
          waha};
}

std::optional<std::string> secretValue(const kube::Store& secrets, const std::string& ns,
                                       const std::string& name, const std::string& key) {
  auto s = secrets.get(kube::objectKey(ns, name));
  if (!s) {
    return std::nullopt;
  }
  if (s->contains("data") && (*s)["data"].is_object() && (*s)["data"].contains(key) &&
      (*s)["data"][key].is_string()) {
    return base64Decode((*s)["data"][key].get<std::string>()).value_or("");
  }
  if (s->contains("stringData") && (*s)["stringData"].is_object() &&
      (*s)["stringData"].contains(key) && (*s)["stringData"][key].is_string()) {
    return (*s)["stringData"][key].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace waha::controller
