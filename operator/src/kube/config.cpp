#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace waha::kube {

namespace {

// A named entry (cluster, user or context) and where it came from, for error messages.
struct Entry {
  std::string file;
  std::string field;  // e.g. users["alice"].user
  YAML::Node node;
};

struct Merged {
  std::vector<std::string> files;
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
  std::string currentContext;
  std::string currentContextFile;
};

Error configError(const std::string& file, const std::string& field, const std::string& problem) {
  std::string where = "kubeconfig " + file;
  if (!field.empty()) {
    where += ": " + field;
  }
  return Error::make(0, "InvalidConfig", where + ": " + problem);
}

std::optional<std::string> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string resolvePath(const std::string& file, const std::string& p) {
  return (p.empty() || p[0] == '/') ? p : dirOf(file) + "/" + p;
}

// A scalar string field; absent -> "". Wrong type -> error naming the field.
Result<std::string> stringField(const Entry& e, const std::string& key) {
  YAML::Node v = e.node[key];
  if (!v || v.IsNull()) {
    return std::string();
  }
  if (!v.IsScalar()) {
    return configError(e.file, e.field + "." + key, "must be a string");
  }
  return v.as<std::string>();
}

// Reads "-data" (base64) or the file named by `fileKey`; "" when neither is set.
Result<std::string> pemField(const Entry& e, const std::string& fileKey,
                             const std::string& marker) {
  auto data = stringField(e, fileKey + "-data");
  if (!data.ok()) {
    return data.error();
  }
  auto path = stringField(e, fileKey);
  if (!path.ok()) {
    return path.error();
  }
  std::string pem;
  std::string field = e.field + "." + fileKey;
  if (!data->empty()) {
    field += "-data";
    auto decoded = decodeBase64(*data);
    if (!decoded) {
      return configError(e.file, field, "is not valid base64");
    }
    pem = *decoded;
  } else if (!path->empty()) {
    std::string full = resolvePath(e.file, *path);
    auto content = readWholeFile(full);
    if (!content) {
      return configError(e.file, field, "cannot read file " + full);
    }
    pem = *content;
  } else {
    return std::string();
  }
  if (pem.find(marker) == std::string::npos) {
    return configError(e.file, field, "does not contain PEM data (" + marker + ")");
  }
  return pem;
}

// One list (clusters/users/contexts) of one file, merged in: the first file to name an entry
// keeps it (kubectl's rule for $KUBECONFIG lists).
Status mergeList(const std::string& file, const YAML::Node& root, const std::string& list,
                 const std::string& inner, std::map<std::string, Entry>& into) {
  YAML::Node seq = root[list];
  if (!seq || seq.IsNull()) {
    return Status{};
  }
  if (!seq.IsSequence()) {
    return configError(file, list, "must be a list");
  }
  for (size_t i = 0; i < seq.size(); ++i) {
    std::string at = list + "[" + std::to_string(i) + "]";
    const YAML::Node& item = seq[i];
    if (!item.IsMap()) {
      return configError(file, at, "must be a mapping with name and " + inner);
    }
    if (!item["name"] || !item["name"].IsScalar() || item["name"].as<std::string>().empty()) {
      return configError(file, at + ".name", "missing");
    }
    std::string name = item["name"].as<std::string>();
    std::string field = list + "[\"" + name + "\"]." + inner;
    if (!item[inner] || !item[inner].IsMap()) {
      return configError(file, field, "missing or not a mapping");
    }
    into.emplace(name, Entry{file, field, item[inner]});
  }
  return Status{};
}

Status mergeFile(const std::string& file, Merged& m) {
  auto text = readWholeFile(file);
  if (!text) {
    return configError(file, "", "cannot read file");
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return configError(file, "",
                       "invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) {
    return configError(file, "", "empty file");
  }
  if (!root.IsMap()) {
    return configError(file, "", "top level must be a mapping (apiVersion, clusters, ...)");
  }
  if (root["kind"] && root["kind"].IsScalar() && root["kind"].as<std::string>() != "Config") {
    return configError(file, "kind", "must be Config, not " + root["kind"].as<std::string>());
  }
  for (auto [list, inner, into] :
       {std::tuple{"clusters", "cluster", &m.clusters}, std::tuple{"users", "user", &m.users},
        std::tuple{"contexts", "context", &m.contexts}}) {
    if (auto st = mergeList(file, root, list, inner, *into); !st.ok()) {
      return st;
    }
  }
  YAML::Node cur = root["current-context"];
  if (cur && !cur.IsNull()) {
    if (!cur.IsScalar()) {
      return configError(file, "current-context", "must be a string");
    }
    if (m.currentContext.empty() && !cur.as<std::string>().empty()) {
      m.currentContext = cur.as<std::string>();
      m.currentContextFile = file;
    }
  }
  m.files.push_back(file);
  return Status{};
}

Status applyCluster(const Entry& c, Config& out) {
  auto server = stringField(c, "server");
  if (!server.ok()) {
    return server.error();
  }
  if (server->empty()) {
    return configError(c.file, c.field + ".server", "missing");
  }
  auto scheme = server->find("://");
  if (scheme == std::string::npos ||
      (server->compare(0, scheme, "https") != 0 && server->compare(0, scheme, "http") != 0) ||
      server->size() == scheme + 3) {
    return configError(c.file, c.field + ".server",
                       "must be an http(s) URL with a host, got \"" + *server + "\"");
  }
  out.server = *server;
  while (!out.server.empty() && out.server.back() == '/') {
    out.server.pop_back();
  }
  YAML::Node insecure = c.node["insecure-skip-tls-verify"];
  if (insecure && !insecure.IsNull()) {
    bool v = false;
    if (!insecure.IsScalar() || !YAML::convert<bool>::decode(insecure, v)) {
      return configError(c.file, c.field + ".insecure-skip-tls-verify", "must be true or false");
    }
    out.insecureSkipTlsVerify = v;
  }
  auto ca = pemField(c, "certificate-authority", "-----BEGIN CERTIFICATE-----");
  if (!ca.ok()) {
    return ca.error();
  }
  if (!ca->empty() && out.insecureSkipTlsVerify) {
    return configError(c.file, c.field + ".insecure-skip-tls-verify",
                       "cannot be combined with certificate-authority (kubectl refuses it too)");
  }
  out.caPem = *ca;
  return Status{};
}

Status applyUser(const Entry& u, Config& out) {
  if (u.node["exec"] || u.node["auth-provider"]) {
    return configError(u.file, u.field + (u.node["exec"] ? ".exec" : ".auth-provider"),
                       "credential plugins are not supported; use a token, tokenFile or client "
                       "certificate");
  }
  auto cert = pemField(u, "client-certificate", "-----BEGIN CERTIFICATE-----");
  if (!cert.ok()) {
    return cert.error();
  }
  auto key = pemField(u, "client-key", "PRIVATE KEY-----");
  if (!key.ok()) {
    return key.error();
  }
  if (cert->empty() != key->empty()) {
    return configError(u.file, u.field + (cert->empty() ? ".client-certificate" : ".client-key"),
                       "missing (client-certificate and client-key must be given together)");
  }
  out.clientCertPem = *cert;
  out.clientKeyPem = *key;
  for (auto [key2, dst] : {std::pair{"token", &out.token}, std::pair{"username", &out.username},
                           std::pair{"password", &out.password}}) {
    auto v = stringField(u, key2);
    if (!v.ok()) {
      return v.error();
    }
    *dst = *v;
  }
  auto tokenFile = stringField(u, "tokenFile");
  if (!tokenFile.ok()) {
    return tokenFile.error();
  }
  if (!tokenFile->empty()) {
    out.tokenFile = resolvePath(u.file, *tokenFile);
    if (!readWholeFile(out.tokenFile)) {
      return configError(u.file, u.field + ".tokenFile", "cannot read file " + out.tokenFile);
    }
  }
  return Status{};
}

}  // namespace

http::ClientOptions Config::clientOptions() const {
  http::ClientOptions o;
  o.tls.caPem = caPem;
  o.tls.clientCertPem = clientCertPem;
  o.tls.clientKeyPem = clientKeyPem;
  o.tls.insecureSkipVerify = insecureSkipTlsVerify;
  return o;
}

Result<Config> loadKubeconfig(const std::vector<std::string>& paths, const std::string& context) {
  Merged m;
  for (const auto& p : paths) {
    if (auto st = mergeFile(p, m); !st.ok()) {
      return st.error();
    }
  }
  std::string files;
  for (const auto& f : m.files) {
    files += (files.empty() ? "" : ":") + f;
  }
  std::string name = context.empty() ? m.currentContext : context;
  if (name.empty()) {
    return configError(files, "current-context", "not set and no --context given");
  }
  auto ctx = m.contexts.find(name);
  if (ctx == m.contexts.end()) {
    return context.empty()
               ? configError(m.currentContextFile, "current-context",
                             "names context \"" + name + "\", which no file defines")
               : configError(files, "contexts", "no context named \"" + name + "\" (--context)");
  }
  const Entry& c = ctx->second;
  Config out;
  out.context = name;
  out.source = "kubeconfig " + files;
  auto clusterName = stringField(c, "cluster");
  auto userName = stringField(c, "user");
  auto ns = stringField(c, "namespace");
  for (const auto* r : {&clusterName, &userName, &ns}) {
    if (!r->ok()) {
      return r->error();
    }
  }
  if (clusterName->empty()) {
    return configError(c.file, c.field + ".cluster", "missing");
  }
  auto cl = m.clusters.find(*clusterName);
  if (cl == m.clusters.end()) {
    return configError(c.file, c.field + ".cluster",
                       "names cluster \"" + *clusterName + "\", which no file defines");
  }
  if (auto st = applyCluster(cl->second, out); !st.ok()) {
    return st.error();
  }
  if (!userName->empty()) {
    auto u = m.users.find(*userName);
    if (u == m.users.end()) {
      return configError(c.file, c.field + ".user",
                         "names user \"" + *userName + "\", which no file defines");
    }
    if (auto st = applyUser(u->second, out); !st.ok()) {
      return st.error();
    }
  }
  if (!ns->empty()) {
    out.namespace_ = *ns;
  }
  return out;
}

Result<Config> loadInCluster(const Getenv& getenv, const std::string& dir) {
  auto host = getenv("KUBERNETES_SERVICE_HOST");
  auto port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Error::make(
        0, "InvalidConfig",
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  Config out;
  std::string h = host->find(':') != std::string::npos ? "[" + *host + "]" : *host;
  out.server = "https://" + h + ":" + *port;
  out.source = "in-cluster";
  out.tokenFile = dir + "/token";
  auto token = readWholeFile(out.tokenFile);
  if (!token || token->empty()) {
    return Error::make(0, "InvalidConfig", "in-cluster: cannot read token file " + out.tokenFile);
  }
  auto ca = readWholeFile(dir + "/ca.crt");
  if (!ca || ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Error::make(0, "InvalidConfig",
                       "in-cluster: cannot read a PEM certificate from " + dir + "/ca.crt");
  }
  out.caPem = *ca;
  if (auto ns = readWholeFile(dir + "/namespace"); ns && !ns->empty()) {
    while (!ns->empty() && (ns->back() == '\n' || ns->back() == ' ')) {
      ns->pop_back();
    }
    out.namespace_ = *ns;
  }
  return out;
}

Result<Config> loadConfig(const LoadOptions& opts) {
  if (!opts.kubeconfig.empty()) {
    return loadKubeconfig({opts.kubeconfig}, opts.context);
  }
  if (auto env = opts.getenv("KUBECONFIG"); env && !env->empty()) {
    std::vector<std::string> existing;
    std::stringstream ss(*env);
    for (std::string p; std::getline(ss, p, ':');) {
      if (!p.empty() && readWholeFile(p)) {
        existing.push_back(p);
      }
    }
    if (existing.empty()) {
      return Error::make(0, "InvalidConfig", "KUBECONFIG=" + *env + ": none of the files exists");
    }
    return loadKubeconfig(existing, opts.context);
  }
  // An explicit --context only makes sense for kubeconfig files.
  if (auto host = opts.getenv("KUBERNETES_SERVICE_HOST"); host && opts.context.empty()) {
    return loadInCluster(opts.getenv, opts.serviceAccountDir);
  }
  auto home = opts.getenv("HOME");
  std::string path = (home ? *home : std::string()) + "/.kube/config";
  if (home && readWholeFile(path)) {
    return loadKubeconfig({path}, opts.context);
  }
  return Error::make(
      0, "InvalidConfig",
      "no configuration: no --kubeconfig, no $KUBECONFIG, not in a cluster, and no " + path);
}

Getenv processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) {
      return std::nullopt;
    }
    return std::string(v);
  };
}

TokenSource::TokenSource(const Config& config, Clock& clock, std::chrono::seconds refresh)
    : fixed_(config.token), file_(config.tokenFile), clock_(clock), refresh_(refresh) {}

std::string TokenSource::token() {
  if (!fixed_.empty() || file_.empty()) {
    return fixed_;
  }
  std::lock_guard<std::mutex> lk(mu_);
  TimePoint now = clock_.now();
  if (!readAt_ || now - *readAt_ >= refresh_) {
    if (auto t = readWholeFile(file_); t && !t->empty()) {
      while (!t->empty() && (t->back() == '\n' || t->back() == '\r' || t->back() == ' ')) {
        t->pop_back();
      }
      cached_ = *t;
    }
    readAt_ = now;
  }
  return cached_;
}

}  // namespace waha::kube
