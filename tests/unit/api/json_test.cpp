// Round trips, defaults, config pass-through, conditions and session names of the API types.

#include <catch2/catch.hpp>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/names.h"
#include "api/session_config.h"
#include "api/types.h"

using namespace waha;
using namespace waha::api;

namespace {

const char* kFullCluster = R"({
  "apiVersion": "waha.io/v1alpha1", "kind": "WahaCluster",
  "metadata": {"name": "pool", "namespace": "prod", "uid": "u-1", "resourceVersion": "42",
    "generation": 3, "labels": {"app": "waha"}, "annotations": {"note": "x"},
    "finalizers": ["a/b"], "creationTimestamp": "2026-11-28T02:00:00Z",
    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u-0",
                         "controller": true, "blockOwnerDeletion": false}]},
  "spec": {"engine": "GOWS", "image": "devlikeapro/waha:2026.6.1", "sessionsPerWorker": 150,
    "workers": {"min": 2, "max": 8}, "apiKeySecretRef": {"name": "k", "key": "api-key"},
    "sessionStorage": {"type": "PostgreSQL", "postgresUrlSecretRef": {"name": "pg", "key": "url"}},
    "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "6Gi"}},
    "env": [{"name": "TZ", "value": "UTC"}], "nodeSelector": {"pool": "waha"},
    "tolerations": [{"key": "k", "operator": "Exists"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms": [{"matchExpressions": [{"key": "z", "operator": "In", "values": ["a"]}]}]}}},
    "podAnnotations": {"a": "b"}, "placement": {"strategy": "BinPack"},
    "failover": {"notReadyTimeoutSeconds": 30}},
  "status": {"observedGeneration": 3, "replicas": 2, "readyWorkers": 1, "ready": "1/2",
    "sessions": 7, "capacity": 150,
    "workers": [{"pod": "pool-a", "ip": "10.0.0.1", "ready": true, "sessions": 7, "draining": false},
                {"pod": "pool-b", "ready": false, "sessions": 0, "draining": true}],
    "conditions": [{"type": "Ready", "status": "False", "observedGeneration": 3,
      "lastTransitionTime": "2026-11-28T02:01:00Z", "reason": "WorkersNotReady", "message": "1/2"}]}
})";

const char* kFullSession = R"({
  "apiVersion": "waha.io/v1alpha1", "kind": "WahaSession",
  "metadata": {"name": "s1", "namespace": "prod", "generation": 2,
               "finalizers": ["waha.io/session-cleanup"],
               "deletionTimestamp": "2026-11-28T03:00:00Z"},
  "spec": {"clusterRef": {"name": "pool"}, "sessionName": "sales_1", "state": "Stopped",
    "deletionPolicy": "Keep",
    "config": {"webhooks": [{"url": "https://h.example/x", "events": ["message"]}],
               "proxy": {"server": "proxy:3128"}},
    "secretRefs": {"proxyPassword": {"name": "p", "key": "pw"},
                   "webhookHmacKey": {"name": "h", "key": "k"}}},
  "status": {"observedGeneration": 2, "phase": "Migrating", "worker": "pool-a",
    "workerIP": "10.0.0.1", "node": "n1", "wahaStatus": "PASSKEY_REQUIRED",
    "me": {"id": "79111111@c.us", "pushName": "Sales"}, "epoch": 12,
    "assignedAt": "2026-11-28T02:30:00Z", "message": "moving",
    "conditions": [{"type": "Scheduled", "status": "True",
      "lastTransitionTime": "2026-11-28T02:30:00Z", "reason": "Placed", "message": ""}]}
})";

}  // namespace

TEST_CASE("full objects round-trip JSON -> types -> JSON unchanged") {
  for (const char* text : {kFullCluster, kFullSession}) {
    const Json in = Json::parse(text);
    Json out;
    if (in["kind"] == "WahaCluster") {
      auto c = parseCluster(in);
      REQUIRE(c.ok());
      out = *c;
      REQUIRE(parseCluster(out).value() == *c);
    } else {
      auto s = parseSession(in);
      REQUIRE(s.ok());
      out = *s;
      REQUIRE(parseSession(out).value() == *s);
    }
    CHECK(out == in);
  }
}

TEST_CASE("full objects carry every field into the C++ types") {
  auto c = parseCluster(Json::parse(kFullCluster)).value();
  CHECK(c.metadata.namespace_ == "prod");
  CHECK(c.metadata.generation == 3);
  CHECK(c.metadata.ownerReferences.at(0).controller == std::optional<bool>(true));
  CHECK(c.spec.engine == Engine::Gows);
  CHECK(c.spec.sessionStorage->type == StorageType::PostgreSQL);
  CHECK(c.spec.placement->strategy == PlacementStrategy::BinPack);
  CHECK(c.spec.resources->limits.at("memory") == "6Gi");
  CHECK(c.status->workers.at(1).draining);
  auto s = parseSession(Json::parse(kFullSession)).value();
  CHECK(s.spec.state == SessionState::Stopped);
  CHECK(s.spec.deletionPolicy == DeletionPolicy::Keep);
  CHECK(s.status->phase == SessionPhase::Migrating);
  CHECK(s.status->epoch == 12);
  CHECK(s.status->wahaStatus == "PASSKEY_REQUIRED");  // unknown WAHA values are kept as they are
  CHECK(s.status->me->pushName == "Sales");
}

TEST_CASE("minimal objects round-trip without gaining defaults") {
  const Json cluster = Json::parse(
      R"({"apiVersion":"waha.io/v1alpha1","kind":"WahaCluster","metadata":{"name":"c"},"spec":{}})");
  const Json session = Json::parse(R"({"apiVersion":"waha.io/v1alpha1","kind":"WahaSession",
      "metadata":{"name":"s","namespace":"d"},"spec":{"clusterRef":{"name":"c"}}})");
  CHECK(Json(parseCluster(cluster).value()) == cluster);
  CHECK(Json(parseSession(session).value()) == session);
}

TEST_CASE("unknown config fields round-trip exactly, numbers and nesting included") {
  const Json config = Json::parse(R"({
    "futureField": {"nested": [1, 2.5, "x", null, true, {"deep": {"k": -7}}]},
    "webhooks": [{"url": "https://x.example", "events": ["*"], "newOption": {"a": 1}}],
    "noweb": {"store": {"enabled": true, "fullSync": false}, "markOnline": false},
    "big": 9007199254740993, "unicode": "\u00e9\u4e2d", "empty": {}})");
  Json in = {{"apiVersion", "waha.io/v1alpha1"},
             {"kind", "WahaSession"},
             {"metadata", {{"name", "s"}}},
             {"spec", {{"clusterRef", {{"name", "c"}}}, {"config", config}}}};
  auto s = parseSession(in).value();
  CHECK(s.spec.config == config);
  const Json out = s;
  CHECK(out["spec"]["config"] == config);
  CHECK(out["spec"]["config"].dump() == config.dump());
  CHECK(out["spec"]["config"]["big"].get<std::uint64_t>() == 9007199254740993ULL);
}

TEST_CASE("parse errors name the field path") {
  struct Case {
    const char* json;
    const char* path;
  };
  const Case cases[] = {
      {R"({"spec":{"engine":"CHROME"}})", "spec.engine: unsupported value \"CHROME\""},
      {R"({"spec":{"workers":{"min":"one"}}})", "spec.workers.min: "},
      {R"({"spec":{"sessionStorage":{"type":"S3"}}})", "spec.sessionStorage.type: unsupported"},
      {R"({"spec":{"env":"A=B"}})", "spec.env: must be an array"},
      {R"({"spec":{"resources":{"requests":{"cpu":true}}}})", "spec.resources.requests.cpu"},
      {R"({"status":{"workers":[{"pod":"a"},{"pod":7}]}})", "status.workers[1].pod: "},
      {R"({"metadata":{"labels":{"a":1}}})", "metadata.labels: "},
      {R"({"spec":[]})", "spec: must be an object"},
  };
  for (const auto& c : cases) {
    auto r = parseCluster(Json::parse(c.json));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == 422);
    CHECK_THAT(r.error().message, Catch::StartsWith(c.path));
  }
  auto s = parseSession(Json::parse(R"({"spec":{"clusterRef":{"name":"c"},"config":[1]}})"));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().message, Catch::StartsWith("spec.config: must be an object"));
  auto p = parseSession(Json::parse(R"({"status":{"phase":"Dancing"}})"));
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(p.error().message, Catch::StartsWith("status.phase: unsupported value"));
  CHECK_FALSE(parseCluster(Json::array()).ok());
}

TEST_CASE("integer quantities become strings") {
  auto c = parseCluster(Json::parse(
      R"({"spec":{"resources":{"requests":{"cpu":2,"memory":"1Gi"},"limits":{"cpu":0.5}}}})"));
  REQUIRE(c.ok());
  CHECK(c->spec.resources->requests.at("cpu") == "2");
  CHECK(c->spec.resources->limits.at("cpu") == "0.5");
}

TEST_CASE("cluster defaults: schema ones, then by engine") {
  WahaCluster c;
  c.metadata.name = "c";
  applyDefaults(c);
  CHECK(c.spec.engine == Engine::Noweb);
  CHECK(c.spec.image == std::optional<std::string>("devlikeapro/waha:latest"));
  CHECK(c.spec.workers->min == 1);
  CHECK(c.spec.workers->max == 10);
  CHECK(c.spec.sessionStorage->type == StorageType::Local);
  CHECK(c.spec.placement->strategy == PlacementStrategy::LeastLoaded);
  CHECK(c.spec.failover->notReadyTimeoutSeconds == 60);
  CHECK(c.spec.sessionsPerWorker == 100);
  CHECK(c.spec.resources->requests ==
        std::map<std::string, std::string>{{"cpu", "4"}, {"memory", "8Gi"}});
  CHECK(c.spec.resources->limits == std::map<std::string, std::string>{{"memory", "12Gi"}});
  WahaCluster again = c;
  applyDefaults(again);
  CHECK(again == c);  // idempotent

  WahaCluster w;
  w.spec.engine = Engine::Webjs;
  applyDefaults(w, /*schemaOnly=*/true);
  CHECK_FALSE(w.spec.sessionsPerWorker.has_value());
  CHECK_FALSE(w.spec.resources.has_value());
  CHECK(effectiveSessionsPerWorker(w.spec) == 10);
  applyDefaults(w);
  CHECK(w.spec.sessionsPerWorker == 10);
  CHECK(w.spec.resources->requests.at("cpu") == "3");
  CHECK(w.spec.resources->requests.at("memory") == "2560Mi");

  WahaCluster keep;
  keep.spec.engine = Engine::Gows;
  keep.spec.sessionsPerWorker = 7;
  keep.spec.resources = ResourceRequirements{{{"cpu", "1"}}, {}};
  applyDefaults(keep);
  CHECK(keep.spec.sessionsPerWorker == 7);  // set values are never replaced
  CHECK(keep.spec.resources->requests == std::map<std::string, std::string>{{"cpu", "1"}});
}

TEST_CASE("default resources follow the sizing table") {
  struct Case {
    Engine engine;
    int sessions;
    const char* cpu;
    const char* memory;
    const char* memoryLimit;
  };
  const Case cases[] = {
      {Engine::Webjs, 1, "300m", "448Mi", "704Mi"},    // 400Mi rounded up to 64Mi
      {Engine::Webjs, 10, "3", "2560Mi", "3840Mi"},    // a table row exactly
      {Engine::Webjs, 30, "9", "11520Mi", "17280Mi"},  // halfway 10..50
      {Engine::Webjs, 100, "30", "40Gi", "60Gi"},      // past the last row: proportional
      {Engine::Noweb, 1, "100m", "256Mi", "384Mi"},
      {Engine::Noweb, 100, "4", "8Gi", "12Gi"},
      {Engine::Noweb, 75, "3", "6Gi", "9Gi"},
      {Engine::Noweb, 11, "1100m", "2112Mi", "3200Mi"},  // 1025 -> 1100m; 2099.2 -> 2112Mi
      {Engine::Gows, 100, "5", "5Gi", "7680Mi"},
      {Engine::Gows, 300, "6500m", "15Gi", "23040Mi"},
      {Engine::Gows, 0, "100m", "256Mi", "384Mi"},  // nonsense input stays on the first row
  };
  for (const auto& c : cases) {
    INFO(toString(c.engine) << " x" << c.sessions);
    auto r = defaultResources(c.engine, c.sessions);
    CHECK(r.requests.at("cpu") == c.cpu);
    CHECK(r.requests.at("memory") == c.memory);
    CHECK(r.limits.at("memory") == c.memoryLimit);
    CHECK(r.limits.count("cpu") == 0);
  }
  // More sessions never get fewer resources.
  for (Engine e : {Engine::Webjs, Engine::Noweb, Engine::Gows}) {
    auto prev = defaultResources(e, 1);
    for (int n = 2; n <= 600; ++n) {
      auto cur = defaultResources(e, n);
      auto milli = [](const std::string& q) {
        return q.back() == 'm' ? std::stod(q) : std::stod(q) * 1000;
      };
      auto mebi = [](const std::string& q) {
        return q.substr(q.size() - 2) == "Gi" ? std::stod(q) * 1024 : std::stod(q);
      };
      REQUIRE(milli(cur.requests["cpu"]) >= milli(prev.requests["cpu"]));
      REQUIRE(mebi(cur.requests["memory"]) >= mebi(prev.requests["memory"]));
      prev = cur;
    }
  }
}

TEST_CASE("session defaults and effective values") {
  WahaSession s;
  s.metadata.name = "acme-1";
  s.spec.clusterRef.name = "c";
  CHECK(effectiveSessionName(s) == "acme-1");
  CHECK(effectiveState(s.spec) == SessionState::Running);
  applyDefaults(s, /*schemaOnly=*/true);
  CHECK(s.spec.state == SessionState::Running);
  CHECK(s.spec.deletionPolicy == DeletionPolicy::Logout);
  CHECK_FALSE(s.spec.sessionName.has_value());
  applyDefaults(s);
  CHECK(s.spec.sessionName == std::optional<std::string>("acme-1"));
  s.spec.sessionName = "other";
  applyDefaults(s);
  CHECK(effectiveSessionName(s) == "other");
}

TEST_CASE("enum strings are the CRD's") {
  Engine e{};
  REQUIRE(parseEngine("WEBJS", e));
  CHECK(e == Engine::Webjs);
  CHECK_FALSE(parseEngine("webjs", e));
  CHECK(toString(SessionPhase::Terminating) == "Terminating");
  SessionPhase p{};
  for (auto v : {SessionPhase::Pending, SessionPhase::Scheduled, SessionPhase::Starting,
                 SessionPhase::Running, SessionPhase::Stopped, SessionPhase::Migrating,
                 SessionPhase::Failed, SessionPhase::Terminating}) {
    REQUIRE(parseSessionPhase(toString(v), p));
    CHECK(p == v);
  }
  CHECK(std::string(kGroup) + "/" + kVersion == kApiVersion);
}

TEST_CASE("setCondition moves lastTransitionTime only when status changes") {
  ManualClock clock;
  std::vector<Condition> cs;
  const auto t0 = clock.wallNow();
  REQUIRE(setCondition(cs, "Ready", kConditionFalse, "Starting", "waiting", 1, t0));
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].lastTransitionTime == formatRfc3339(t0));
  clock.advance(std::chrono::minutes(5));
  CHECK_FALSE(
      setCondition(cs, "Ready", kConditionFalse, "Starting", "waiting", 1, clock.wallNow()));
  CHECK(setCondition(cs, "Ready", kConditionFalse, "Stuck", "still waiting", 2, clock.wallNow()));
  CHECK(cs[0].lastTransitionTime == formatRfc3339(t0));
  CHECK(cs[0].observedGeneration == 2);
  CHECK(setCondition(cs, "Ready", kConditionTrue, "Working", "", 2, clock.wallNow()));
  CHECK(cs[0].lastTransitionTime == formatRfc3339(clock.wallNow()));
  CHECK(isConditionTrue(cs, "Ready"));
  CHECK(setCondition(cs, "Scheduled", kConditionTrue, "Placed", "", 2, clock.wallNow()));
  CHECK(cs.size() == 2);
  CHECK(findCondition(cs, "Scheduled")->reason == "Placed");
  CHECK(findCondition(cs, "Nope") == nullptr);
  CHECK(removeCondition(cs, "Scheduled"));
  CHECK_FALSE(removeCondition(cs, "Scheduled"));
  CHECK(cs.size() == 1);
}

TEST_CASE("session names: pattern, length, reserved routes") {
  CHECK(sessionNameProblem("default").empty());
  CHECK(sessionNameProblem("acme_sales-01").empty());
  CHECK(sessionNameProblem(std::string(54, 'a')).empty());
  CHECK(sessionNameProblem("sender").empty());  // only "send" + Capital looks like a route
  CHECK_FALSE(sessionNameProblem(std::string(55, 'a')).empty());
  CHECK_FALSE(sessionNameProblem("").empty());
  CHECK_FALSE(sessionNameProblem("a.b").empty());
  CHECK_FALSE(sessionNameProblem("a b").empty());
  CHECK_FALSE(sessionNameProblem("ünï").empty());
  for (const auto& r : reservedSessionNames()) {
    INFO(r);
    CHECK(isReservedSessionName(r));
  }
  CHECK(isReservedSessionName("SESSIONS"));
  CHECK(isReservedSessionName("sendtext"));
  CHECK(isReservedSessionName("sendSticker"));
  CHECK_FALSE(isReservedSessionName("sessions2"));
  CHECK_FALSE(isReservedSessionName("default"));
  CHECK(matchesSessionNamePattern("A-z_9"));
}

TEST_CASE("the config sent to WAHA gets the secret values, everything else untouched") {
  WahaSessionSpec spec;
  spec.config = Json::parse(R"({"proxy":{"server":"p:3128","username":"u"},
      "webhooks":[{"url":"https://a.example","hmac":{"algo":"sha512"}},{"url":"https://b.example"}],
      "future":{"x":[1,2]}})");
  const Json out = wahaSessionConfig(spec, SessionSecretValues{"pw", "hk"});
  CHECK(out["proxy"] == Json::parse(R"({"server":"p:3128","username":"u","password":"pw"})"));
  CHECK(out["webhooks"][0]["hmac"] == Json::parse(R"({"algo":"sha512","key":"hk"})"));
  CHECK(out["webhooks"][1]["hmac"] == Json::parse(R"({"key":"hk"})"));
  CHECK(out["future"] == spec.config["future"]);
  CHECK(spec.config["proxy"].count("password") == 0);  // the spec itself never holds the secret
  CHECK(wahaSessionConfig(spec) == spec.config);
  CHECK(wahaSessionConfig(WahaSessionSpec{}) == Json::object());
  CHECK_FALSE(
      configChanged(Json::parse(R"({"a":1,"b":[true]})"), Json::parse(R"({"b":[true],"a":1.0})")));
  CHECK(configChanged(Json::parse(R"({"a":1})"), Json::parse(R"({"a":2})")));
}
