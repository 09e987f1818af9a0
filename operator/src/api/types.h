#pragma once

// C++ view of the two custom resources (crds/waha.io_*.yaml, docs/crd-reference.md).
// Optional fields stay std::optional so that a parsed object writes back exactly what it held:
// defaults are applied explicitly (api/defaults.h), never by serialisation.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace waha::api {

using Json = nlohmann::json;

inline constexpr const char* kGroup = "waha.io";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "waha.io/v1alpha1";
inline constexpr const char* kClusterKind = "WahaCluster";
inline constexpr const char* kClusterPlural = "wahaclusters";
inline constexpr const char* kSessionKind = "WahaSession";
inline constexpr const char* kSessionPlural = "wahasessions";
// Label on every worker pod (and its Deployment): the WahaCluster it belongs to.
inline constexpr const char* kClusterLabel = "waha.io/cluster";
// Held on every WahaSession until its WAHA session is stopped (and logged out, per
// deletionPolicy) on its worker.
inline constexpr const char* kSessionFinalizer = "waha.io/session-cleanup";

// ---- enums (string forms are exactly the CRD enum values) -------------------------------------
enum class Engine { Webjs, Noweb, Gows };
enum class StorageType { Local, PostgreSQL };
enum class PlacementStrategy { LeastLoaded, BinPack };
enum class SessionState { Running, Stopped };
enum class DeletionPolicy { Logout, Keep };
enum class SessionPhase {
  Pending,
  Scheduled,
  Starting,
  Running,
  Stopped,
  Migrating,
  Failed,
  Terminating
};

std::string_view toString(Engine v);
std::string_view toString(StorageType v);
std::string_view toString(PlacementStrategy v);
std::string_view toString(SessionState v);
std::string_view toString(DeletionPolicy v);
std::string_view toString(SessionPhase v);
// Each returns false (out untouched) for a value the CRD does not allow.
bool parseEngine(std::string_view s, Engine& out);
bool parseStorageType(std::string_view s, StorageType& out);
bool parsePlacementStrategy(std::string_view s, PlacementStrategy& out);
bool parseSessionState(std::string_view s, SessionState& out);
bool parseDeletionPolicy(std::string_view s, DeletionPolicy& out);
bool parseSessionPhase(std::string_view s, SessionPhase& out);

// ---- metadata --------------------------------------------------------------------------------
struct OwnerReference {
  std::string apiVersion;
  std::string kind;
  std::string name;
  std::string uid;
  std::optional<bool> controller;
  std::optional<bool> blockOwnerDeletion;
  bool operator==(const OwnerReference&) const = default;
};

struct ObjectMeta {
  std::string name;
  std::string generateName;
  std::string namespace_;  // "namespace" in JSON
  std::string uid;
  std::string resourceVersion;
  std::int64_t generation = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> finalizers;
  std::vector<OwnerReference> ownerReferences;
  std::optional<std::string> creationTimestamp;
  std::optional<std::string> deletionTimestamp;
  bool operator==(const ObjectMeta&) const = default;
};

// metav1.Condition.
struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::int64_t observedGeneration = 0;
  std::string lastTransitionTime;  // RFC 3339
  std::string reason;
  std::string message;
  bool operator==(const Condition&) const = default;
};

struct SecretKeyRef {
  std::string name;
  std::string key;
  bool operator==(const SecretKeyRef&) const = default;
};

// ---- WahaCluster ------------------------------------------------------------------------------
struct WorkersSpec {
  std::optional<std::int32_t> min;
  std::optional<std::int32_t> max;
  bool operator==(const WorkersSpec&) const = default;
};

struct SessionStorageSpec {
  std::optional<StorageType> type;
  std::optional<SecretKeyRef> postgresUrlSecretRef;
  bool operator==(const SessionStorageSpec&) const = default;
};

// Quantities as Kubernetes writes them ("500m", "2Gi"); an integer in JSON becomes its decimal
// string.
struct ResourceRequirements {
  std::map<std::string, std::string> requests;
  std::map<std::string, std::string> limits;
  bool operator==(const ResourceRequirements&) const = default;
};

struct PlacementSpec {
  std::optional<PlacementStrategy> strategy;
  bool operator==(const PlacementSpec&) const = default;
};

struct FailoverSpec {
  std::optional<std::int32_t> notReadyTimeoutSeconds;
  bool operator==(const FailoverSpec&) const = default;
};

struct WahaClusterSpec {
  std::optional<Engine> engine;
  std::optional<std::string> image;
  std::optional<std::int32_t> sessionsPerWorker;
  std::optional<WorkersSpec> workers;
  std::optional<SecretKeyRef> apiKeySecretRef;
  std::optional<SessionStorageSpec> sessionStorage;
  std::optional<ResourceRequirements> resources;
  // Pod-template pass-throughs: copied into worker pods as they are (core/v1 shapes, checked by
  // the CRD schema); null when absent.
  Json env;
  std::optional<std::map<std::string, std::string>> nodeSelector;
  Json tolerations;
  Json affinity;
  std::optional<std::map<std::string, std::string>> podAnnotations;
  std::optional<PlacementSpec> placement;
  std::optional<FailoverSpec> failover;
  bool operator==(const WahaClusterSpec&) const = default;
};

struct WorkerStatus {
  std::string pod;
  std::string ip;
  bool ready = false;
  std::int32_t sessions = 0;
  bool draining = false;
  bool operator==(const WorkerStatus&) const = default;
};

struct WahaClusterStatus {
  std::int64_t observedGeneration = 0;
  std::int32_t replicas = 0;
  std::int32_t readyWorkers = 0;
  std::string ready;  // "readyWorkers/replicas" for the printer column
  std::int32_t sessions = 0;
  std::int32_t capacity = 0;
  std::vector<WorkerStatus> workers;
  std::vector<Condition> conditions;
  bool operator==(const WahaClusterStatus&) const = default;
};

struct WahaCluster {
  ObjectMeta metadata;
  WahaClusterSpec spec;
  std::optional<WahaClusterStatus> status;
  bool operator==(const WahaCluster&) const = default;
};

// ---- WahaSession ------------------------------------------------------------------------------
struct ClusterRef {
  std::string name;
  bool operator==(const ClusterRef&) const = default;
};

struct SessionSecretRefs {
  std::optional<SecretKeyRef> proxyPassword;
  std::optional<SecretKeyRef> webhookHmacKey;
  bool operator==(const SessionSecretRefs&) const = default;
};

struct WahaSessionSpec {
  ClusterRef clusterRef;
  std::optional<std::string> sessionName;
  std::optional<SessionState> state;
  std::optional<DeletionPolicy> deletionPolicy;
  // WAHA's session config, untouched (unknown fields included); null when absent.
  Json config;
  std::optional<SessionSecretRefs> secretRefs;
  bool operator==(const WahaSessionSpec&) const = default;
};

struct MeInfo {
  std::string id;
  std::string pushName;
  bool operator==(const MeInfo&) const = default;
};

struct WahaSessionStatus {
  std::int64_t observedGeneration = 0;
  std::optional<SessionPhase> phase;
  std::string worker;
  std::string workerIP;
  std::string node;
  std::string wahaStatus;
  std::optional<MeInfo> me;
  std::int64_t epoch = 0;
  std::string assignedAt;
  std::string message;
  std::vector<Condition> conditions;
  bool operator==(const WahaSessionStatus&) const = default;
};

struct WahaSession {
  ObjectMeta metadata;
  WahaSessionSpec spec;
  std::optional<WahaSessionStatus> status;
  bool operator==(const WahaSession&) const = default;
};

// ---- JSON (nlohmann ADL). from_json throws on a wrong shape (nlohmann::json exceptions or
// std::invalid_argument naming the field); callers above the adapters use parseCluster /
// parseSession, which turn that into an Error.
void to_json(Json& j, const OwnerReference& v);
void from_json(const Json& j, OwnerReference& v);
void to_json(Json& j, const ObjectMeta& v);
void from_json(const Json& j, ObjectMeta& v);
void to_json(Json& j, const Condition& v);
void from_json(const Json& j, Condition& v);
void to_json(Json& j, const SecretKeyRef& v);
void from_json(const Json& j, SecretKeyRef& v);
void to_json(Json& j, const ResourceRequirements& v);
void from_json(const Json& j, ResourceRequirements& v);
void to_json(Json& j, const WorkersSpec& v);
void from_json(const Json& j, WorkersSpec& v);
void to_json(Json& j, const SessionStorageSpec& v);
void from_json(const Json& j, SessionStorageSpec& v);
void to_json(Json& j, const PlacementSpec& v);
void from_json(const Json& j, PlacementSpec& v);
void to_json(Json& j, const FailoverSpec& v);
void from_json(const Json& j, FailoverSpec& v);
void to_json(Json& j, const ClusterRef& v);
void from_json(const Json& j, ClusterRef& v);
void to_json(Json& j, const SessionSecretRefs& v);
void from_json(const Json& j, SessionSecretRefs& v);
void to_json(Json& j, const MeInfo& v);
void from_json(const Json& j, MeInfo& v);
void to_json(Json& j, const WahaClusterSpec& v);
void from_json(const Json& j, WahaClusterSpec& v);
void to_json(Json& j, const WorkerStatus& v);
void from_json(const Json& j, WorkerStatus& v);
void to_json(Json& j, const WahaClusterStatus& v);
void from_json(const Json& j, WahaClusterStatus& v);
void to_json(Json& j, const WahaCluster& v);
void from_json(const Json& j, WahaCluster& v);
void to_json(Json& j, const WahaSessionSpec& v);
void from_json(const Json& j, WahaSessionSpec& v);
void to_json(Json& j, const WahaSessionStatus& v);
void from_json(const Json& j, WahaSessionStatus& v);
void to_json(Json& j, const WahaSession& v);
void from_json(const Json& j, WahaSession& v);

// Parse without exceptions: Error{422, "Invalid", "<field>: <problem>"} on a wrong shape.
Result<WahaCluster> parseCluster(const Json& j);
Result<WahaSession> parseSession(const Json& j);

}  // namespace waha::api
