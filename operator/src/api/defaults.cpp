#include "api/defaults.h"

#include <array>
#include <cmath>
#include <vector>

namespace waha::api {
namespace {

struct SizingRow {
  std::int32_t sessions;
  double milliCpu;
  double mebibytes;
};

// WAHA's published sizing (GB read as 1024 Mi; ranges take their upper bound).
const std::vector<SizingRow>& sizingTable(Engine engine) {
  static const std::vector<SizingRow> webjs = {{1, 300, 400}, {10, 3000, 2560}, {50, 15000, 20480}};
  static const std::vector<SizingRow> noweb = {
      {1, 100, 200}, {10, 1000, 2048}, {50, 2000, 4096}, {100, 4000, 8192}};
  static const std::vector<SizingRow> gows = {
      {1, 100, 200}, {10, 500, 1024}, {50, 1500, 3072}, {100, 5000, 5120}, {500, 8000, 25600}};
  switch (engine) {
    case Engine::Webjs:
      return webjs;
    case Engine::Gows:
      return gows;
    case Engine::Noweb:
      break;
  }
  return noweb;
}

std::int64_t roundUp(double value, std::int64_t step) {
  // The small epsilon keeps exact table values (3000.0000001 after interpolation) on their step.
  return static_cast<std::int64_t>(std::ceil(value / static_cast<double>(step) - 1e-9)) * step;
}

std::string cpuQuantity(std::int64_t milli) {
  return milli % 1000 == 0 ? std::to_string(milli / 1000) : std::to_string(milli) + "m";
}

std::string memoryQuantity(std::int64_t mebibytes) {
  return mebibytes % 1024 == 0 ? std::to_string(mebibytes / 1024) + "Gi"
                               : std::to_string(mebibytes) + "Mi";
}

}  // namespace

std::int32_t defaultSessionsPerWorker(Engine engine) { return engine == Engine::Webjs ? 10 : 100; }

ResourceRequirements defaultResources(Engine engine, std::int32_t sessions) {
  const auto& rows = sizingTable(engine);
  const double n = sessions < 1 ? 1.0 : static_cast<double>(sessions);
  double cpu = rows.front().milliCpu;
  double mem = rows.front().mebibytes;
  if (n > rows.back().sessions) {
    cpu = rows.back().milliCpu * n / rows.back().sessions;
    mem = rows.back().mebibytes * n / rows.back().sessions;
  } else {
    for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
      const auto& a = rows[i];
      const auto& b = rows[i + 1];
      if (n > a.sessions && n <= b.sessions) {
        const double t = (n - a.sessions) / static_cast<double>(b.sessions - a.sessions);
        cpu = a.milliCpu + (b.milliCpu - a.milliCpu) * t;
        mem = a.mebibytes + (b.mebibytes - a.mebibytes) * t;
        break;
      }
    }
  }
  const std::int64_t cpuMilli = roundUp(cpu, 100);
  const std::int64_t memMi = roundUp(mem, 64);
  ResourceRequirements r;
  r.requests["cpu"] = cpuQuantity(cpuMilli);
  r.requests["memory"] = memoryQuantity(memMi);
  r.limits["memory"] = memoryQuantity(roundUp(static_cast<double>(memMi) * 1.5, 64));
  return r;
}

Engine effectiveEngine(const WahaClusterSpec& spec) { return spec.engine.value_or(kDefaultEngine); }

std::int32_t effectiveSessionsPerWorker(const WahaClusterSpec& spec) {
  return spec.sessionsPerWorker.value_or(defaultSessionsPerWorker(effectiveEngine(spec)));
}

ResourceRequirements effectiveResources(const WahaClusterSpec& spec) {
  if (spec.resources) {
    return *spec.resources;
  }
  return defaultResources(effectiveEngine(spec), effectiveSessionsPerWorker(spec));
}

std::int32_t effectiveWorkersMin(const WahaClusterSpec& spec) {
  return spec.workers && spec.workers->min ? *spec.workers->min : kDefaultWorkersMin;
}

std::int32_t effectiveWorkersMax(const WahaClusterSpec& spec) {
  return spec.workers && spec.workers->max ? *spec.workers->max : kDefaultWorkersMax;
}

StorageType effectiveStorageType(const WahaClusterSpec& spec) {
  return spec.sessionStorage && spec.sessionStorage->type ? *spec.sessionStorage->type
                                                          : kDefaultStorageType;
}

PlacementStrategy effectivePlacementStrategy(const WahaClusterSpec& spec) {
  return spec.placement && spec.placement->strategy ? *spec.placement->strategy
                                                    : kDefaultPlacementStrategy;
}

std::int32_t effectiveNotReadyTimeoutSeconds(const WahaClusterSpec& spec) {
  return spec.failover && spec.failover->notReadyTimeoutSeconds
             ? *spec.failover->notReadyTimeoutSeconds
             : kDefaultNotReadyTimeoutSeconds;
}

std::string effectiveSessionName(const WahaSession& session) {
  return session.spec.sessionName.value_or(session.metadata.name);
}

SessionState effectiveState(const WahaSessionSpec& spec) {
  return spec.state.value_or(kDefaultSessionState);
}

DeletionPolicy effectiveDeletionPolicy(const WahaSessionSpec& spec) {
  return spec.deletionPolicy.value_or(kDefaultDeletionPolicy);
}

void applyDefaults(WahaCluster& cluster, bool schemaOnly) {
  auto& s = cluster.spec;
  s.engine = s.engine.value_or(kDefaultEngine);
  s.image = s.image.value_or(kDefaultImage);
  // Parents carry `default: {}` in the CRD so their children's defaults always apply.
  if (!s.workers) {
    s.workers.emplace();
  }
  s.workers->min = s.workers->min.value_or(kDefaultWorkersMin);
  s.workers->max = s.workers->max.value_or(kDefaultWorkersMax);
  if (!s.sessionStorage) {
    s.sessionStorage.emplace();
  }
  s.sessionStorage->type = s.sessionStorage->type.value_or(kDefaultStorageType);
  if (!s.placement) {
    s.placement.emplace();
  }
  s.placement->strategy = s.placement->strategy.value_or(kDefaultPlacementStrategy);
  if (!s.failover) {
    s.failover.emplace();
  }
  s.failover->notReadyTimeoutSeconds =
      s.failover->notReadyTimeoutSeconds.value_or(kDefaultNotReadyTimeoutSeconds);
  if (schemaOnly) {
    return;
  }
  s.sessionsPerWorker = effectiveSessionsPerWorker(s);
  s.resources = effectiveResources(s);
}

void applyDefaults(WahaSession& session, bool schemaOnly) {
  auto& s = session.spec;
  s.state = s.state.value_or(kDefaultSessionState);
  s.deletionPolicy = s.deletionPolicy.value_or(kDefaultDeletionPolicy);
  if (schemaOnly) {
    return;
  }
  s.sessionName = effectiveSessionName(session);
}

}  // namespace waha::api
