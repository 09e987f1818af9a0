#pragma once

// Where the API server is and how to authenticate: kubeconfig files (kubectl's rules) or the
// in-cluster service account. Loading never throws; a bad file is one Error naming file and field.

#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/base64.h"
#include "common/clock.h"
#include "common/result.h"
#include "http/client.h"

namespace waha::kube {

struct Config {
  std::string server;  // https://host:port, no trailing slash
  std::string caPem;   // from certificate-authority(-data) or the service-account ca.crt
  std::string clientCertPem;
  std::string clientKeyPem;
  bool insecureSkipTlsVerify = false;
  std::string token;      // static bearer token
  std::string tokenFile;  // re-read periodically (bound service-account tokens rotate)
  std::string username;   // basic auth, when no token is given
  std::string password;
  std::string namespace_ = "default";  // the context's (or service account's) namespace
  std::string context;                 // context name; empty in-cluster
  std::string source;                  // "kubeconfig <paths>" or "in-cluster", for logs

  http::ClientOptions clientOptions() const;
};

// Lookup of environment variables and the home directory, injectable for tests.
using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
Getenv processEnv();

struct LoadOptions {
  std::string kubeconfig;  // --kubeconfig: one file, must exist
  std::string context;     // --context: overrides current-context
  Getenv getenv = processEnv();
  // The service-account directory (tests point it at a temp dir).
  std::string serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

// controller-runtime's order: --kubeconfig, then $KUBECONFIG (':'-separated list, merged like
// kubectl: the first file to define a name or current-context wins, missing files are skipped),
// then in-cluster (KUBERNETES_SERVICE_HOST set), then ~/.kube/config.
Result<Config> loadConfig(const LoadOptions& opts);

// Parses the merged files given explicitly (what loadConfig does for a kubeconfig source).
Result<Config> loadKubeconfig(const std::vector<std::string>& paths, const std::string& context);

// In-cluster: token, ca.crt and namespace under `serviceAccountDir`, server from
// KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT.
Result<Config> loadInCluster(const Getenv& getenv, const std::string& serviceAccountDir);

// The bearer token to send, re-reading `tokenFile` when the cached copy is older than
// `refresh` (client-go re-reads every minute). A failed re-read keeps the last good token.
class TokenSource {
 public:
  TokenSource(const Config& config, Clock& clock,
              std::chrono::seconds refresh = std::chrono::seconds(60));
  std::string token();

 private:
  std::string fixed_;
  std::string file_;
  Clock& clock_;
  Duration refresh_;
  std::mutex mu_;
  std::string cached_;
  std::optional<TimePoint> readAt_;
};

// Base64 (standard alphabet, padding optional, whitespace ignored); nullopt on bad input.
inline std::optional<std::string> decodeBase64(const std::string& in) { return base64Decode(in); }

}  // namespace waha::kube
