#include "controller/worker_template.h"

#include <algorithm>
#include <functional>

#include "api/defaults.h"
#include "api/validation.h"

namespace waha::controller {
namespace {

Json secretEnv(const std::string& name, const api::SecretKeyRef& ref) {
  return {{"name", name},
          {"valueFrom", {{"secretKeyRef", {{"name", ref.name}, {"key", ref.key}}}}}};
}

// The user's env may not override the operator's (validation refuses it; this keeps a bad object
// harmless): each one keeps the one-worker rule or the key safe, e.g.
// WHATSAPP_RESTART_ALL_SESSIONS=true would make every worker start every session.
bool isManagedEnv(const std::string& name) {
  const auto& managed = api::operatorManagedEnv();
  return std::find(managed.begin(), managed.end(), name) != managed.end();
}

Json plainEnv(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

Json buildEnv(const api::WahaClusterSpec& spec) {
  Json env = Json::array();
  env.push_back(
      plainEnv("WHATSAPP_DEFAULT_ENGINE", std::string(api::toString(api::effectiveEngine(spec)))));
  env.push_back(plainEnv("WHATSAPP_API_PORT", std::to_string(kWorkerPort)));
  if (spec.apiKeySecretRef) {
    env.push_back(secretEnv("WHATSAPP_API_KEY", *spec.apiKeySecretRef));
  }
  env.push_back({{"name", "WAHA_WORKER_ID"},
                 {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}});
  env.push_back(plainEnv("WHATSAPP_RESTART_ALL_SESSIONS", "false"));
  env.push_back(plainEnv("WAHA_WORKER_RESTART_SESSIONS", "true"));
  env.push_back(plainEnv("WHATSAPP_API_KEY_EXCLUDE_PATH", "ping"));
  if (api::effectiveStorageType(spec) == api::StorageType::PostgreSQL && spec.sessionStorage &&
      spec.sessionStorage->postgresUrlSecretRef) {
    env.push_back(
        secretEnv("WHATSAPP_SESSIONS_POSTGRESQL_URL", *spec.sessionStorage->postgresUrlSecretRef));
  }
  if (spec.env.is_array()) {
    for (const auto& e : spec.env) {
      if (e.is_object() && e.contains("name") && e["name"].is_string() &&
          !isManagedEnv(e["name"].get<std::string>())) {
        env.push_back(e);
      }
    }
  }
  return env;
}

Json probe(int initialDelay, int period, int failures) {
  return {{"httpGet", {{"path", "/ping"}, {"port", "http"}}},
          {"initialDelaySeconds", initialDelay},
          {"periodSeconds", period},
          {"timeoutSeconds", 3},
          {"failureThreshold", failures}};
}

Json buildResources(const api::WahaClusterSpec& spec) {
  auto r = api::effectiveResources(spec);
  Json out = Json::object();
  if (!r.requests.empty()) {
    out["requests"] = r.requests;
  }
  if (!r.limits.empty()) {
    out["limits"] = r.limits;
  }
  return out;
}

Json commonLabels(const std::string& cluster) {
  return {{"app.kubernetes.io/name", "waha"},
          {"app.kubernetes.io/instance", cluster},
          {kComponentLabel, kWorkerComponent},
          {"app.kubernetes.io/managed-by", kManagedBy},
          {kClusterLabel, cluster}};
}

Json buildPodTemplate(const api::WahaCluster& c) {
  const auto& spec = c.spec;
  Json container = {
      {"name", "waha"},
      {"image", spec.image.value_or(api::kDefaultImage)},
      {"ports",
       Json::array({{{"name", "http"}, {"containerPort", kWorkerPort}, {"protocol", "TCP"}}})},
      {"env", buildEnv(spec)},
      {"readinessProbe", probe(2, 5, 3)},
      {"livenessProbe", probe(30, 10, 6)},
      {"resources", buildResources(spec)},
  };
  Json podSpec = {{"containers", Json::array({container})},
                  // Real WAHA needs seconds to close sessions on SIGTERM (a fixed 3 s per stop).
                  {"terminationGracePeriodSeconds", 60}};
  if (spec.nodeSelector && !spec.nodeSelector->empty()) {
    podSpec["nodeSelector"] = *spec.nodeSelector;
  }
  if (spec.tolerations.is_array() && !spec.tolerations.empty()) {
    podSpec["tolerations"] = spec.tolerations;
  }
  if (spec.affinity.is_object() && !spec.affinity.empty()) {
    podSpec["affinity"] = spec.affinity;
  }
  Json meta = {{"labels", commonLabels(c.metadata.name)}};
  Json annotations = Json::object();
  if (spec.podAnnotations) {
    for (const auto& [k, v] : *spec.podAnnotations) {
      annotations[k] = v;
    }
  }
  Json tmpl = {{"metadata", meta}, {"spec", podSpec}};
  // The hash covers what the operator builds (not the user's annotations, which follow anyway):
  // a change to it is a change to roll out.
  annotations[kTemplateHashAnnotation] = std::to_string(std::hash<std::string>{}(tmpl.dump()));
  tmpl["metadata"]["annotations"] = annotations;
  return tmpl;
}

}  // namespace

std::string workerDeploymentName(const std::string& cluster) { return cluster + "-workers"; }

Json workerSelector(const std::string& cluster) {
  return {{kClusterLabel, cluster}, {kComponentLabel, kWorkerComponent}};
}

std::string workerSelectorText(const std::string& cluster) {
  return std::string(kClusterLabel) + "=" + cluster + "," + kComponentLabel + "=" +
         kWorkerComponent;
}

Json clusterOwnerReference(const api::WahaCluster& c) {
  return {{"apiVersion", api::kApiVersion}, {"kind", "WahaCluster"}, {"name", c.metadata.name},
          {"uid", c.metadata.uid},          {"controller", true},    {"blockOwnerDeletion", true}};
}

namespace {
// Metadata of what the operator creates for a cluster: named after it, labelled, owned by it.
Json ownedMetadata(const api::WahaCluster& c) {
  return {{"name", workerDeploymentName(c.metadata.name)},
          {"namespace", c.metadata.namespace_},
          {"labels", commonLabels(c.metadata.name)},
          {"ownerReferences", Json::array({clusterOwnerReference(c)})}};
}
}  // namespace

Json buildWorkerDeployment(const api::WahaCluster& c, int replicas) {
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", ownedMetadata(c)},
      {"spec",
       {{"replicas", replicas},
        {"selector", {{"matchLabels", workerSelector(c.metadata.name)}}},
        // One new worker at a time and none taken away before its replacement is Ready:
        // sessions of a replaced worker move, and moving is stop-then-start.
        {"strategy",
         {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}}},
        {"template", buildPodTemplate(c)}}}};
}

Json buildWorkerPdb(const api::WahaCluster& c) {
  return {
      {"apiVersion", "policy/v1"},
      {"kind", "PodDisruptionBudget"},
      {"metadata", ownedMetadata(c)},
      {"spec",
       {{"maxUnavailable", 1}, {"selector", {{"matchLabels", workerSelector(c.metadata.name)}}}}}};
}

}  // namespace waha::controller
