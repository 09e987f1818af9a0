#include "api/validation.h"

#include <cstdlib>
#include <set>

#include "api/defaults.h"
#include "api/names.h"

namespace waha::api {
namespace {

using Errors = std::vector<FieldError>;

void secretRef(Errors& errs, const std::string& path, const SecretKeyRef& ref) {
  if (ref.name.empty()) {
    errs.push_back({path + ".name", "must not be empty"});
  }
  if (ref.key.empty()) {
    errs.push_back({path + ".key", "must not be empty"});
  }
}

void quantities(Errors& errs, const std::string& path,
                const std::map<std::string, std::string>& values) {
  for (const auto& [name, text] : values) {
    double v = 0;
    if (!parseQuantity(text, v) || v < 0) {
      errs.push_back({path + "." + name, "invalid quantity \"" + text + "\""});
    }
  }
}

void resources(Errors& errs, const ResourceRequirements& r) {
  quantities(errs, "spec.resources.requests", r.requests);
  quantities(errs, "spec.resources.limits", r.limits);
  for (const auto& [name, text] : r.requests) {
    auto lim = r.limits.find(name);
    double req = 0;
    double max = 0;
    if (lim != r.limits.end() && parseQuantity(text, req) && parseQuantity(lim->second, max) &&
        req > max) {
      errs.push_back({"spec.resources.requests." + name,
                      "must be <= spec.resources.limits." + name + " (" + lim->second + ")"});
    }
  }
}

void env(Errors& errs, const Json& list) {
  if (!list.is_array()) {
    return;
  }
  std::set<std::string> seen;
  const auto& managed = operatorManagedEnv();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "spec.env[" + std::to_string(i) + "].name";
    const Json& e = list[i];
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
        e["name"].get<std::string>().empty()) {
      errs.push_back({path, "required"});
      continue;
    }
    const auto name = e["name"].get<std::string>();
    for (const auto& m : managed) {
      if (m == name) {
        errs.push_back({path, name + " is set by the operator and cannot be overridden"});
      }
    }
    if (!seen.insert(name).second) {
      errs.push_back({path, "duplicate variable " + name});
    }
  }
}

}  // namespace

std::string formatErrors(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) {
      out += "; ";
    }
    out += e.str();
  }
  return out;
}

const std::vector<std::string>& operatorManagedEnv() {
  static const std::vector<std::string> names = {"WAHA_WORKER_ID",
                                                 "WAHA_WORKER_RESTART_SESSIONS",
                                                 "WHATSAPP_RESTART_ALL_SESSIONS",
                                                 "WHATSAPP_API_KEY",
                                                 "WAHA_API_KEY",
                                                 "WHATSAPP_API_KEY_EXCLUDE_PATH",
                                                 "WHATSAPP_DEFAULT_ENGINE",
                                                 "WHATSAPP_API_PORT",
                                                 "WHATSAPP_SESSIONS_POSTGRESQL_URL"};
  return names;
}

bool parseQuantity(const std::string& text, double& out) {
  if (text.empty()) {
    return false;
  }
  const char* begin = text.c_str();
  char* end = nullptr;
  const double number = std::strtod(begin, &end);
  if (end == begin || text.find_first_of("xXpP") != std::string::npos || text[0] == ' ') {
    return false;  // strtod also takes hex floats and leading blanks; quantities do not
  }
  const std::string suffix(end);
  static const std::map<std::string, double> multipliers = {{"", 1.0},
                                                            {"n", 1e-9},
                                                            {"u", 1e-6},
                                                            {"m", 1e-3},
                                                            {"k", 1e3},
                                                            {"M", 1e6},
                                                            {"G", 1e9},
                                                            {"T", 1e12},
                                                            {"P", 1e15},
                                                            {"E", 1e18},
                                                            {"Ki", 1024.0},
                                                            {"Mi", 1048576.0},
                                                            {"Gi", 1073741824.0},
                                                            {"Ti", 1099511627776.0},
                                                            {"Pi", 1125899906842624.0},
                                                            {"Ei", 1152921504606846976.0}};
  auto it = multipliers.find(suffix);
  if (it == multipliers.end()) {
    return false;
  }
  out = number * it->second;
  return true;
}

std::vector<FieldError> validate(const WahaCluster& cluster) {
  Errors errs;
  const auto& s = cluster.spec;
  if (cluster.metadata.name.empty()) {
    errs.push_back({"metadata.name", "required"});
  } else if (cluster.metadata.name.size() > 63) {
    // The operator labels worker pods with the cluster name; label values stop at 63.
    errs.push_back({"metadata.name", "must be at most 63 characters"});
  }
  if (s.image && s.image->empty()) {
    errs.push_back({"spec.image", "must not be empty"});
  }
  if (s.sessionsPerWorker && (*s.sessionsPerWorker < 1 || *s.sessionsPerWorker > 1000)) {
    errs.push_back({"spec.sessionsPerWorker", "must be between 1 and 1000"});
  }
  const auto min = effectiveWorkersMin(s);
  const auto max = effectiveWorkersMax(s);
  if (min < 0) {
    errs.push_back({"spec.workers.min", "must be >= 0"});
  }
  if (max < 1) {
    errs.push_back({"spec.workers.max", "must be >= 1"});
  }
  if (min > max) {
    errs.push_back(
        {"spec.workers.min", "must be <= spec.workers.max (" + std::to_string(max) + ")"});
  }
  if (s.apiKeySecretRef) {
    secretRef(errs, "spec.apiKeySecretRef", *s.apiKeySecretRef);
  }
  const auto storage = effectiveStorageType(s);
  const auto* pg = s.sessionStorage && s.sessionStorage->postgresUrlSecretRef
                       ? &*s.sessionStorage->postgresUrlSecretRef
                       : nullptr;
  if (storage == StorageType::PostgreSQL && pg == nullptr) {
    errs.push_back(
        {"spec.sessionStorage.postgresUrlSecretRef", "required when type is PostgreSQL"});
  }
  if (storage == StorageType::Local && pg != nullptr) {
    errs.push_back({"spec.sessionStorage.postgresUrlSecretRef",
                    "only used when type is PostgreSQL (type is Local)"});
  }
  if (pg != nullptr) {
    secretRef(errs, "spec.sessionStorage.postgresUrlSecretRef", *pg);
  }
  if (s.resources) {
    resources(errs, *s.resources);
  }
  env(errs, s.env);
  const auto timeout = effectiveNotReadyTimeoutSeconds(s);
  if (timeout < 5 || timeout > 86400) {
    errs.push_back({"spec.failover.notReadyTimeoutSeconds", "must be between 5 and 86400"});
  }
  return errs;
}

namespace {

bool isHttpUrl(const std::string& url) {
  return (url.rfind("http://", 0) == 0 && url.size() > 7) ||
         (url.rfind("https://", 0) == 0 && url.size() > 8);
}

// The parts of WAHA's session config the operator relies on (webhooks, metadata, proxy); the rest
// passes through unchecked so newer WAHA fields keep working.
void sessionConfig(Errors& errs, const WahaSessionSpec& s) {
  const Json& c = s.config;
  const bool hmacRef = s.secretRefs && s.secretRefs->webhookHmacKey;
  const bool proxyRef = s.secretRefs && s.secretRefs->proxyPassword;
  std::size_t webhooks = 0;
  if (c.is_object() && c.contains("webhooks") && !c["webhooks"].is_null()) {
    const Json& w = c["webhooks"];
    if (!w.is_array()) {
      errs.push_back({"spec.config.webhooks", "must be an array"});
    } else {
      webhooks = w.size();
      for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string path = "spec.config.webhooks[" + std::to_string(i) + "]";
        if (!w[i].is_object()) {
          errs.push_back({path, "must be an object"});
          continue;
        }
        const Json& url = w[i].contains("url") ? w[i]["url"] : Json();
        if (!url.is_string() || !isHttpUrl(url.get<std::string>())) {
          errs.push_back({path + ".url", "must be an http:// or https:// URL"});
        }
        if (w[i].contains("events") && !w[i]["events"].is_array()) {
          errs.push_back({path + ".events", "must be an array of event names"});
        }
        if (hmacRef && w[i].contains("hmac") && w[i]["hmac"].is_object() &&
            w[i]["hmac"].contains("key") && !w[i]["hmac"]["key"].is_null()) {
          errs.push_back({path + ".hmac.key", "conflicts with spec.secretRefs.webhookHmacKey"});
        }
      }
    }
  }
  if (hmacRef && webhooks == 0) {
    errs.push_back({"spec.secretRefs.webhookHmacKey",
                    "requires at least one spec.config.webhooks "
                    "entry"});
  }
  if (c.is_object() && c.contains("metadata") && !c["metadata"].is_null()) {
    const Json& m = c["metadata"];
    if (!m.is_object()) {
      errs.push_back({"spec.config.metadata", "must be a map of strings"});
    } else {
      for (auto it = m.begin(); it != m.end(); ++it) {
        if (!it->is_string()) {
          errs.push_back({"spec.config.metadata." + it.key(), "must be a string"});
        }
      }
    }
  }
  const Json proxy = c.is_object() && c.contains("proxy") ? c["proxy"] : Json();
  const bool hasServer = proxy.is_object() && proxy.contains("server") &&
                         proxy["server"].is_string() && !proxy["server"].get<std::string>().empty();
  if (!proxy.is_null() && !hasServer) {
    errs.push_back({"spec.config.proxy.server", "required when spec.config.proxy is set"});
  }
  if (proxyRef && !hasServer) {
    errs.push_back({"spec.secretRefs.proxyPassword", "requires spec.config.proxy.server"});
  }
  if (proxyRef && proxy.is_object() && proxy.contains("password") && !proxy["password"].is_null()) {
    errs.push_back({"spec.config.proxy.password", "conflicts with spec.secretRefs.proxyPassword"});
  }
}

}  // namespace

std::vector<FieldError> validate(const WahaSession& session,
                                 const SessionValidationContext& context) {
  Errors errs;
  const auto& s = session.spec;
  if (session.metadata.name.empty()) {
    errs.push_back({"metadata.name", "required"});
  }
  const std::string name = effectiveSessionName(session);
  if (s.sessionName) {
    if (auto problem = sessionNameProblem(*s.sessionName); !problem.empty()) {
      errs.push_back({"spec.sessionName", problem});
    }
  } else if (!session.metadata.name.empty()) {
    if (auto problem = sessionNameProblem(name); !problem.empty()) {
      errs.push_back({"metadata.name", "not usable as the WAHA session name (" + problem +
                                           "): set spec.sessionName"});
    }
  }
  if (s.clusterRef.name.empty()) {
    errs.push_back({"spec.clusterRef.name", "required"});
  } else {
    if (context.clusterExists && !context.clusterExists(s.clusterRef.name)) {
      errs.push_back({"spec.clusterRef.name", "WahaCluster \"" + s.clusterRef.name +
                                                  "\" not found in namespace \"" +
                                                  session.metadata.namespace_ + "\""});
    }
    if (context.sessionNameOwner) {
      auto owner = context.sessionNameOwner(s.clusterRef.name, name);
      if (owner && *owner != session.metadata.name) {
        errs.push_back({s.sessionName ? "spec.sessionName" : "metadata.name",
                        "session name \"" + name + "\" is already used by WahaSession \"" + *owner +
                            "\" in cluster \"" + s.clusterRef.name + "\""});
      }
    }
  }
  if (!s.config.is_null() && !s.config.is_object()) {
    errs.push_back({"spec.config", "must be an object"});
  }
  if (s.secretRefs && s.secretRefs->proxyPassword) {
    secretRef(errs, "spec.secretRefs.proxyPassword", *s.secretRefs->proxyPassword);
  }
  if (s.secretRefs && s.secretRefs->webhookHmacKey) {
    secretRef(errs, "spec.secretRefs.webhookHmacKey", *s.secretRefs->webhookHmacKey);
  }
  sessionConfig(errs, s);
  return errs;
}

}  // namespace waha::api
