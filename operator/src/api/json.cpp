// JSON for the API types. Readers prefix the failing key to any error from below them, so a parse
// error names its whole field path ("spec.workers.min: ...") without threading paths through
// every from_json.

#include <array>
#include <stdexcept>
#include <utility>

#include "api/types.h"

namespace waha::api {
namespace {

std::string shortJsonError(const nlohmann::json::exception& e) {
  std::string msg = e.what();
  // "[json.exception.type_error.302] type must be number, but is string" -> the part after "] ".
  auto pos = msg.find("] ");
  return pos == std::string::npos ? msg : msg.substr(pos + 2);
}

[[noreturn]] void rethrowWithPrefix(const std::string& prefix) {
  try {
    throw;
  } catch (const std::invalid_argument& e) {
    std::string inner = e.what();
    std::string sep = (!inner.empty() && inner[0] == '[') ? "" : ".";
    if (inner.rfind(": ", 0) == 0) {
      sep = "";
    }
    throw std::invalid_argument(prefix + sep + inner);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(prefix + ": " + shortJsonError(e));
  }
}

template <typename T>
void read(const Json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return;
  }
  try {
    out = it->template get<T>();
  } catch (...) {
    rethrowWithPrefix(key);
  }
}

template <typename T>
void read(const Json& j, const char* key, std::optional<T>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return;
  }
  try {
    out = it->template get<T>();
  } catch (...) {
    rethrowWithPrefix(key);
  }
}

template <typename T>
void readList(const Json& j, const char* key, std::vector<T>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return;
  }
  if (!it->is_array()) {
    throw std::invalid_argument(std::string(key) + ": must be an array");
  }
  out.clear();
  for (std::size_t i = 0; i < it->size(); ++i) {
    try {
      out.push_back((*it)[i].template get<T>());
    } catch (...) {
      rethrowWithPrefix(std::string(key) + "[" + std::to_string(i) + "]");
    }
  }
}

template <typename E>
void readEnum(const Json& j, const char* key, std::optional<E>& out,
              bool (*parse)(std::string_view, E&)) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return;
  }
  E v{};
  if (!it->is_string() || !parse(it->template get<std::string>(), v)) {
    throw std::invalid_argument(std::string(key) + ": unsupported value " + it->dump());
  }
  out = v;
}

// Pass-through JSON (config, env, ...): kept as it is, null when absent.
void readRaw(const Json& j, const char* key, Json& out, bool mustBeObject) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return;
  }
  if (mustBeObject && !it->is_object()) {
    throw std::invalid_argument(std::string(key) + ": must be an object");
  }
  if (!mustBeObject && !it->is_array() && !it->is_object()) {
    throw std::invalid_argument(std::string(key) + ": must be an array or object");
  }
  out = *it;
}

void requireObject(const Json& j) {
  if (!j.is_object()) {
    throw std::invalid_argument(": must be an object");
  }
}

template <typename T>
void putOpt(Json& j, const char* key, const std::optional<T>& v) {
  if (v) {
    j[key] = *v;
  }
}

void putStr(Json& j, const char* key, const std::string& v) {
  if (!v.empty()) {
    j[key] = v;
  }
}

template <typename E>
void putEnum(Json& j, const char* key, const std::optional<E>& v) {
  if (v) {
    j[key] = std::string(toString(*v));
  }
}

// Quantities: Kubernetes keeps what the user wrote, which may be a JSON number.
std::map<std::string, std::string> readQuantities(const Json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) {
    throw std::invalid_argument(": must be an object");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_string()) {
      out[it.key()] = it->get<std::string>();
    } else if (it->is_number()) {
      out[it.key()] = it->dump();
    } else {
      throw std::invalid_argument(it.key() + ": must be a quantity (string or number)");
    }
  }
  return out;
}

}  // namespace

// ---- metadata --------------------------------------------------------------------------------
void to_json(Json& j, const OwnerReference& v) {
  j = Json{{"apiVersion", v.apiVersion}, {"kind", v.kind}, {"name", v.name}, {"uid", v.uid}};
  putOpt(j, "controller", v.controller);
  putOpt(j, "blockOwnerDeletion", v.blockOwnerDeletion);
}

void from_json(const Json& j, OwnerReference& v) {
  requireObject(j);
  read(j, "apiVersion", v.apiVersion);
  read(j, "kind", v.kind);
  read(j, "name", v.name);
  read(j, "uid", v.uid);
  read(j, "controller", v.controller);
  read(j, "blockOwnerDeletion", v.blockOwnerDeletion);
}

void to_json(Json& j, const ObjectMeta& v) {
  j = Json::object();
  putStr(j, "name", v.name);
  putStr(j, "generateName", v.generateName);
  putStr(j, "namespace", v.namespace_);
  putStr(j, "uid", v.uid);
  putStr(j, "resourceVersion", v.resourceVersion);
  if (v.generation != 0) {
    j["generation"] = v.generation;
  }
  if (!v.labels.empty()) {
    j["labels"] = v.labels;
  }
  if (!v.annotations.empty()) {
    j["annotations"] = v.annotations;
  }
  if (!v.finalizers.empty()) {
    j["finalizers"] = v.finalizers;
  }
  if (!v.ownerReferences.empty()) {
    j["ownerReferences"] = v.ownerReferences;
  }
  putOpt(j, "creationTimestamp", v.creationTimestamp);
  putOpt(j, "deletionTimestamp", v.deletionTimestamp);
}

void from_json(const Json& j, ObjectMeta& v) {
  requireObject(j);
  read(j, "name", v.name);
  read(j, "generateName", v.generateName);
  read(j, "namespace", v.namespace_);
  read(j, "uid", v.uid);
  read(j, "resourceVersion", v.resourceVersion);
  read(j, "generation", v.generation);
  read(j, "labels", v.labels);
  read(j, "annotations", v.annotations);
  readList(j, "finalizers", v.finalizers);
  readList(j, "ownerReferences", v.ownerReferences);
  read(j, "creationTimestamp", v.creationTimestamp);
  read(j, "deletionTimestamp", v.deletionTimestamp);
}

void to_json(Json& j, const Condition& v) {
  j = Json{{"type", v.type},
           {"status", v.status},
           {"lastTransitionTime", v.lastTransitionTime},
           {"reason", v.reason},
           {"message", v.message}};
  if (v.observedGeneration != 0) {
    j["observedGeneration"] = v.observedGeneration;
  }
}

void from_json(const Json& j, Condition& v) {
  requireObject(j);
  read(j, "type", v.type);
  read(j, "status", v.status);
  read(j, "observedGeneration", v.observedGeneration);
  read(j, "lastTransitionTime", v.lastTransitionTime);
  read(j, "reason", v.reason);
  read(j, "message", v.message);
}

void to_json(Json& j, const SecretKeyRef& v) { j = Json{{"name", v.name}, {"key", v.key}}; }

void from_json(const Json& j, SecretKeyRef& v) {
  requireObject(j);
  read(j, "name", v.name);
  read(j, "key", v.key);
}

void to_json(Json& j, const ResourceRequirements& v) {
  j = Json::object();
  if (!v.requests.empty()) {
    j["requests"] = v.requests;
  }
  if (!v.limits.empty()) {
    j["limits"] = v.limits;
  }
}

void from_json(const Json& j, ResourceRequirements& v) {
  requireObject(j);
  for (const char* key : {"requests", "limits"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      continue;
    }
    try {
      (std::string(key) == "requests" ? v.requests : v.limits) = readQuantities(*it);
    } catch (...) {
      rethrowWithPrefix(key);
    }
  }
}

// ---- WahaCluster ------------------------------------------------------------------------------
void to_json(Json& j, const WorkersSpec& v) {
  j = Json::object();
  putOpt(j, "min", v.min);
  putOpt(j, "max", v.max);
}
void from_json(const Json& j, WorkersSpec& v) {
  requireObject(j);
  read(j, "min", v.min);
  read(j, "max", v.max);
}
void to_json(Json& j, const SessionStorageSpec& v) {
  j = Json::object();
  putEnum(j, "type", v.type);
  putOpt(j, "postgresUrlSecretRef", v.postgresUrlSecretRef);
}
void from_json(const Json& j, SessionStorageSpec& v) {
  requireObject(j);
  readEnum(j, "type", v.type, &parseStorageType);
  read(j, "postgresUrlSecretRef", v.postgresUrlSecretRef);
}
void to_json(Json& j, const PlacementSpec& v) {
  j = Json::object();
  putEnum(j, "strategy", v.strategy);
}
void from_json(const Json& j, PlacementSpec& v) {
  requireObject(j);
  readEnum(j, "strategy", v.strategy, &parsePlacementStrategy);
}
void to_json(Json& j, const FailoverSpec& v) {
  j = Json::object();
  putOpt(j, "notReadyTimeoutSeconds", v.notReadyTimeoutSeconds);
}
void from_json(const Json& j, FailoverSpec& v) {
  requireObject(j);
  read(j, "notReadyTimeoutSeconds", v.notReadyTimeoutSeconds);
}
void to_json(Json& j, const ClusterRef& v) { j = Json{{"name", v.name}}; }
void from_json(const Json& j, ClusterRef& v) {
  requireObject(j);
  read(j, "name", v.name);
}
void to_json(Json& j, const SessionSecretRefs& v) {
  j = Json::object();
  putOpt(j, "proxyPassword", v.proxyPassword);
  putOpt(j, "webhookHmacKey", v.webhookHmacKey);
}
void from_json(const Json& j, SessionSecretRefs& v) {
  requireObject(j);
  read(j, "proxyPassword", v.proxyPassword);
  read(j, "webhookHmacKey", v.webhookHmacKey);
}
void to_json(Json& j, const MeInfo& v) { j = Json{{"id", v.id}, {"pushName", v.pushName}}; }
void from_json(const Json& j, MeInfo& v) {
  requireObject(j);
  read(j, "id", v.id);
  read(j, "pushName", v.pushName);
}

void to_json(Json& j, const WahaClusterSpec& v) {
  j = Json::object();
  putEnum(j, "engine", v.engine);
  putOpt(j, "image", v.image);
  putOpt(j, "sessionsPerWorker", v.sessionsPerWorker);
  putOpt(j, "workers", v.workers);
  putOpt(j, "apiKeySecretRef", v.apiKeySecretRef);
  putOpt(j, "sessionStorage", v.sessionStorage);
  putOpt(j, "resources", v.resources);
  if (!v.env.is_null()) {
    j["env"] = v.env;
  }
  putOpt(j, "nodeSelector", v.nodeSelector);
  if (!v.tolerations.is_null()) {
    j["tolerations"] = v.tolerations;
  }
  if (!v.affinity.is_null()) {
    j["affinity"] = v.affinity;
  }
  putOpt(j, "podAnnotations", v.podAnnotations);
  putOpt(j, "placement", v.placement);
  putOpt(j, "failover", v.failover);
}

void from_json(const Json& j, WahaClusterSpec& v) {
  requireObject(j);
  readEnum(j, "engine", v.engine, &parseEngine);
  read(j, "image", v.image);
  read(j, "sessionsPerWorker", v.sessionsPerWorker);
  read(j, "workers", v.workers);
  read(j, "apiKeySecretRef", v.apiKeySecretRef);
  read(j, "sessionStorage", v.sessionStorage);
  read(j, "resources", v.resources);
  readRaw(j, "env", v.env, false);
  read(j, "nodeSelector", v.nodeSelector);
  readRaw(j, "tolerations", v.tolerations, false);
  readRaw(j, "affinity", v.affinity, true);
  read(j, "podAnnotations", v.podAnnotations);
  read(j, "placement", v.placement);
  read(j, "failover", v.failover);
}

void to_json(Json& j, const WorkerStatus& v) {
  j = Json{{"pod", v.pod}, {"ready", v.ready}, {"sessions", v.sessions}, {"draining", v.draining}};
  putStr(j, "ip", v.ip);
}

void from_json(const Json& j, WorkerStatus& v) {
  requireObject(j);
  read(j, "pod", v.pod);
  read(j, "ip", v.ip);
  read(j, "ready", v.ready);
  read(j, "sessions", v.sessions);
  read(j, "draining", v.draining);
}

void to_json(Json& j, const WahaClusterStatus& v) {
  j = Json{{"observedGeneration", v.observedGeneration},
           {"replicas", v.replicas},
           {"readyWorkers", v.readyWorkers},
           {"sessions", v.sessions},
           {"capacity", v.capacity},
           {"workers", v.workers},
           {"conditions", v.conditions}};
  putStr(j, "ready", v.ready);
}

void from_json(const Json& j, WahaClusterStatus& v) {
  requireObject(j);
  read(j, "observedGeneration", v.observedGeneration);
  read(j, "replicas", v.replicas);
  read(j, "readyWorkers", v.readyWorkers);
  read(j, "ready", v.ready);
  read(j, "sessions", v.sessions);
  read(j, "capacity", v.capacity);
  readList(j, "workers", v.workers);
  readList(j, "conditions", v.conditions);
}

void to_json(Json& j, const WahaCluster& v) {
  j = Json{{"apiVersion", kApiVersion},
           {"kind", kClusterKind},
           {"metadata", v.metadata},
           {"spec", v.spec}};
  putOpt(j, "status", v.status);
}

void from_json(const Json& j, WahaCluster& v) {
  requireObject(j);
  read(j, "metadata", v.metadata);
  read(j, "spec", v.spec);
  read(j, "status", v.status);
}

// ---- WahaSession ------------------------------------------------------------------------------
void to_json(Json& j, const WahaSessionSpec& v) {
  j = Json{{"clusterRef", v.clusterRef}};
  putOpt(j, "sessionName", v.sessionName);
  putEnum(j, "state", v.state);
  putEnum(j, "deletionPolicy", v.deletionPolicy);
  if (!v.config.is_null()) {
    j["config"] = v.config;
  }
  putOpt(j, "secretRefs", v.secretRefs);
}

void from_json(const Json& j, WahaSessionSpec& v) {
  requireObject(j);
  read(j, "clusterRef", v.clusterRef);
  read(j, "sessionName", v.sessionName);
  readEnum(j, "state", v.state, &parseSessionState);
  readEnum(j, "deletionPolicy", v.deletionPolicy, &parseDeletionPolicy);
  readRaw(j, "config", v.config, true);
  read(j, "secretRefs", v.secretRefs);
}

void to_json(Json& j, const WahaSessionStatus& v) {
  j = Json{{"observedGeneration", v.observedGeneration},
           {"epoch", v.epoch},
           {"conditions", v.conditions}};
  putEnum(j, "phase", v.phase);
  putStr(j, "worker", v.worker);
  putStr(j, "workerIP", v.workerIP);
  putStr(j, "node", v.node);
  putStr(j, "wahaStatus", v.wahaStatus);
  putOpt(j, "me", v.me);
  putStr(j, "assignedAt", v.assignedAt);
  putStr(j, "message", v.message);
}

void from_json(const Json& j, WahaSessionStatus& v) {
  requireObject(j);
  read(j, "observedGeneration", v.observedGeneration);
  readEnum(j, "phase", v.phase, &parseSessionPhase);
  read(j, "worker", v.worker);
  read(j, "workerIP", v.workerIP);
  read(j, "node", v.node);
  read(j, "wahaStatus", v.wahaStatus);
  read(j, "me", v.me);
  read(j, "epoch", v.epoch);
  read(j, "assignedAt", v.assignedAt);
  read(j, "message", v.message);
  readList(j, "conditions", v.conditions);
}

void to_json(Json& j, const WahaSession& v) {
  j = Json{{"apiVersion", kApiVersion},
           {"kind", kSessionKind},
           {"metadata", v.metadata},
           {"spec", v.spec}};
  putOpt(j, "status", v.status);
}

void from_json(const Json& j, WahaSession& v) {
  requireObject(j);
  read(j, "metadata", v.metadata);
  read(j, "spec", v.spec);
  read(j, "status", v.status);
}

namespace {
template <typename T>
Result<T> parseAs(const Json& j) {
  try {
    return j.get<T>();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (msg.rfind(": ", 0) == 0) {
      msg = "(object)" + msg;
    }
    return Error::make(422, "Invalid", msg);
  }
}
}  // namespace

Result<WahaCluster> parseCluster(const Json& j) { return parseAs<WahaCluster>(j); }
Result<WahaSession> parseSession(const Json& j) { return parseAs<WahaSession>(j); }

}  // namespace waha::api
