#include <catch2/catch.hpp>

#include "api/defaults.h"
#include "controller/worker_template.h"

using namespace waha;
using namespace waha::controller;

namespace {

api::WahaCluster cluster() {
  api::WahaCluster c;
  c.metadata.name = "pool";
  c.metadata.namespace_ = "team-a";
  c.metadata.uid = "uid-1";
  c.spec.engine = api::Engine::Noweb;
  c.spec.apiKeySecretRef = api::SecretKeyRef{"waha-key", "api-key"};
  return c;
}

const Json* findEnv(const Json& container, const std::string& name) {
  for (const auto& e : container["env"]) {
    if (e["name"] == name) {
      return &e;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("Worker Deployment carries WAHA's orchestration env, never a secret value") {
  auto c = cluster();
  c.spec.sessionStorage =
      api::SessionStorageSpec{api::StorageType::PostgreSQL, api::SecretKeyRef{"pg", "url"}};
  Json d = buildWorkerDeployment(c, 3);
  REQUIRE(d["metadata"]["name"] == "pool-workers");
  REQUIRE(d["metadata"]["namespace"] == "team-a");
  REQUIRE(d["spec"]["replicas"] == 3);
  REQUIRE(d["metadata"]["ownerReferences"][0]["kind"] == "WahaCluster");
  REQUIRE(d["metadata"]["ownerReferences"][0]["uid"] == "uid-1");
  REQUIRE(d["metadata"]["ownerReferences"][0]["controller"] == true);
  REQUIRE(d["spec"]["selector"]["matchLabels"] == workerSelector("pool"));
  const Json& pod = d["spec"]["template"];
  const Json selector = workerSelector("pool");
  for (auto& [k, v] : selector.items()) {
    REQUIRE(pod["metadata"]["labels"][k] == v);
  }
  const Json& ctr = pod["spec"]["containers"][0];
  REQUIRE(ctr["image"] == api::kDefaultImage);
  REQUIRE((*findEnv(ctr, "WHATSAPP_DEFAULT_ENGINE"))["value"] == "NOWEB");
  REQUIRE((*findEnv(ctr, "WHATSAPP_API_PORT"))["value"] == "3000");
  REQUIRE((*findEnv(ctr, "WHATSAPP_API_KEY"))["valueFrom"]["secretKeyRef"] ==
          Json{{"name", "waha-key"}, {"key", "api-key"}});
  REQUIRE((*findEnv(ctr, "WHATSAPP_API_KEY")).count("value") == 0);
  REQUIRE((*findEnv(ctr, "WAHA_WORKER_ID"))["valueFrom"]["fieldRef"]["fieldPath"] ==
          "metadata.name");
  REQUIRE((*findEnv(ctr, "WHATSAPP_RESTART_ALL_SESSIONS"))["value"] == "false");
  REQUIRE((*findEnv(ctr, "WAHA_WORKER_RESTART_SESSIONS"))["value"] == "true");
  REQUIRE((*findEnv(ctr, "WHATSAPP_API_KEY_EXCLUDE_PATH"))["value"] == "ping");
  REQUIRE(
      (*findEnv(ctr, "WHATSAPP_SESSIONS_POSTGRESQL_URL"))["valueFrom"]["secretKeyRef"]["name"] ==
      "pg");
  REQUIRE(ctr["readinessProbe"]["httpGet"]["path"] == "/ping");
  REQUIRE(ctr["livenessProbe"]["httpGet"]["path"] == "/ping");
  REQUIRE(ctr["resources"]["requests"].contains("cpu"));
  REQUIRE(ctr["resources"]["requests"].contains("memory"));
}

TEST_CASE("Local storage sets no PostgreSQL URL; user overrides pass except managed names") {
  auto c = cluster();
  c.spec.env = Json::array({{{"name", "WHATSAPP_HOOK_URL"}, {"value", "https://hooks"}},
                            {{"name", "WHATSAPP_RESTART_ALL_SESSIONS"}, {"value", "true"}}});
  c.spec.nodeSelector = std::map<std::string, std::string>{{"pool", "waha"}};
  c.spec.tolerations = Json::array({{{"key", "dedicated"}, {"operator", "Exists"}}});
  c.spec.podAnnotations = std::map<std::string, std::string>{{"prometheus.io/scrape", "true"}};
  c.spec.image = "devlikeapro/waha:2026.6.1";
  Json d = buildWorkerDeployment(c, 1);
  const Json& pod = d["spec"]["template"];
  const Json& ctr = pod["spec"]["containers"][0];
  REQUIRE(findEnv(ctr, "WHATSAPP_SESSIONS_POSTGRESQL_URL") == nullptr);
  REQUIRE((*findEnv(ctr, "WHATSAPP_HOOK_URL"))["value"] == "https://hooks");
  // The user's `true` would make every worker start every session: the managed value stays.
  int restartAll = 0;
  for (const auto& e : ctr["env"]) {
    if (e["name"] == "WHATSAPP_RESTART_ALL_SESSIONS") {
      ++restartAll;
      REQUIRE(e["value"] == "false");
    }
  }
  REQUIRE(restartAll == 1);
  REQUIRE(pod["spec"]["nodeSelector"]["pool"] == "waha");
  REQUIRE(pod["spec"]["tolerations"][0]["key"] == "dedicated");
  REQUIRE(pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true");
  REQUIRE(ctr["image"] == "devlikeapro/waha:2026.6.1");
}

TEST_CASE("The template hash is stable and follows changes to the spec") {
  auto c = cluster();
  auto hash = [](const Json& d) {
    return d["spec"]["template"]["metadata"]["annotations"][kTemplateHashAnnotation];
  };
  Json a = buildWorkerDeployment(c, 1);
  REQUIRE(hash(a) == hash(buildWorkerDeployment(c, 5)));  // replicas are not the template
  c.spec.image = "devlikeapro/waha:other";
  REQUIRE(hash(a) != hash(buildWorkerDeployment(c, 1)));
}

TEST_CASE("PDB allows one worker down at a time") {
  Json p = buildWorkerPdb(cluster());
  REQUIRE(p["apiVersion"] == "policy/v1");
  REQUIRE(p["spec"]["maxUnavailable"] == 1);
  REQUIRE(p["spec"]["selector"]["matchLabels"] == workerSelector("pool"));
  REQUIRE(workerSelectorText("pool") == "waha.io/cluster=pool,app.kubernetes.io/component=worker");
}
