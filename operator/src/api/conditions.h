#pragma once

// metav1.Condition helpers, with the same semantics as apimachinery's meta.SetStatusCondition:
// lastTransitionTime moves only when status changes, so "since when is it not Ready" stays true.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "common/clock.h"

namespace waha::api {

inline constexpr const char* kConditionTrue = "True";
inline constexpr const char* kConditionFalse = "False";
inline constexpr const char* kConditionUnknown = "Unknown";

// Condition types the operator writes.
inline constexpr const char* kConditionReady = "Ready";          // both kinds
inline constexpr const char* kConditionValid = "Valid";          // spec passed api::validate
inline constexpr const char* kConditionScheduled = "Scheduled";  // WahaSession has a worker

const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type);
bool isConditionTrue(const std::vector<Condition>& conditions, std::string_view type);

// Adds or updates the condition of `type`. lastTransitionTime becomes `now` only when the entry is
// new or its status changed; reason, message and observedGeneration are always updated.
// Returns true when anything changed (so the caller knows whether a status write is needed).
bool setCondition(std::vector<Condition>& conditions, const std::string& type,
                  const std::string& status, const std::string& reason, const std::string& message,
                  std::int64_t observedGeneration, WallTime now);

// Returns true when a condition of `type` was there.
bool removeCondition(std::vector<Condition>& conditions, std::string_view type);

}  // namespace waha::api
