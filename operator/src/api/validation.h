#pragma once

// Semantic validation: what the CRD schema cannot express (cross-field rules, other objects,
// reserved names, WAHA config shape). Every problem is reported, each with its field path, so a
// user fixes them all in one edit.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace waha::api {

struct FieldError {
  std::string path;     // "spec.workers.min", "spec.config.webhooks[0].url"
  std::string message;  // "must be <= spec.workers.max (2)"
  std::string str() const { return path + ": " + message; }
  bool operator==(const FieldError&) const = default;
};

// "a: x; b: y" (for a condition message or an event).
std::string formatErrors(const std::vector<FieldError>& errors);

// Environment variables the operator sets on every worker; spec.env may not set them.
const std::vector<std::string>& operatorManagedEnv();

// Parses a Kubernetes quantity ("100m", "2Gi", "1.5", "1e3") into its value in base units
// (cores, bytes). False for malformed input.
bool parseQuantity(const std::string& text, double& out);

std::vector<FieldError> validate(const WahaCluster& cluster);

struct SessionValidationContext {
  // Whether a WahaCluster of that name exists in the session's namespace; unset: not checked.
  std::function<bool(const std::string& clusterName)> clusterExists;
  // metadata.name of another WahaSession of the same cluster that already uses `sessionName`;
  // unset or nullopt: none.
  std::function<std::optional<std::string>(const std::string& clusterName,
                                           const std::string& sessionName)>
      sessionNameOwner;
};

std::vector<FieldError> validate(const WahaSession& session,
                                 const SessionValidationContext& context = {});

}  // namespace waha::api
