#include "api/types.h"

#include <array>
#include <utility>

namespace waha::api {
namespace {

// One table per enum: the string is the CRD enum value.
template <typename E, std::size_t N>
std::string_view nameOf(const std::array<std::pair<E, std::string_view>, N>& table, E v) {
  for (const auto& [e, s] : table) {
    if (e == v) {
      return s;
    }
  }
  return "";
}

template <typename E, std::size_t N>
bool valueOf(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view s,
             E& out) {
  for (const auto& [e, name] : table) {
    if (name == s) {
      out = e;
      return true;
    }
  }
  return false;
}

constexpr std::array<std::pair<Engine, std::string_view>, 3> kEngines{
    {{Engine::Webjs, "WEBJS"}, {Engine::Noweb, "NOWEB"}, {Engine::Gows, "GOWS"}}};
constexpr std::array<std::pair<StorageType, std::string_view>, 2> kStorage{
    {{StorageType::Local, "Local"}, {StorageType::PostgreSQL, "PostgreSQL"}}};
constexpr std::array<std::pair<PlacementStrategy, std::string_view>, 2> kStrategies{
    {{PlacementStrategy::LeastLoaded, "LeastLoaded"}, {PlacementStrategy::BinPack, "BinPack"}}};
constexpr std::array<std::pair<SessionState, std::string_view>, 2> kStates{
    {{SessionState::Running, "Running"}, {SessionState::Stopped, "Stopped"}}};
constexpr std::array<std::pair<DeletionPolicy, std::string_view>, 2> kPolicies{
    {{DeletionPolicy::Logout, "Logout"}, {DeletionPolicy::Keep, "Keep"}}};
constexpr std::array<std::pair<SessionPhase, std::string_view>, 8> kPhases{
    {{SessionPhase::Pending, "Pending"},
     {SessionPhase::Scheduled, "Scheduled"},
     {SessionPhase::Starting, "Starting"},
     {SessionPhase::Running, "Running"},
     {SessionPhase::Stopped, "Stopped"},
     {SessionPhase::Migrating, "Migrating"},
     {SessionPhase::Failed, "Failed"},
     {SessionPhase::Terminating, "Terminating"}}};

}  // namespace

std::string_view toString(Engine v) { return nameOf(kEngines, v); }
std::string_view toString(StorageType v) { return nameOf(kStorage, v); }
std::string_view toString(PlacementStrategy v) { return nameOf(kStrategies, v); }
std::string_view toString(SessionState v) { return nameOf(kStates, v); }
std::string_view toString(DeletionPolicy v) { return nameOf(kPolicies, v); }
std::string_view toString(SessionPhase v) { return nameOf(kPhases, v); }

bool parseEngine(std::string_view s, Engine& out) { return valueOf(kEngines, s, out); }
bool parseStorageType(std::string_view s, StorageType& out) { return valueOf(kStorage, s, out); }
bool parsePlacementStrategy(std::string_view s, PlacementStrategy& out) {
  return valueOf(kStrategies, s, out);
}
bool parseSessionState(std::string_view s, SessionState& out) { return valueOf(kStates, s, out); }
bool parseDeletionPolicy(std::string_view s, DeletionPolicy& out) {
  return valueOf(kPolicies, s, out);
}
bool parseSessionPhase(std::string_view s, SessionPhase& out) { return valueOf(kPhases, s, out); }

}  // namespace waha::api
