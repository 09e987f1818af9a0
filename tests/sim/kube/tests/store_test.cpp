// In-process tests of kube-sim's storage: the apiserver semantics the operator relies on.

#include <catch2/catch.hpp>

#include "errors.h"
#include "memory_store.h"
#include "patch.h"

using namespace waha::sim;

namespace {

const GVR kCm{"", "v1", "configmaps"};
const GVR kPods{"", "v1", "pods"};
const GVR kDeploy{"apps", "v1", "deployments"};
const GVR kRs{"apps", "v1", "replicasets"};
const GVR kCrd{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const GVR kSessions{"waha.io", "v1alpha1", "wahasessions"};

Json crd() {
  return Json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "wahasessions.waha.io"},
    "spec": {"group": "waha.io", "scope": "Namespaced",
      "names": {"plural": "wahasessions", "singular": "wahasession", "kind": "WahaSession",
                "shortNames": ["ws"], "categories": ["waha"]},
      "versions": [{"name": "v1alpha1", "served": true, "storage": true,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
          "spec": {"type": "object", "required": ["clusterRef"], "properties": {
            "clusterRef": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 10}}},
            "state": {"type": "string", "enum": ["Running", "Stopped"], "default": "Running"},
            "priority": {"type": "integer", "minimum": 0, "maximum": 10},
            "phone": {"type": "string", "pattern": "^[0-9]+$"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
          "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}}}]}})");
}

Json cm(const std::string& name, Json labels = Json::object()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}, {"data", {{"k", "v"}}}};
}

Json session(const std::string& name, Json spec) {
  return {{"apiVersion", "waha.io/v1alpha1"},
          {"kind", "WahaSession"},
          {"metadata", {{"name", name}}},
          {"spec", spec}};
}

struct Fixture {
  ResourceRegistry registry;
  MemoryStore store{registry, MemoryStore::Options{50, nullptr}};
  Fixture() { REQUIRE(store.create(kCrd, "", crd()).ok()); }
};

}  // namespace

TEST_CASE("create sets server fields and rejects duplicates and missing objects", "[store]") {
  Fixture f;
  auto a = f.store.create(kCm, "default", cm("a"));
  REQUIRE(a.ok());
  CHECK((*a)["metadata"]["uid"].get<std::string>().size() == 36);
  CHECK((*a)["metadata"]["generation"] == 1);
  CHECK((*a)["metadata"]["namespace"] == "default");
  CHECK((*a)["kind"] == "ConfigMap");
  auto b = f.store.create(kCm, "default", cm("b"));
  CHECK(std::stoull((*b)["metadata"]["resourceVersion"].get<std::string>()) >
        std::stoull((*a)["metadata"]["resourceVersion"].get<std::string>()));
  auto dup = f.store.create(kCm, "default", cm("a"));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == 409);
  CHECK(dup.error().reason == "AlreadyExists");
  CHECK(dup.error().message == "configmaps \"a\" already exists");
  auto gen = f.store.create(kCm, "default", {{"metadata", {{"generateName", "x-"}}}});
  REQUIRE(gen.ok());
  CHECK((*gen)["metadata"]["name"].get<std::string>().rfind("x-", 0) == 0);
  CHECK((*gen)["metadata"]["name"].get<std::string>().size() == 7);
  auto missing = f.store.get(kCm, "default", "nope");
  CHECK(missing.error().code == 404);
  CHECK(missing.error().message == "configmaps \"nope\" not found");
  CHECK(f.store.create(kCm, "no-such-ns", cm("a")).error().code == 404);
}

TEST_CASE("stale update conflicts; generation counts spec changes only", "[store]") {
  Fixture f;
  auto s = f.store.create(kSessions, "default", session("s1", {{"clusterRef", {{"name", "c"}}}}));
  REQUIRE(s.ok());
  Json stale = *s;
  Json next = *s;
  next["spec"]["priority"] = 3;
  auto u = f.store.update(kSessions, "default", next);
  REQUIRE(u.ok());
  CHECK((*u)["metadata"]["generation"] == 2);
  stale["spec"]["priority"] = 4;
  auto c = f.store.update(kSessions, "default", stale);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == 409);
  CHECK(c.error().reason == "Conflict");
  Json labels = *u;
  labels["metadata"]["labels"] = {{"x", "y"}};
  auto l = f.store.update(kSessions, "default", labels);
  CHECK((*l)["metadata"]["generation"] == 2);
  // status subresource split: main writes ignore status, /status writes take only status.
  Json st = *l;
  st["status"] = {{"phase", "Ready"}};
  st["spec"]["priority"] = 9;
  auto afterStatus = f.store.update(kSessions, "default", st, "status");
  REQUIRE(afterStatus.ok());
  CHECK((*afterStatus)["status"]["phase"] == "Ready");
  CHECK((*afterStatus)["spec"]["priority"] == 3);
  CHECK((*afterStatus)["metadata"]["generation"] == 2);
  Json main = *afterStatus;
  main["status"]["phase"] = "Ignored";
  auto afterMain = f.store.update(kSessions, "default", main);
  CHECK((*afterMain)["status"]["phase"] == "Ready");
  // A no-op write keeps the resourceVersion.
  auto noop = f.store.update(kSessions, "default", *afterMain);
  CHECK((*noop)["metadata"]["resourceVersion"] == (*afterMain)["metadata"]["resourceVersion"]);
}

TEST_CASE("custom resources are pruned, defaulted and validated against the CRD schema",
          "[store][schema]") {
  Fixture f;
  auto ok = f.store.create(kSessions, "default",
                           session("s1", {{"clusterRef", {{"name", "c"}}},
                                          {"unknown", 1},
                                          {"config", {{"anything", {{"goes", true}}}}}}));
  REQUIRE(ok.ok());
  CHECK((*ok)["spec"]["state"] == "Running");
  CHECK_FALSE((*ok)["spec"].contains("unknown"));
  CHECK((*ok)["spec"]["config"]["anything"]["goes"] == true);

  auto bad = f.store.create(kSessions, "default",
                            session("s2", {{"clusterRef", {{"name", "c"}}}, {"state", "Foo"}}));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == 422);
  CHECK(bad.error().message ==
        "WahaSession.waha.io \"s2\" is invalid: spec.state: Unsupported value: \"Foo\": supported "
        "values: "
        "\"Running\", \"Stopped\"");
  Json details = takeErrorDetails();
  CHECK(details["causes"][0]["field"] == "spec.state");
  CHECK(details["causes"][0]["reason"] == "FieldValueNotSupported");

  auto many =
      f.store.create(kSessions, "default",
                     session("s3", {{"priority", 11}, {"phone", "12a"}, {"tags", {"abcd"}}}));
  REQUIRE_FALSE(many.ok());
  details = takeErrorDetails();
  std::vector<std::string> fields;
  for (const auto& c : details["causes"]) {
    fields.push_back(c["field"]);
  }
  CHECK(fields ==
        std::vector<std::string>{"spec.clusterRef", "spec.phone", "spec.priority", "spec.tags[0]"});
  CHECK(many.error().message.find("spec.priority: Invalid value: 11: spec.priority in body should "
                                  "be less than or equal to 10") != std::string::npos);

  auto wrongType =
      f.store.create(kSessions, "default", session("s4", {{"clusterRef", {{"name", 5}}}}));
  REQUIRE_FALSE(wrongType.ok());
  CHECK(wrongType.error().message.find("spec.clusterRef.name: Invalid value: \"integer\": "
                                       "spec.clusterRef.name in body must be of type string") !=
        std::string::npos);
}

TEST_CASE("patch flavours", "[patch]") {
  Json live = {
      {"metadata", {{"name", "d"}, {"labels", {{"a", "1"}, {"b", "2"}}}}},
      {"spec",
       {{"template",
         {{"spec",
           {{"containers",
             {{{"name", "app"},
               {"image", "v1"},
               {"env", {{{"name", "A"}, {"value", "1"}}, {{"name", "B"}, {"value", "2"}}}}},
              {{"name", "side"}, {"image", "s1"}}}}}}}}}}};
  SECTION("merge patch deletes with null") {
    Json out = mergePatch(live, {{"metadata", {{"labels", {{"a", nullptr}, {"c", "3"}}}}}});
    CHECK(out["metadata"]["labels"] == Json{{"b", "2"}, {"c", "3"}});
  }
  SECTION("json patch with test") {
    auto out =
        jsonPatch(live, Json::parse(R"([{"op":"test","path":"/metadata/labels/a","value":"1"},
                                               {"op":"replace","path":"/metadata/labels/a","value":"9"},
                                               {"op":"add","path":"/metadata/labels/z","value":"0"},
                                               {"op":"remove","path":"/metadata/labels/b"}])"));
    REQUIRE(out.ok());
    CHECK((*out)["metadata"]["labels"] == Json{{"a", "9"}, {"z", "0"}});
    auto failed =
        jsonPatch(live, Json::parse(R"([{"op":"test","path":"/metadata/labels/a","value":"2"}])"));
    CHECK(failed.error().code == 422);
  }
  SECTION("strategic merge merges containers and env by name") {
    Json patch = Json::parse(R"({"spec":{"template":{"spec":{
        "$setElementOrder/containers":[{"name":"app"},{"name":"side"}],
        "containers":[{"name":"app","image":"v2","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}]},
                      {"name":"side","$patch":"delete"}]}}}})");
    Json out = strategicMerge(live, patch);
    const Json& cs = out["spec"]["template"]["spec"]["containers"];
    REQUIRE(cs.size() == 1);
    CHECK(cs[0]["image"] == "v2");
    CHECK(cs[0]["env"].size() == 3);
    CHECK(cs[0]["env"][1]["value"] == "3");
    CHECK_FALSE(out["spec"]["template"]["spec"].contains("$setElementOrder/containers"));
  }
  SECTION("server-side apply merges and records the manager") {
    Json out = serverSideApply(live, {{"metadata", {{"labels", {{"c", "3"}}}}}}, true, "op");
    CHECK(out["metadata"]["labels"].size() == 3);
    CHECK(out["metadata"]["managedFields"][0]["manager"] == "op");
  }
}

TEST_CASE("finalizers hold deletion until removed", "[store][delete]") {
  Fixture f;
  Json obj = cm("held");
  obj["metadata"]["finalizers"] = {"waha.io/cleanup"};
  REQUIRE(f.store.create(kCm, "default", obj).ok());
  auto del = f.store.removeObject(kCm, "default", "held", "");
  REQUIRE(del.ok());
  CHECK((*del)["metadata"].contains("deletionTimestamp"));
  auto still = f.store.get(kCm, "default", "held");
  REQUIRE(still.ok());
  Json cleared = *still;
  cleared["metadata"]["finalizers"] = Json::array();
  REQUIRE(f.store.update(kCm, "default", cleared).ok());
  CHECK(f.store.get(kCm, "default", "held").error().code == 404);
}

TEST_CASE("owner references: background, orphan and foreground deletion", "[store][gc]") {
  Fixture f;
  auto makeOwned = [&](const std::string& owner) {
    auto o = f.store.create(kCm, "default", cm(owner));
    Json dep = cm(owner + "-dep");
    dep["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                           {"kind", "ConfigMap"},
                                           {"name", owner},
                                           {"uid", (*o)["metadata"]["uid"]},
                                           {"blockOwnerDeletion", true}}};
    REQUIRE(f.store.create(kCm, "default", dep).ok());
  };
  makeOwned("bg");
  REQUIRE(f.store.remove(kCm, "default", "bg").ok());
  CHECK(f.store.get(kCm, "default", "bg-dep").error().code == 404);

  makeOwned("orph");
  REQUIRE(f.store.remove(kCm, "default", "orph", "Orphan").ok());
  auto orphan = f.store.get(kCm, "default", "orph-dep");
  REQUIRE(orphan.ok());
  CHECK((*orphan)["metadata"]["ownerReferences"].empty());

  makeOwned("fg");
  Json depWithFinalizer = *f.store.get(kCm, "default", "fg-dep");
  depWithFinalizer["metadata"]["finalizers"] = {"x/y"};
  REQUIRE(f.store.update(kCm, "default", depWithFinalizer).ok());
  REQUIRE(f.store.remove(kCm, "default", "fg", "Foreground").ok());
  auto owner = f.store.get(kCm, "default", "fg");
  REQUIRE(owner.ok());  // waits for its dependent
  CHECK((*owner)["metadata"]["finalizers"][0] == "foregroundDeletion");
  Json dep = *f.store.get(kCm, "default", "fg-dep");
  dep["metadata"]["finalizers"] = Json::array();
  REQUIRE(f.store.update(kCm, "default", dep).ok());
  CHECK(f.store.get(kCm, "default", "fg").error().code == 404);

  // A dependent created after its only owner went (a controller racing its owner's delete) is
  // collected as Kubernetes' garbage collector does; one with a live owner left stays.
  auto gone = f.store.create(kCm, "default", cm("gone"));
  REQUIRE(gone.ok());
  std::string goneUid = (*gone)["metadata"]["uid"];
  REQUIRE(f.store.remove(kCm, "default", "gone").ok());
  auto live = f.store.create(kCm, "default", cm("live"));
  REQUIRE(live.ok());
  auto ref = [](const std::string& name, const Json& uid) {
    return Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", name}, {"uid", uid}};
  };
  Json late = cm("late");
  late["metadata"]["ownerReferences"] = {ref("gone", goneUid)};
  REQUIRE(f.store.create(kCm, "default", late).ok());  // accepted, then collected
  CHECK(f.store.get(kCm, "default", "late").error().code == 404);
  Json mixed = cm("mixed");
  mixed["metadata"]["ownerReferences"] = {ref("gone", goneUid),
                                          ref("live", (*live)["metadata"]["uid"])};
  REQUIRE(f.store.create(kCm, "default", mixed).ok());
  CHECK(f.store.get(kCm, "default", "mixed").ok());
}

TEST_CASE("label and field selectors, limit and continue", "[store][list]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(f.store
                .create(kCm, "default",
                        cm("c" + std::to_string(i),
                           {{"tier", i % 2 ? "odd" : "even"}, {"i", std::to_string(i)}}))
                .ok());
  }
  REQUIRE(f.store.create(kCm, "default", cm("plain")).ok());
  auto count = [&](const std::string& sel) { return f.store.list(kCm, "default", sel)->size(); };
  CHECK(count("tier=even") == 3);
  CHECK(count("tier==odd") == 2);
  CHECK(count("tier!=odd") == 4);
  CHECK(count("i in (1,2,9)") == 2);
  CHECK(count("i notin (1,2)") == 4);
  CHECK(count("tier") == 5);
  CHECK(count("!tier") == 1);
  CHECK(count("tier=even,i in (0,4)") == 2);
  CHECK(f.store.list(kCm, "default", "a in (").error().code == 400);
  ListOptions byName;
  byName.fieldSelector = "metadata.name=c3";
  CHECK(f.store.listPage(kCm, "", byName)->items.size() == 1);
  byName.fieldSelector = "metadata.namespace!=default";
  CHECK(f.store.listPage(kCm, "", byName)->items.empty());

  ListOptions page;
  page.limit = 4;
  auto first = f.store.listPage(kCm, "default", page);
  REQUIRE(first->items.size() == 4);
  CHECK(first->remaining == 2);
  page.continueToken = first->continueToken;
  auto second = f.store.listPage(kCm, "default", page);
  REQUIRE(second->items.size() == 2);
  CHECK(second->continueToken.empty());
  CHECK(second->items[1]["metadata"]["name"] == "plain");
}

TEST_CASE("watch resumes strictly after a resourceVersion and expires outside the window",
          "[store][watch]") {
  Fixture f;
  auto a = f.store.create(kCm, "default", cm("a", {{"w", "yes"}}));
  std::string rvA = (*a)["metadata"]["resourceVersion"];
  REQUIRE(f.store.create(kCm, "default", cm("b")).ok());
  std::vector<std::string> seen;
  WatchOptions o;
  o.resourceVersion = rvA;
  auto id = f.store.watch(kCm, "default", o,
                          [&](const std::string& type, const Json& obj, const std::string&) {
                            if (type != "BOOKMARK") {
                              seen.push_back(type + ":" + obj["metadata"].value("name", ""));
                            }
                            return true;
                          });
  REQUIRE(id.ok());
  CHECK(seen == std::vector<std::string>{"ADDED:b"});
  REQUIRE(f.store.remove(kCm, "default", "a").ok());
  CHECK(seen.back() == "DELETED:a");
  f.store.unwatch(*id);

  // Label-filtered initial state (resourceVersion "0"): only matching objects, as ADDED.
  std::vector<std::string> filtered;
  WatchOptions sel;
  sel.labelSelector = "w=yes";
  REQUIRE(f.store.create(kCm, "default", cm("c", {{"w", "yes"}})).ok());
  auto id2 = f.store.watch(kCm, "default", sel,
                           [&](const std::string& type, const Json& obj, const std::string&) {
                             filtered.push_back(type + ":" + obj["metadata"].value("name", ""));
                             return true;
                           });
  CHECK(filtered == std::vector<std::string>{"ADDED:c"});
  Json c = *f.store.get(kCm, "default", "c");
  c["metadata"]["labels"]["w"] = "no";
  REQUIRE(f.store.update(kCm, "default", c).ok());
  CHECK(filtered.back() == "DELETED:c");  // leaving the selection reads as a deletion
  f.store.unwatch(*id2);

  for (int i = 0; i < 60; ++i) {
    REQUIRE(f.store.create(kCm, "default", cm("n" + std::to_string(i))).ok());
  }
  auto old = f.store.watch(
      kCm, "default", o, [](const std::string&, const Json&, const std::string&) { return true; });
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().code == 410);
  CHECK(old.error().reason == "Expired");
  f.store.forceExpired(1);
  WatchOptions recent;
  recent.resourceVersion = std::to_string(f.store.resourceVersion());
  CHECK(f.store
            .watch(kCm, "default", recent,
                   [](const std::string&, const Json&, const std::string&) { return true; })
            .error()
            .code == 410);
  CHECK(f.store
            .watch(kCm, "default", recent,
                   [](const std::string&, const Json&, const std::string&) { return true; })
            .ok());
}

TEST_CASE("subscribers see every write in order, and may write from the callback",
          "[store][subscribe]") {
  Fixture f;
  std::vector<uint64_t> rvs;
  f.store.subscribe(kCm, [&](const StoreEvent& e) {
    rvs.push_back(std::stoull(e.object["metadata"]["resourceVersion"].get<std::string>()));
    if (e.type == "ADDED" && e.object["metadata"]["name"] == "trigger") {
      REQUIRE(f.store.create(kCm, "default", cm("reaction")).ok());
    }
  });
  REQUIRE(f.store.create(kCm, "default", cm("trigger")).ok());
  REQUIRE(f.store.create(kCm, "default", cm("after")).ok());
  REQUIRE(rvs.size() == 3);
  CHECK(std::is_sorted(rvs.begin(), rvs.end()));
}

TEST_CASE("deleting a CRD removes its objects and its resource", "[store][crd]") {
  Fixture f;
  REQUIRE(
      f.store.create(kSessions, "default", session("s", {{"clusterRef", {{"name", "c"}}}})).ok());
  auto crdObj = f.store.get(kCrd, "", "wahasessions.waha.io");
  REQUIRE(crdObj.ok());
  CHECK((*crdObj)["status"]["conditions"][1]["type"] == "Established");
  REQUIRE(f.store.remove(kCrd, "", "wahasessions.waha.io").ok());
  CHECK(f.store.get(kSessions, "default", "s").error().code == 404);
  CHECK_FALSE(f.registry.find(kSessions).has_value());
}

TEST_CASE("deleting a namespace deletes what it contains", "[store][namespace]") {
  Fixture f;
  const GVR ns{"", "v1", "namespaces"};
  REQUIRE(f.store.create(ns, "", {{"metadata", {{"name", "team"}}}}).ok());
  REQUIRE(f.store.create(kCm, "team", cm("a")).ok());
  REQUIRE(f.store.create(kCm, "default", cm("a")).ok());
  REQUIRE(f.store.remove(ns, "", "team").ok());
  CHECK(f.store.get(kCm, "team", "a").error().code == 404);
  CHECK(f.store.get(kCm, "default", "a").ok());
  CHECK(f.store.create(kCm, "team", cm("b")).error().code == 404);
}

TEST_CASE("leases, events and RBAC kinds are stored with the usual rules", "[store][builtins]") {
  Fixture f;
  const GVR leases{"coordination.k8s.io", "v1", "leases"};
  const GVR events{"events.k8s.io", "v1", "events"};
  const GVR clusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
  auto lease = f.store.create(leases, "kube-system",
                              {{"metadata", {{"name", "waha-operator"}}},
                               {"spec", {{"holderIdentity", "a"}, {"leaseDurationSeconds", 15}}}});
  REQUIRE(lease.ok());
  // Leader election: two candidates update from the same resourceVersion; only one wins.
  Json mine = *lease;
  Json theirs = *lease;
  mine["spec"]["holderIdentity"] = "b";
  theirs["spec"]["holderIdentity"] = "c";
  CHECK(f.store.update(leases, "kube-system", mine).ok());
  CHECK(f.store.update(leases, "kube-system", theirs).error().code == 409);
  CHECK((*f.store.get(leases, "kube-system", "waha-operator"))["spec"]["holderIdentity"] == "b");

  auto ev = f.store.create(events, "default",
                           {{"metadata", {{"generateName", "s1."}}},
                            {"reason", "Started"},
                            {"regarding", {{"kind", "WahaSession"}, {"name", "s1"}}}});
  REQUIRE(ev.ok());
  CHECK((*ev)["apiVersion"] == "events.k8s.io/v1");
  ListOptions byRegarding;
  byRegarding.fieldSelector = "regarding.name=s1";
  CHECK(f.store.listPage(events, "default", byRegarding)->items.size() == 1);

  auto role = f.store.create(clusterRoles, "",
                             {{"metadata", {{"name", "waha-operator"}}}, {"rules", Json::array()}});
  REQUIRE(role.ok());
  CHECK_FALSE((*role)["metadata"].contains("namespace"));  // cluster-scoped
}
