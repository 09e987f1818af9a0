// The CRD files: they parse, their schemas are structural (as a kube-apiserver >= 1.19 demands),
// their defaults equal the C++ defaults, and every example manifest passes schema + validation.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <set>

#include "api/defaults.h"
#include "api/names.h"
#include "api/types.h"
#include "api/validation.h"
#include "support/paths.h"
#include "support/process.h"
#include "unit/api/schema_check.h"

using namespace waha;
using namespace waha::api;
using waha::test::Json;

namespace {

const Json& clusterCrd() {
  static const Json crd =
      test::loadYamlFile(test::sourceDir() + "/crds/waha.io_wahaclusters.yaml").at(0);
  return crd;
}

const Json& sessionCrd() {
  static const Json crd =
      test::loadYamlFile(test::sourceDir() + "/crds/waha.io_wahasessions.yaml").at(0);
  return crd;
}

// Every schema node reachable through properties/items/additionalProperties, with its path.
void walk(const Json& s, const std::string& path,
          const std::function<void(const std::string&, const Json&)>& f) {
  f(path, s);
  if (s.contains("properties")) {
    for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
      walk(*it, path.empty() ? it.key() : path + "." + it.key(), f);
    }
  }
  if (s.contains("items")) {
    walk(s["items"], path + "[]", f);
  }
  if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
    walk(s["additionalProperties"], path + ".*", f);
  }
}

std::vector<std::string> enumOf(const Json& crd, const std::string& jsonPath) {
  const Json* s = test::schemaAt(test::crdSchema(crd), jsonPath);
  REQUIRE(s != nullptr);
  return s->at("enum").get<std::vector<std::string>>();
}

}  // namespace

TEST_CASE("both CRDs parse and declare the resources the operator uses") {
  struct Expect {
    const Json& crd;
    const char* kind;
    const char* plural;
    const char* shortName;
  };
  for (const auto& e : {Expect{clusterCrd(), kClusterKind, kClusterPlural, "wcluster"},
                        Expect{sessionCrd(), kSessionKind, kSessionPlural, "wsession"}}) {
    INFO(e.kind);
    const Json& c = e.crd;
    CHECK(c["apiVersion"] == "apiextensions.k8s.io/v1");
    CHECK(c["kind"] == "CustomResourceDefinition");
    CHECK(c["metadata"]["name"] == std::string(e.plural) + "." + kGroup);
    CHECK(c["spec"]["group"] == kGroup);
    CHECK(c["spec"]["scope"] == "Namespaced");
    CHECK(c["spec"]["names"]["kind"] == e.kind);
    CHECK(c["spec"]["names"]["plural"] == e.plural);
    CHECK(c["spec"]["names"]["shortNames"] == Json::array({e.shortName}));
    CHECK(c["spec"]["names"]["categories"] == Json::array({"waha"}));
    REQUIRE(c["spec"]["versions"].size() == 1);
    const Json& v = c["spec"]["versions"][0];
    CHECK(v["name"] == kVersion);
    CHECK(v["served"] == true);
    CHECK(v["storage"] == true);
    CHECK(v["subresources"] == Json{{"status", Json::object()}});
  }
}

TEST_CASE("the schemas are structural: every property typed and described") {
  for (const Json* crd : {&clusterCrd(), &sessionCrd()}) {
    const Json& schema = test::crdSchema(*crd);
    INFO(crd->at("metadata").at("name"));
    const auto problems = test::structuralProblems(schema, {"spec.config"});
    INFO(Json(problems).dump(2));
    CHECK(problems.empty());
    int nodes = 0;
    int preserve = 0;
    walk(schema, "", [&](const std::string& path, const Json& s) {
      ++nodes;
      if (s.contains("x-kubernetes-preserve-unknown-fields")) {
        ++preserve;
        CHECK(path == "spec.config");
      }
    });
    CHECK(nodes > 30);  // the walk really went through the schema
    CHECK(preserve == (crd == &sessionCrd() ? 1 : 0));
  }
}

TEST_CASE("the structural check itself catches what the API server rejects") {
  Json schema = test::crdSchema(clusterCrd());
  schema["properties"]["spec"]["properties"]["engine"].erase("type");
  schema["properties"]["spec"]["properties"]["image"].erase("description");
  schema["properties"]["spec"]["properties"]["env"]["x-kubernetes-preserve-unknown-fields"] = true;
  schema["properties"]["metadata"]["description"] = "not allowed at the root";
  schema["properties"]["spec"]["properties"]["nodeSelector"]["properties"] = Json::object();
  schema["properties"]["spec"]["properties"]["workers"]["properties"]["min"]["default"] = -3;
  const auto problems = test::structuralProblems(schema, {"spec.config"});
  INFO(Json(problems).dump(2));
  for (const char* expected :
       {"metadata: root metadata may only say type: object", "spec.engine: no type",
        "spec.image: no description",
        "spec.env: x-kubernetes-preserve-unknown-fields outside the allowed fields",
        "spec.nodeSelector: both properties and additionalProperties",
        "spec.workers.min: default does not validate: spec.workers.min: must be >= 0"}) {
    CHECK(std::find(problems.begin(), problems.end(), expected) != problems.end());
  }
  // A bad nested default also breaks the `default: {}` of every parent that leads to it.
  CHECK(problems.size() == 8);
}

TEST_CASE("printer columns are the ones kubectl users were promised") {
  auto columns = [](const Json& crd) {
    std::vector<std::string> out;
    const Json& schema = test::crdSchema(crd);
    for (const auto& c : crd["spec"]["versions"][0]["additionalPrinterColumns"]) {
      out.push_back(c["name"].get<std::string>() + (c.value("priority", 0) > 0 ? "(wide)" : ""));
      const std::string path = c["jsonPath"];
      if (path != ".metadata.creationTimestamp") {
        INFO(path);
        CHECK(test::schemaAt(schema, path) != nullptr);
      }
    }
    return out;
  };
  CHECK(columns(clusterCrd()) ==
        std::vector<std::string>{"Engine", "Ready", "Sessions", "Capacity", "Age", "Max(wide)"});
  CHECK(columns(sessionCrd()) == std::vector<std::string>{"Cluster", "Worker", "Phase", "WAHA",
                                                          "Age", "Account(wide)", "Node(wide)"});
}

TEST_CASE("CRD enums, patterns and limits match the C++ API") {
  for (const auto& v : enumOf(clusterCrd(), ".spec.engine")) {
    Engine e{};
    CHECK(parseEngine(v, e));
    CHECK(toString(e) == v);
  }
  CHECK(enumOf(clusterCrd(), ".spec.engine").size() == 3);
  StorageType st{};
  PlacementStrategy ps{};
  SessionState ss{};
  DeletionPolicy dp{};
  SessionPhase ph{};
  for (const auto& v : enumOf(clusterCrd(), ".spec.sessionStorage.type")) {
    CHECK(parseStorageType(v, st));
  }
  for (const auto& v : enumOf(clusterCrd(), ".spec.placement.strategy")) {
    CHECK(parsePlacementStrategy(v, ps));
  }
  for (const auto& v : enumOf(sessionCrd(), ".spec.state")) {
    CHECK(parseSessionState(v, ss));
  }
  for (const auto& v : enumOf(sessionCrd(), ".spec.deletionPolicy")) {
    CHECK(parseDeletionPolicy(v, dp));
  }
  const auto phases = enumOf(sessionCrd(), ".status.phase");
  CHECK(phases.size() == 8);
  for (const auto& v : phases) {
    CHECK(parseSessionPhase(v, ph));
  }
  const Json* name = test::schemaAt(test::crdSchema(sessionCrd()), ".spec.sessionName");
  REQUIRE(name != nullptr);
  CHECK((*name)["pattern"] == kSessionNamePattern);
  CHECK((*name)["maxLength"] == kMaxSessionNameLength);
  const Json& cs = test::crdSchema(clusterCrd());
  CHECK_FALSE(test::schemaAt(cs, ".spec.sessionsPerWorker")->contains("default"));
  CHECK_FALSE(test::schemaAt(cs, ".spec.resources")->contains("default"));
  // status.workers is bounded by the largest possible spec.workers.max.
  CHECK(test::schemaAt(cs, ".status.workers")->at("maxItems") ==
        test::schemaAt(cs, ".spec.workers.max")->at("maximum"));
}

TEST_CASE("CRD defaults and C++ defaults agree") {
  struct Case {
    const char* kind;
    const char* json;
  };
  const Case cases[] = {
      {"cluster", R"({"metadata":{"name":"c"}})"},
      {"cluster", R"({"metadata":{"name":"c"},"spec":{}})"},
      {"cluster", R"({"metadata":{"name":"c"},"spec":{"engine":"WEBJS","workers":{"max":3},
                      "sessionStorage":{"postgresUrlSecretRef":{"name":"p","key":"u"}},
                      "placement":{},"failover":{"notReadyTimeoutSeconds":90}}})"},
      {"session", R"({"metadata":{"name":"s"},"spec":{"clusterRef":{"name":"c"}}})"},
      {"session",
       R"({"metadata":{"name":"s"},"spec":{"clusterRef":{"name":"c"},"state":"Stopped"}})"},
  };
  int defaultsInSchema = 0;
  for (const Json* crd : {&clusterCrd(), &sessionCrd()}) {
    walk(test::crdSchema(*crd), "", [&](const std::string&, const Json& s) {
      defaultsInSchema += s.contains("default") ? 1 : 0;
    });
  }
  // Cluster: spec, engine, image, workers(+min, max), sessionStorage(+type), placement(+strategy),
  // failover(+notReadyTimeoutSeconds); session: state, deletionPolicy. All reached below.
  CHECK(defaultsInSchema == 14);
  for (const auto& c : cases) {
    INFO(c.json);
    const bool cluster = std::string(c.kind) == "cluster";
    Json obj = Json::parse(c.json);
    obj["apiVersion"] = kApiVersion;
    obj["kind"] = cluster ? kClusterKind : kSessionKind;
    Json byServer = obj;
    test::applySchemaDefaults(byServer, test::crdSchema(cluster ? clusterCrd() : sessionCrd()));
    Json byCpp;
    Json byCppFull;
    if (cluster) {
      auto parsed = parseCluster(obj).value();
      auto full = parsed;
      applyDefaults(parsed, /*schemaOnly=*/true);
      applyDefaults(full);
      byCpp = parsed;
      byCppFull = full;
      // The operator-only defaults are the only difference, and they are filled in.
      REQUIRE(byCppFull["spec"].contains("sessionsPerWorker"));
      REQUIRE(byCppFull["spec"].contains("resources"));
      if (!obj.contains("spec") || !obj["spec"].contains("sessionsPerWorker")) {
        byCppFull["spec"].erase("sessionsPerWorker");
      }
      byCppFull["spec"].erase("resources");
    } else {
      auto parsed = parseSession(obj).value();
      auto full = parsed;
      applyDefaults(parsed, /*schemaOnly=*/true);
      applyDefaults(full);
      byCpp = parsed;
      byCppFull = full;
      REQUIRE(byCppFull["spec"]["sessionName"] == obj["metadata"]["name"]);
      byCppFull["spec"].erase("sessionName");
    }
    CHECK(byCpp == byServer);
    CHECK(byCppFull == byServer);
  }
}

TEST_CASE("every example manifest passes the schema and the C++ validation") {
  namespace fs = std::filesystem;
  std::vector<Json> objects;
  for (const auto& entry : fs::directory_iterator(test::sourceDir() + "/examples")) {
    if (entry.path().extension() == ".yaml") {
      for (auto& doc : test::loadYamlFile(entry.path().string())) {
        objects.push_back(std::move(doc));
      }
    }
  }
  std::set<std::string> clusters;
  std::set<std::string> secrets;
  for (const auto& o : objects) {
    if (o["kind"] == "WahaCluster") {
      clusters.insert(o["metadata"]["name"].get<std::string>());
    } else if (o["kind"] == "Secret") {
      secrets.insert(o["metadata"]["name"].get<std::string>());
    }
  }
  SessionValidationContext ctx;
  ctx.clusterExists = [&](const std::string& n) { return clusters.count(n) > 0; };
  int clusterCount = 0;
  int sessionCount = 0;
  for (Json o : objects) {
    INFO(o.dump());
    if (o["kind"] == "WahaCluster") {
      ++clusterCount;
      test::applySchemaDefaults(o, test::crdSchema(clusterCrd()));
      CHECK(test::checkSchema(o, test::crdSchema(clusterCrd())).empty());
      auto c = parseCluster(o);
      REQUIRE(c.ok());
      CHECK(formatErrors(validate(*c)) == "");
      CHECK(secrets.count(c->spec.apiKeySecretRef->name) == 1);
      if (c->spec.sessionStorage->postgresUrlSecretRef) {
        CHECK(secrets.count(c->spec.sessionStorage->postgresUrlSecretRef->name) == 1);
      }
    } else if (o["kind"] == "WahaSession") {
      ++sessionCount;
      test::applySchemaDefaults(o, test::crdSchema(sessionCrd()));
      CHECK(test::checkSchema(o, test::crdSchema(sessionCrd())).empty());
      auto s = parseSession(o);
      REQUIRE(s.ok());
      CHECK(formatErrors(validate(*s, ctx)) == "");
    }
  }
  CHECK(clusterCount == 2);
  CHECK(sessionCount >= 1);
}

TEST_CASE("gen-sessions.sh prints N valid, distinct WahaSessions") {
  const std::string script = test::sourceDir() + "/examples/gen-sessions.sh";
  auto r = test::runCommand({"sh", script, "25", "pool", "load"});
  REQUIRE(r.exitCode == 0);
  const auto docs = test::loadYamlAll(r.out);
  REQUIRE(docs.size() == 25);
  std::set<std::string> names;
  SessionValidationContext ctx;
  ctx.clusterExists = [](const std::string& n) { return n == "pool"; };
  for (Json d : docs) {
    test::applySchemaDefaults(d, test::crdSchema(sessionCrd()));
    CHECK(test::checkSchema(d, test::crdSchema(sessionCrd())).empty());
    auto s = parseSession(d);
    REQUIRE(s.ok());
    CHECK(s->metadata.namespace_ == "load");
    CHECK(validate(*s, ctx).empty());
    names.insert(effectiveSessionName(*s));
  }
  CHECK(names.size() == 25);
  auto usage = test::runCommand({"sh", script});
  CHECK(usage.exitCode == 2);
  CHECK_THAT(usage.err, Catch::Contains("usage"));
  CHECK(test::runCommand({"sh", script, "zero"}).exitCode == 2);
}
