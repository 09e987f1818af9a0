// The validation table: invalid objects, each with the field path it must be rejected at, checked
// at the layer that owns the rule: the CRD schema (as the API server applies it) or api::validate.

#include <catch2/catch.hpp>

#include "api/types.h"
#include "api/validation.h"
#include "support/paths.h"
#include "unit/api/schema_check.h"

using namespace waha;
using namespace waha::api;
using waha::test::Json;

namespace {

enum class Layer { Schema, Semantic };

struct Case {
  const char* name;
  Layer layer;
  const char* kind;   // "cluster" | "session"
  const char* patch;  // RFC 7386 merge patch applied to the valid base object
  const char* path;   // the field the error must be reported at
};

const Json& crdSchemaOf(const std::string& kind) {
  static const Json cluster = test::crdSchema(
      test::loadYamlFile(test::sourceDir() + "/crds/waha.io_wahaclusters.yaml").at(0));
  static const Json session = test::crdSchema(
      test::loadYamlFile(test::sourceDir() + "/crds/waha.io_wahasessions.yaml").at(0));
  return kind == "cluster" ? cluster : session;
}

Json baseCluster() {
  return Json::parse(R"({"apiVersion":"waha.io/v1alpha1","kind":"WahaCluster",
    "metadata":{"name":"pool","namespace":"default"},
    "spec":{"apiKeySecretRef":{"name":"waha-key","key":"api-key"}}})");
}

Json baseSession() {
  return Json::parse(R"({"apiVersion":"waha.io/v1alpha1","kind":"WahaSession",
    "metadata":{"name":"sales","namespace":"default"},
    "spec":{"clusterRef":{"name":"pool"}}})");
}

// Schema errors after API-server style defaulting.
std::vector<std::string> schemaErrorPaths(const std::string& kind, Json obj) {
  const Json& schema = crdSchemaOf(kind);
  test::applySchemaDefaults(obj, schema);
  std::vector<std::string> paths;
  for (const auto& e : test::checkSchema(obj, schema)) {
    paths.push_back(e.path);
  }
  return paths;
}

SessionValidationContext context() {
  SessionValidationContext ctx;
  ctx.clusterExists = [](const std::string& name) { return name == "pool"; };
  ctx.sessionNameOwner = [](const std::string& cluster,
                            const std::string& session) -> std::optional<std::string> {
    if (cluster == "pool" && session == "taken") {
      return std::string("first-owner");
    }
    return std::nullopt;
  };
  return ctx;
}

std::vector<std::string> semanticErrorPaths(const std::string& kind, const Json& obj) {
  std::vector<FieldError> errs;
  if (kind == "cluster") {
    auto c = parseCluster(obj);
    REQUIRE(c.ok());
    errs = validate(*c);
  } else {
    auto s = parseSession(obj);
    REQUIRE(s.ok());
    errs = validate(*s, context());
  }
  std::vector<std::string> paths;
  for (const auto& e : errs) {
    paths.push_back(e.path);
  }
  return paths;
}

const std::string k55(55, 'a');
const std::string k64(64, 'a');

const std::vector<Case>& cases() {
  static const std::string longSession = R"({"spec":{"sessionName":")" + k55 + R"("}})";
  static const std::string longCluster = R"({"metadata":{"name":")" + k64 + R"("}})";
  static const std::vector<Case> table = {
      // ---- cluster, schema ----
      {"unknown engine", Layer::Schema, "cluster", R"({"spec":{"engine":"CHROME"}})",
       "spec.engine"},
      {"zero sessions per worker", Layer::Schema, "cluster", R"({"spec":{"sessionsPerWorker":0}})",
       "spec.sessionsPerWorker"},
      {"too many sessions per worker", Layer::Schema, "cluster",
       R"({"spec":{"sessionsPerWorker":5000}})", "spec.sessionsPerWorker"},
      {"negative min workers", Layer::Schema, "cluster", R"({"spec":{"workers":{"min":-1}}})",
       "spec.workers.min"},
      {"zero max workers", Layer::Schema, "cluster", R"({"spec":{"workers":{"max":0}}})",
       "spec.workers.max"},
      {"empty image", Layer::Schema, "cluster", R"({"spec":{"image":""}})", "spec.image"},
      {"api key ref without key", Layer::Schema, "cluster",
       R"({"spec":{"apiKeySecretRef":{"key":null}}})", "spec.apiKeySecretRef.key"},
      {"api key ref with bad secret name", Layer::Schema, "cluster",
       R"({"spec":{"apiKeySecretRef":{"name":"Bad_Name"}}})", "spec.apiKeySecretRef.name"},
      {"unknown storage", Layer::Schema, "cluster", R"({"spec":{"sessionStorage":{"type":"S3"}}})",
       "spec.sessionStorage.type"},
      {"unknown strategy", Layer::Schema, "cluster",
       R"({"spec":{"placement":{"strategy":"Random"}}})", "spec.placement.strategy"},
      {"failover timeout too short", Layer::Schema, "cluster",
       R"({"spec":{"failover":{"notReadyTimeoutSeconds":1}}})",
       "spec.failover.notReadyTimeoutSeconds"},
      {"malformed quantity", Layer::Schema, "cluster",
       R"({"spec":{"resources":{"requests":{"cpu":"lots"}}}})", "spec.resources.requests.cpu"},
      {"bad toleration operator", Layer::Schema, "cluster",
       R"({"spec":{"tolerations":[{"key":"k","operator":"Maybe"}]}})",
       "spec.tolerations[0].operator"},
      {"env without name", Layer::Schema, "cluster", R"({"spec":{"env":[{"value":"x"}]}})",
       "spec.env[0].name"},
      {"affinity weight out of range", Layer::Schema, "cluster",
       R"({"spec":{"affinity":{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":
          [{"weight":500,"podAffinityTerm":{"topologyKey":"kubernetes.io/hostname"}}]}}}})",
       "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"},
      {"non-string node selector", Layer::Schema, "cluster", R"({"spec":{"nodeSelector":{"a":1}}})",
       "spec.nodeSelector.a"},
      {"misspelt field", Layer::Schema, "cluster", R"({"spec":{"engin":"GOWS"}})", "spec.engin"},
      // ---- session, schema ----
      {"no spec", Layer::Schema, "session", R"({"spec":null})", "spec"},
      {"no cluster ref", Layer::Schema, "session", R"({"spec":{"clusterRef":null}})",
       "spec.clusterRef"},
      {"session name too long", Layer::Schema, "session", longSession.c_str(), "spec.sessionName"},
      {"session name with a dot", Layer::Schema, "session", R"({"spec":{"sessionName":"a.b"}})",
       "spec.sessionName"},
      {"unknown state", Layer::Schema, "session", R"({"spec":{"state":"Paused"}})", "spec.state"},
      {"unknown deletion policy", Layer::Schema, "session",
       R"({"spec":{"deletionPolicy":"Delete"}})", "spec.deletionPolicy"},
      {"config not an object", Layer::Schema, "session", R"({"spec":{"config":"webhooks"}})",
       "spec.config"},
      {"proxy password ref without key", Layer::Schema, "session",
       R"({"spec":{"secretRefs":{"proxyPassword":{"name":"p"}}}})",
       "spec.secretRefs.proxyPassword.key"},
      {"unknown phase", Layer::Schema, "session", R"({"status":{"phase":"Dancing"}})",
       "status.phase"},
      {"condition status not True/False/Unknown", Layer::Schema, "session",
       R"({"status":{"conditions":[{"type":"Ready","status":"Yes","reason":"R","message":"",
          "lastTransitionTime":"2026-11-28T00:00:00Z"}]}})",
       "status.conditions[0].status"},
      {"negative epoch", Layer::Schema, "session", R"({"status":{"epoch":-1}})", "status.epoch"},
      {"assignedAt not a date", Layer::Schema, "session",
       R"({"status":{"assignedAt":"yesterday"}})", "status.assignedAt"},
      // ---- cluster, semantic ----
      {"min above max", Layer::Semantic, "cluster", R"({"spec":{"workers":{"min":5,"max":2}}})",
       "spec.workers.min"},
      {"min above the default max", Layer::Semantic, "cluster",
       R"({"spec":{"workers":{"min":20}}})", "spec.workers.min"},
      {"PostgreSQL without URL secret", Layer::Semantic, "cluster",
       R"({"spec":{"sessionStorage":{"type":"PostgreSQL"}}})",
       "spec.sessionStorage.postgresUrlSecretRef"},
      {"URL secret with Local storage", Layer::Semantic, "cluster",
       R"({"spec":{"sessionStorage":{"postgresUrlSecretRef":{"name":"pg","key":"url"}}}})",
       "spec.sessionStorage.postgresUrlSecretRef"},
      {"env overrides the worker id", Layer::Semantic, "cluster",
       R"({"spec":{"env":[{"name":"WAHA_WORKER_ID","value":"x"}]}})", "spec.env[0].name"},
      {"duplicate env", Layer::Semantic, "cluster",
       R"({"spec":{"env":[{"name":"TZ","value":"UTC"},{"name":"TZ","value":"CET"}]}})",
       "spec.env[1].name"},
      {"memory request above limit", Layer::Semantic, "cluster",
       R"({"spec":{"resources":{"requests":{"memory":"4Gi"},"limits":{"memory":"2Gi"}}}})",
       "spec.resources.requests.memory"},
      {"cluster name too long for a label", Layer::Semantic, "cluster", longCluster.c_str(),
       "metadata.name"},
      // ---- session, semantic ----
      {"reserved session name", Layer::Semantic, "session",
       R"({"spec":{"sessionName":"sessions"}})", "spec.sessionName"},
      {"reserved send route", Layer::Semantic, "session", R"({"spec":{"sessionName":"sendText"}})",
       "spec.sessionName"},
      {"metadata.name unusable as session name", Layer::Semantic, "session",
       R"({"metadata":{"name":"my.session"}})", "metadata.name"},
      {"metadata.name reserved in another case", Layer::Semantic, "session",
       R"({"metadata":{"name":"sendtext"}})", "metadata.name"},
      {"unknown cluster", Layer::Semantic, "session", R"({"spec":{"clusterRef":{"name":"nope"}}})",
       "spec.clusterRef.name"},
      {"session name already used in the cluster", Layer::Semantic, "session",
       R"({"spec":{"sessionName":"taken"}})", "spec.sessionName"},
      {"webhook without url", Layer::Semantic, "session",
       R"({"spec":{"config":{"webhooks":[{"events":["message"]}]}}})",
       "spec.config.webhooks[0].url"},
      {"webhook with ftp url", Layer::Semantic, "session",
       R"({"spec":{"config":{"webhooks":[{"url":"ftp://x.example"}]}}})",
       "spec.config.webhooks[0].url"},
      {"webhooks not a list", Layer::Semantic, "session",
       R"({"spec":{"config":{"webhooks":"https://x.example"}}})", "spec.config.webhooks"},
      {"hmac secret without webhooks", Layer::Semantic, "session",
       R"({"spec":{"secretRefs":{"webhookHmacKey":{"name":"h","key":"k"}}}})",
       "spec.secretRefs.webhookHmacKey"},
      {"plain hmac key next to the secret", Layer::Semantic, "session",
       R"({"spec":{"secretRefs":{"webhookHmacKey":{"name":"h","key":"k"}},
          "config":{"webhooks":[{"url":"https://x.example","hmac":{"key":"plain"}}]}}})",
       "spec.config.webhooks[0].hmac.key"},
      {"proxy password secret without proxy", Layer::Semantic, "session",
       R"({"spec":{"secretRefs":{"proxyPassword":{"name":"p","key":"pw"}}}})",
       "spec.secretRefs.proxyPassword"},
      {"plain proxy password next to the secret", Layer::Semantic, "session",
       R"({"spec":{"secretRefs":{"proxyPassword":{"name":"p","key":"pw"}},
          "config":{"proxy":{"server":"p:3128","password":"plain"}}}})",
       "spec.config.proxy.password"},
      {"non-string metadata value", Layer::Semantic, "session",
       R"({"spec":{"config":{"metadata":{"n":5}}}})", "spec.config.metadata.n"},
      {"proxy without server", Layer::Semantic, "session", R"({"spec":{"config":{"proxy":{}}}})",
       "spec.config.proxy.server"},
  };
  return table;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("the valid base objects pass both layers") {
  for (const std::string kind : {"cluster", "session"}) {
    const Json obj = kind == "cluster" ? baseCluster() : baseSession();
    CHECK(schemaErrorPaths(kind, obj).empty());
    CHECK(semanticErrorPaths(kind, obj).empty());
  }
}

TEST_CASE("validation table: every invalid object is rejected at its field path") {
  REQUIRE(cases().size() >= 30);
  for (const auto& c : cases()) {
    INFO(c.name << " (" << c.patch << ")");
    Json obj = std::string(c.kind) == "cluster" ? baseCluster() : baseSession();
    obj.merge_patch(Json::parse(c.patch));
    const auto schema = schemaErrorPaths(c.kind, obj);
    if (c.layer == Layer::Schema) {
      INFO("schema errors: " << Json(schema).dump());
      CHECK(contains(schema, c.path));
    } else {
      // Semantic cases pass the schema: only api::validate can catch them.
      INFO("schema errors: " << Json(schema).dump());
      CHECK(schema.empty());
      const auto semantic = semanticErrorPaths(c.kind, obj);
      INFO("semantic errors: " << Json(semantic).dump());
      CHECK(contains(semantic, c.path));
    }
  }
}

TEST_CASE("validate reports every problem at once, with readable messages") {
  Json obj = baseSession();
  obj.merge_patch(Json::parse(R"({"spec":{"sessionName":"ping","clusterRef":{"name":"nope"},
      "config":{"webhooks":[{"url":"x"},{"url":"https://ok.example"},{}]}}})"));
  const auto errs = validate(parseSession(obj).value(), context());
  REQUIRE(errs.size() == 4);
  CHECK(errs[0].str() ==
        "spec.sessionName: \"ping\" is reserved: it collides with a fixed WAHA route");
  CHECK(errs[1].str() ==
        "spec.clusterRef.name: WahaCluster \"nope\" not found in namespace \"default\"");
  CHECK(errs[2].path == "spec.config.webhooks[0].url");
  CHECK(errs[3].path == "spec.config.webhooks[2].url");
  CHECK_THAT(formatErrors(errs), Catch::Contains("; spec.clusterRef.name: "));

  WahaCluster c = parseCluster(baseCluster()).value();
  c.spec.workers = WorkersSpec{4, 3};
  const auto cerrs = validate(c);
  REQUIRE(cerrs.size() == 1);
  CHECK(cerrs[0].str() == "spec.workers.min: must be <= spec.workers.max (3)");
}

TEST_CASE("a session keeps its own name: the owner check ignores itself") {
  Json obj = baseSession();
  obj["metadata"]["name"] = "first-owner";
  obj["spec"]["sessionName"] = "taken";
  CHECK(validate(parseSession(obj).value(), context()).empty());
  // Without a context nothing outside the object is checked.
  obj["spec"]["clusterRef"]["name"] = "anything";
  CHECK(validate(parseSession(obj).value()).empty());
}

TEST_CASE("quantities parse like Kubernetes'") {
  double v = 0;
  REQUIRE(parseQuantity("100m", v));
  CHECK(v == Approx(0.1));
  REQUIRE(parseQuantity("2Gi", v));
  CHECK(v == Approx(2147483648.0));
  REQUIRE(parseQuantity("1.5", v));
  CHECK(v == Approx(1.5));
  REQUIRE(parseQuantity("1e3", v));
  CHECK(v == Approx(1000));
  REQUIRE(parseQuantity("512M", v));
  CHECK(v == Approx(512e6));
  for (const char* bad : {"", "lots", "1GB", "0x10", " 1", "1 Gi", "Gi"}) {
    INFO(bad);
    CHECK_FALSE(parseQuantity(bad, v));
  }
}
