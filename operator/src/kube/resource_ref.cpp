#include "kube/client.h"

namespace waha::kube {

std::string ResourceRef::apiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceRef::path(const std::string& ns, const std::string& name,
                              const std::string& subresource) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    p += "/namespaces/" + ns;
  }
  p += "/" + resource;
  if (!name.empty()) {
    p += "/" + name;
    if (!subresource.empty()) {
      p += "/" + subresource;
    }
  }
  return p;
}

}  // namespace waha::kube
