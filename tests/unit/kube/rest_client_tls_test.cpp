// RestKubeClient built from a kubeconfig, over HTTPS against a fake API server whose certificate
// comes from a throw-away CA (support/test_pki.h).
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <string>

#include "http/server.h"
#include "kube/rest_client.h"
#include "support/paths.h"
#include "support/test_pki.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;

namespace {

const ResourceRef kPods{"", "v1", "pods", true};

// A CA and a certificate it signed for 127.0.0.1 (server and client).
test::TestPki makePki() {
  auto pki = test::makeTestPki();
  REQUIRE(pki.ok());
  return *pki;
}

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

struct TlsApi {
  test::TestPki pki = makePki();
  std::unique_ptr<http::HttpServer> server;
  std::mutex mu;
  std::string lastAuth;
  std::string dir = test::makeTempDir("kube-tls");

  TlsApi() {
    http::ServerOptions so;
    so.tls = http::TlsConfig{pki.leaf.certPem, pki.leaf.keyPem};
    server = http::makeBeastServer(so);
    REQUIRE(server
                ->start(http::syncHandler([this](const http::Request& r) {
                  std::lock_guard<std::mutex> lk(mu);
                  lastAuth = r.header("authorization");
                  return http::Response::json(200, R"({"kind":"Pod","metadata":{"name":"p"}})");
                }))
                .ok());
  }
  ~TlsApi() {
    server->stop();
    std::filesystem::remove_all(dir);
  }
  std::string auth() {
    std::lock_guard<std::mutex> lk(mu);
    return lastAuth;
  }
  // A kubeconfig for this server; `clusterExtra`/`userExtra` are flow-mapping entries.
  std::string kubeconfig(const std::string& clusterExtra, const std::string& userExtra) {
    std::string path = dir + "/config";
    test::writeFile(path,
                    "current-context: t\nclusters:\n- name: c\n  cluster: {server: "
                    "'https://127.0.0.1:" +
                        std::to_string(server->port()) + "'" + clusterExtra +
                        "}\nusers:\n- name: u\n  user: {" + userExtra +
                        "}\ncontexts:\n- name: t\n  context: {cluster: c, user: u}\n");
    return path;
  }
};

Result<std::shared_ptr<RestKubeClient>> clientFrom(const std::string& kubeconfig, Clock& clock,
                                                   Random& random) {
  auto cfg = loadKubeconfig({kubeconfig}, "");
  REQUIRE(cfg.ok());
  RestOptions base;
  base.maxAttempts = 1;
  base.requestTimeout = std::chrono::seconds(5);
  return RestKubeClient::fromConfig(*cfg, clock, random, base);
}

}  // namespace

TEST_CASE("HTTPS with the kubeconfig's CA and a token file that rotates") {
  TlsApi api;
  test::writeFile(api.dir + "/token", "first-token\n");
  ManualClock clock;
  FixedRandom random;
  auto client =
      clientFrom(api.kubeconfig(", certificate-authority-data: " + b64(api.pki.ca.certPem),
                                "tokenFile: token"),
                 clock, random);
  REQUIRE(client.ok());
  auto got = (*client)->get(kPods, "ns", "p");
  INFO((got.ok() ? "" : got.error().str()));
  REQUIRE(got.ok());
  REQUIRE(api.auth() == "Bearer first-token");

  test::writeFile(api.dir + "/token", "second-token\n");
  REQUIRE((*client)->get(kPods, "ns", "p").ok());
  REQUIRE(api.auth() == "Bearer first-token");  // cached for a minute
  clock.advance(std::chrono::seconds(60));
  REQUIRE((*client)->get(kPods, "ns", "p").ok());
  REQUIRE(api.auth() == "Bearer second-token");
}

TEST_CASE("A server certificate from another CA, or no CA at all, is refused") {
  TlsApi api;
  test::TestPki other = makePki();
  ManualClock clock;
  FixedRandom random;
  auto wrong = clientFrom(
      api.kubeconfig(", certificate-authority-data: " + b64(other.ca.certPem), "token: t"), clock,
      random);
  REQUIRE(wrong.ok());
  auto res = (*wrong)->get(kPods, "ns", "p");
  REQUIRE_FALSE(res.ok());
  REQUIRE(res.error().code == 0);

  auto none = clientFrom(api.kubeconfig("", "token: t"), clock, random);
  REQUIRE(none.ok());
  REQUIRE_FALSE((*none)->get(kPods, "ns", "p").ok());
}

TEST_CASE("insecure-skip-tls-verify accepts any server certificate") {
  TlsApi api;
  ManualClock clock;
  FixedRandom random;
  auto client =
      clientFrom(api.kubeconfig(", insecure-skip-tls-verify: true", "token: abc"), clock, random);
  REQUIRE(client.ok());
  REQUIRE((*client)->get(kPods, "ns", "p").ok());
  REQUIRE(api.auth() == "Bearer abc");
}

TEST_CASE("Client certificates load from kubeconfig data; a bad key fails at start-up") {
  TlsApi api;
  test::TestPki client = makePki();
  ManualClock clock;
  FixedRandom random;
  std::string ca = ", certificate-authority-data: " + b64(api.pki.ca.certPem);
  auto ok = clientFrom(api.kubeconfig(ca, "client-certificate-data: " + b64(client.leaf.certPem) +
                                              ", client-key-data: " + b64(client.leaf.keyPem)),
                       clock, random);
  REQUIRE(ok.ok());
  REQUIRE((*ok)->get(kPods, "ns", "p").ok());
  REQUIRE(api.auth().empty());

  std::string badKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  auto bad = clientFrom(api.kubeconfig(ca, "client-certificate-data: " + b64(client.leaf.certPem) +
                                               ", client-key-data: " + b64(badKey)),
                        clock, random);
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.error().message.find("TLS") != std::string::npos);
}
