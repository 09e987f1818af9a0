// RestKubeClient built from a kubeconfig, over HTTPS against a fake API server whose certificate
// comes from a CA generated here with OpenSSL.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <string>

#include "http/server.h"
#include "kube/rest_client.h"
#include "support/paths.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;

namespace {

const ResourceRef kPods{"", "v1", "pods", true};

std::string toPem(X509* cert) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

std::string toPem(EVP_PKEY* key) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct KeyPair {
  std::string certPem;
  std::string keyPem;
};

// A CA and a certificate it signed (for 127.0.0.1), EC P-256 so generation is instant.
struct Pki {
  KeyPair ca;
  KeyPair leaf;
  Pki() {
    EVP_PKEY* caKey = EVP_EC_gen("P-256");
    X509* caCert = makeCert(caKey, caKey, nullptr, "test-ca", true);
    EVP_PKEY* leafKey = EVP_EC_gen("P-256");
    X509* leafCert = makeCert(leafKey, caKey, caCert, "127.0.0.1", false);
    ca = {toPem(caCert), toPem(caKey)};
    leaf = {toPem(leafCert), toPem(leafKey)};
    X509_free(leafCert);
    X509_free(caCert);
    EVP_PKEY_free(leafKey);
    EVP_PKEY_free(caKey);
  }
  static X509* makeCert(EVP_PKEY* key, EVP_PKEY* signer, X509* issuer, const char* cn, bool isCa) {
    static long serial = 1;
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert));
    X509* iss = issuer ? issuer : cert;
    if (isCa) {
      addExt(cert, iss, NID_basic_constraints, "critical,CA:TRUE");
      addExt(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      addExt(cert, iss, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
      addExt(cert, iss, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    REQUIRE(X509_sign(cert, signer, EVP_sha256()) > 0);
    return cert;
  }
};

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

struct TlsApi {
  Pki pki;
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
  Pki other;
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
  Pki client;
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
