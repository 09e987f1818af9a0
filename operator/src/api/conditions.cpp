#include "api/conditions.h"

#include <algorithm>

namespace waha::api {

const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type) {
  for (const auto& c : conditions) {
    if (c.type == type) {
      return &c;
    }
  }
  return nullptr;
}

bool isConditionTrue(const std::vector<Condition>& conditions, std::string_view type) {
  const Condition* c = findCondition(conditions, type);
  return c != nullptr && c->status == kConditionTrue;
}

bool setCondition(std::vector<Condition>& conditions, const std::string& type,
                  const std::string& status, const std::string& reason, const std::string& message,
                  std::int64_t observedGeneration, WallTime now) {
  for (auto& c : conditions) {
    if (c.type != type) {
      continue;
    }
    bool changed = false;
    if (c.status != status) {
      c.status = status;
      c.lastTransitionTime = formatRfc3339(now);
      changed = true;
    }
    if (c.reason != reason || c.message != message || c.observedGeneration != observedGeneration) {
      c.reason = reason;
      c.message = message;
      c.observedGeneration = observedGeneration;
      changed = true;
    }
    return changed;
  }
  conditions.push_back(
      Condition{type, status, observedGeneration, formatRfc3339(now), reason, message});
  return true;
}

bool removeCondition(std::vector<Condition>& conditions, std::string_view type) {
  auto it = std::remove_if(conditions.begin(), conditions.end(),
                           [&](const Condition& c) { return c.type == type; });
  const bool found = it != conditions.end();
  conditions.erase(it, conditions.end());
  return found;
}

}  // namespace waha::api
