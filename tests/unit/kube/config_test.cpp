#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>

#include "common/base64.h"
#include "kube/config.h"
#include "support/paths.h"

using namespace waha;
using namespace waha::kube;

namespace {

const std::string kCaPem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const std::string kKeyPem = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n";

std::string b64(const std::string& in) { return waha::base64Encode(in); }

struct TempDir {
  std::string path = test::makeTempDir("kubeconfig");
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = path + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    test::writeFile(p, content);
    return p;
  }
};

Getenv envOf(std::map<std::string, std::string> vars) {
  return [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

std::string validFile(const std::string& server = "https://10.0.0.1:6443") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
         "clusters:\n- name: c1\n  cluster:\n    server: " +
         server +
         "\n"
         "    certificate-authority-data: " +
         b64(kCaPem) +
         "\n"
         "users:\n- name: u1\n  user:\n    token: abc123\n"
         "contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n    namespace: team\n";
}

}  // namespace

TEST_CASE("A complete kubeconfig gives server, CA, token and namespace") {
  TempDir d;
  auto cfg = loadKubeconfig({d.write("config", validFile())}, "");
  REQUIRE(cfg.ok());
  REQUIRE(cfg->server == "https://10.0.0.1:6443");
  REQUIRE(cfg->caPem == kCaPem);
  REQUIRE(cfg->token == "abc123");
  REQUIRE(cfg->namespace_ == "team");
  REQUIRE(cfg->context == "dev");
  REQUIRE_FALSE(cfg->insecureSkipTlsVerify);
  REQUIRE(cfg->clientOptions().tls.caPem == kCaPem);
}

TEST_CASE("File references are resolved relative to the kubeconfig's directory") {
  TempDir d;
  d.write("ca.crt", kCaPem);
  d.write("client.crt", kCaPem);
  d.write("client.key", kKeyPem);
  d.write("token", "file-token\n");
  auto path = d.write("config",
                      "current-context: x\n"
                      "clusters:\n- name: c\n  cluster:\n    server: https://k:443/\n"
                      "    certificate-authority: ca.crt\n"
                      "users:\n- name: u\n  user:\n    client-certificate: client.crt\n"
                      "    client-key: " +
                          d.path +
                          "/client.key\n    tokenFile: token\n"
                          "contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
  auto cfg = loadKubeconfig({path}, "");
  REQUIRE(cfg.ok());
  REQUIRE(cfg->server == "https://k:443");
  REQUIRE(cfg->caPem == kCaPem);
  REQUIRE(cfg->clientCertPem == kCaPem);
  REQUIRE(cfg->clientKeyPem == kKeyPem);
  REQUIRE(cfg->tokenFile == d.path + "/token");
  REQUIRE(cfg->namespace_ == "default");
}

TEST_CASE("A KUBECONFIG list merges like kubectl: the first file to define a name wins") {
  TempDir d;
  auto a = d.write("a",
                   "current-context: first\n"
                   "clusters:\n- name: c\n  cluster: {server: 'https://a:1'}\n"
                   "contexts:\n- name: first\n  context: {cluster: c, user: u}\n");
  auto b = d.write("b",
                   "current-context: second\n"
                   "clusters:\n- name: c\n  cluster: {server: 'https://b:2'}\n"
                   "- name: other\n  cluster: {server: 'http://other:3', "
                   "insecure-skip-tls-verify: true}\n"
                   "users:\n- name: u\n  user: {username: admin, password: pw}\n"
                   "contexts:\n- name: second\n  context: {cluster: other, user: u}\n");
  Getenv env = envOf({{"KUBECONFIG", a + "::" + d.path + "/missing:" + b}});
  auto cfg = loadConfig(LoadOptions{"", "", env, d.path});
  REQUIRE(cfg.ok());
  REQUIRE(cfg->context == "first");
  REQUIRE(cfg->server == "https://a:1");
  REQUIRE(cfg->username == "admin");
  REQUIRE(cfg->password == "pw");

  auto other = loadConfig(LoadOptions{"", "second", env, d.path});
  REQUIRE(other.ok());
  REQUIRE(other->server == "http://other:3");
  REQUIRE(other->insecureSkipTlsVerify);
}

TEST_CASE("Source order: --kubeconfig, then KUBECONFIG, then in-cluster, then ~/.kube/config") {
  TempDir d;
  auto flag = d.write("flag", validFile("https://flag:1"));
  auto env = d.write("env", validFile("https://env:1"));
  std::filesystem::create_directories(d.path + "/home/.kube");
  d.write("home/.kube/config", validFile("https://home:1"));
  d.write("sa/token", "sa-token\n");
  d.write("sa/ca.crt", kCaPem);
  d.write("sa/namespace", "ops\n");
  std::map<std::string, std::string> vars{{"KUBECONFIG", env},
                                          {"HOME", d.path + "/home"},
                                          {"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                          {"KUBERNETES_SERVICE_PORT", "443"}};
  std::string sa = d.path + "/sa";
  REQUIRE(loadConfig({flag, "", envOf(vars), sa})->server == "https://flag:1");
  REQUIRE(loadConfig({"", "", envOf(vars), sa})->server == "https://env:1");
  vars.erase("KUBECONFIG");
  auto in = loadConfig({"", "", envOf(vars), sa});
  REQUIRE(in.ok());
  REQUIRE(in->server == "https://[fd00::1]:443");
  REQUIRE(in->namespace_ == "ops");
  REQUIRE(in->caPem == kCaPem);
  REQUIRE(in->tokenFile == sa + "/token");
  REQUIRE(in->source == "in-cluster");
  // --context means a kubeconfig was meant, even inside a pod.
  REQUIRE(loadConfig({"", "dev", envOf(vars), sa})->server == "https://home:1");
  vars.erase("KUBERNETES_SERVICE_HOST");
  REQUIRE(loadConfig({"", "", envOf(vars), sa})->server == "https://home:1");
  vars["HOME"] = d.path + "/nowhere";
  auto none = loadConfig({"", "", envOf(vars), sa});
  REQUIRE_FALSE(none.ok());
  REQUIRE(none.error().message.find("no configuration") != std::string::npos);
}

TEST_CASE("In-cluster config without a readable token is a clear error") {
  TempDir d;
  d.write("ca.crt", kCaPem);
  auto r = loadInCluster(
      envOf({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      d.path);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().message.find(d.path + "/token") != std::string::npos);
  auto noEnv = loadInCluster(envOf({}), d.path);
  REQUIRE(noEnv.error().message.find("KUBERNETES_SERVICE_HOST") != std::string::npos);
}

TEST_CASE("The service-account token is re-read once a minute, keeping the last good one") {
  TempDir d;
  Config c;
  c.tokenFile = d.write("token", "one\n");
  ManualClock clock;
  TokenSource ts(c, clock);
  REQUIRE(ts.token() == "one");
  test::writeFile(c.tokenFile, "two");
  clock.advance(std::chrono::seconds(59));
  REQUIRE(ts.token() == "one");
  clock.advance(std::chrono::seconds(1));
  REQUIRE(ts.token() == "two");
  std::filesystem::remove(c.tokenFile);
  clock.advance(std::chrono::seconds(61));
  REQUIRE(ts.token() == "two");
  Config fixed;
  fixed.token = "static";
  REQUIRE(TokenSource(fixed, clock).token() == "static");
}

TEST_CASE("base64 decoding accepts padding and line breaks and rejects garbage") {
  REQUIRE(decodeBase64(b64("hello world")) == "hello world");
  REQUIRE(decodeBase64("aGVs\nbG8=") == "hello");
  REQUIRE(decodeBase64("aGVsbG8") == "hello");
  REQUIRE_FALSE(decodeBase64("aGV*bG8=").has_value());
  REQUIRE_FALSE(decodeBase64("aG=Vs").has_value());
}

TEST_CASE("Malformed kubeconfigs give one clear error naming the file and the field") {
  const std::string ctx =
      "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
      "current-context: x\n";
  const std::string user = "users:\n- name: u\n  user: {token: t}\n";
  const std::string cluster = "clusters:\n- name: c\n  cluster: {server: 'https://k:6443'}\n";
  struct Case {
    std::string name;
    std::string yaml;
    std::string field;  // must appear in the message
  };
  std::vector<Case> cases{
      {"empty file", "", "empty file"},
      {"invalid yaml", "clusters: [\n  - {name: c\n", "invalid YAML at line"},
      {"top level is a list", "- a\n- b\n", "top level must be a mapping"},
      {"wrong kind", "kind: Pod\n" + cluster + user + ctx, "kind: must be Config"},
      {"clusters not a list", "clusters: {c: 1}\n" + user + ctx, "clusters: must be a list"},
      {"cluster without name", "clusters:\n- cluster: {server: 'https://k'}\n" + user + ctx,
       "clusters[0].name: missing"},
      {"cluster body not a map", "clusters:\n- name: c\n  cluster: https://k\n" + user + ctx,
       "clusters[\"c\"].cluster: missing or not a mapping"},
      {"server missing",
       "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n" + user + ctx,
       "clusters[\"c\"].cluster.server: missing"},
      {"server not a URL", "clusters:\n- name: c\n  cluster: {server: 'k8s:6443'}\n" + user + ctx,
       "clusters[\"c\"].cluster.server: must be an http(s) URL"},
      {"CA data not base64",
       "clusters:\n- name: c\n  cluster: {server: 'https://k', certificate-authority-data: "
       "'!!notbase64'}\n" +
           user + ctx,
       "clusters[\"c\"].cluster.certificate-authority-data: is not valid base64"},
      {"CA data not PEM",
       "clusters:\n- name: c\n  cluster: {server: 'https://k', certificate-authority-data: " +
           b64("hello") + "}\n" + user + ctx,
       "certificate-authority-data: does not contain PEM data"},
      {"CA file missing",
       "clusters:\n- name: c\n  cluster: {server: 'https://k', certificate-authority: nope.crt}\n" +
           user + ctx,
       "clusters[\"c\"].cluster.certificate-authority: cannot read file"},
      {"insecure not a bool",
       "clusters:\n- name: c\n  cluster: {server: 'https://k', insecure-skip-tls-verify: maybe}\n" +
           user + ctx,
       "insecure-skip-tls-verify: must be true or false"},
      {"insecure with CA",
       "clusters:\n- name: c\n  cluster: {server: 'https://k', insecure-skip-tls-verify: true, "
       "certificate-authority-data: " +
           b64(kCaPem) + "}\n" + user + ctx,
       "insecure-skip-tls-verify: cannot be combined"},
      {"users not a list", cluster + "users: 7\n" + ctx, "users: must be a list"},
      {"client cert without key",
       cluster + "users:\n- name: u\n  user: {client-certificate-data: " + b64(kCaPem) + "}\n" +
           ctx,
       "users[\"u\"].user.client-key: missing"},
      {"client key not base64",
       cluster + "users:\n- name: u\n  user: {client-certificate-data: " + b64(kCaPem) +
           ", client-key-data: '%%%'}\n" + ctx,
       "users[\"u\"].user.client-key-data: is not valid base64"},
      {"token not a string", cluster + "users:\n- name: u\n  user: {token: [a, b]}\n" + ctx,
       "users[\"u\"].user.token: must be a string"},
      {"tokenFile missing",
       cluster + "users:\n- name: u\n  user: {tokenFile: /nonexistent/t}\n" + ctx,
       "users[\"u\"].user.tokenFile: cannot read file /nonexistent/t"},
      {"exec plugin", cluster + "users:\n- name: u\n  user:\n    exec: {command: aws}\n" + ctx,
       "users[\"u\"].user.exec: credential plugins are not supported"},
      {"no current-context", cluster + user + "contexts:\n- name: x\n  context: {cluster: c}\n",
       "current-context: not set"},
      {"current-context unknown", cluster + user + "current-context: prod\n",
       "current-context: names context \"prod\""},
      {"context without cluster",
       cluster + user +
           "contexts:\n- name: x\n  context: {user: u}\n"
           "current-context: x\n",
       "contexts[\"x\"].context.cluster: missing"},
      {"context names unknown cluster",
       cluster + user +
           "contexts:\n- name: x\n  context: {cluster: zz}\n"
           "current-context: x\n",
       "contexts[\"x\"].context.cluster: names cluster \"zz\""},
      {"context names unknown user",
       cluster + user +
           "contexts:\n- name: x\n  context: {cluster: c, user: "
           "bob}\ncurrent-context: x\n",
       "contexts[\"x\"].context.user: names user \"bob\""},
  };
  REQUIRE(cases.size() >= 15);
  TempDir d;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    INFO("case: " << c.name);
    std::string path = d.write("bad" + std::to_string(i), c.yaml);
    auto r = loadKubeconfig({path}, "");
    REQUIRE_FALSE(r.ok());
    INFO("message: " << r.error().message);
    REQUIRE(r.error().message.find(path) != std::string::npos);
    REQUIRE(r.error().message.find(c.field) != std::string::npos);
    REQUIRE(r.error().message.find('\n') == std::string::npos);
  }
}

TEST_CASE("--kubeconfig naming a missing file or an unknown --context is an error") {
  TempDir d;
  auto missing = loadConfig({d.path + "/nope", "", envOf({}), d.path});
  REQUIRE(missing.error().message.find(d.path + "/nope: cannot read file") != std::string::npos);
  auto path = d.write("config", validFile());
  auto ctx = loadConfig({path, "staging", envOf({}), d.path});
  REQUIRE(ctx.error().message.find("no context named \"staging\"") != std::string::npos);
  auto env = loadConfig({"", "", envOf({{"KUBECONFIG", d.path + "/x:" + d.path + "/y"}}), d.path});
  REQUIRE(env.error().message.find("none of the files exists") != std::string::npos);
}
