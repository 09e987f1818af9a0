#pragma once

// Defaulting: the CRD's schema defaults (identical to crds/*.yaml; a test compares them) plus the
// ones the API server cannot apply because they depend on other fields (sessionsPerWorker and
// resources by engine, sessionName from metadata.name).

#include <cstdint>
#include <string>

#include "api/types.h"

namespace waha::api {

inline constexpr Engine kDefaultEngine = Engine::Noweb;
inline constexpr const char* kDefaultImage = "devlikeapro/waha:latest";
inline constexpr std::int32_t kDefaultWorkersMin = 1;
inline constexpr std::int32_t kDefaultWorkersMax = 10;
inline constexpr std::int32_t kDefaultNotReadyTimeoutSeconds = 60;
inline constexpr StorageType kDefaultStorageType = StorageType::Local;
inline constexpr PlacementStrategy kDefaultPlacementStrategy = PlacementStrategy::LeastLoaded;
inline constexpr SessionState kDefaultSessionState = SessionState::Running;
inline constexpr DeletionPolicy kDefaultDeletionPolicy = DeletionPolicy::Logout;

// WEBJS 10 (a browser per session; production runs about 10 per container), NOWEB 100,
// GOWS 100 (no browser; WAHA's sizing table covers 100 per server comfortably).
std::int32_t defaultSessionsPerWorker(Engine engine);

// Requests/limits for a worker holding `sessions` sessions, from WAHA's sizing table: linear
// interpolation between rows (proportional past the last), CPU rounded up to 100m, memory to
// 64Mi; limits.memory = 1.5 x requests.memory; no CPU limit (docs/crd-reference.md).
ResourceRequirements defaultResources(Engine engine, std::int32_t sessions);

// The values the operator acts on, whether or not the object was defaulted.
Engine effectiveEngine(const WahaClusterSpec& spec);
std::int32_t effectiveSessionsPerWorker(const WahaClusterSpec& spec);
ResourceRequirements effectiveResources(const WahaClusterSpec& spec);
std::int32_t effectiveWorkersMin(const WahaClusterSpec& spec);
std::int32_t effectiveWorkersMax(const WahaClusterSpec& spec);
StorageType effectiveStorageType(const WahaClusterSpec& spec);
PlacementStrategy effectivePlacementStrategy(const WahaClusterSpec& spec);
std::int32_t effectiveNotReadyTimeoutSeconds(const WahaClusterSpec& spec);
std::string effectiveSessionName(const WahaSession& session);
SessionState effectiveState(const WahaSessionSpec& spec);
DeletionPolicy effectiveDeletionPolicy(const WahaSessionSpec& spec);

// Fill every absent field that has a default. `schemaOnly` applies exactly what the API server
// applies (and nothing else); otherwise the operator's field-dependent defaults follow.
void applyDefaults(WahaCluster& cluster, bool schemaOnly = false);
void applyDefaults(WahaSession& session, bool schemaOnly = false);

}  // namespace waha::api
