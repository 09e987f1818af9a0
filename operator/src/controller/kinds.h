#pragma once

// The collections the controller reads and writes.

#include "api/types.h"
#include "kube/client.h"

namespace waha::controller {

inline const kube::ResourceRef kClusters{api::kGroup, api::kVersion, api::kClusterPlural, true};
inline const kube::ResourceRef kSessions{api::kGroup, api::kVersion, api::kSessionPlural, true};
inline const kube::ResourceRef kPods{"", "v1", "pods", true};
inline const kube::ResourceRef kSecrets{"", "v1", "secrets", true};
inline const kube::ResourceRef kDeployments{"apps", "v1", "deployments", true};
inline const kube::ResourceRef kPdbs{"policy", "v1", "poddisruptionbudgets", true};

}  // namespace waha::controller
