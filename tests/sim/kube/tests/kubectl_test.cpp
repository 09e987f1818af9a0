// kube-sim refereed by the real kubectl: what works against a real cluster must work here.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <sstream>
#include <thread>

#include "kubesim_fixture.h"

using namespace waha::test;
using Json = nlohmann::json;

namespace {

const char* kSession = R"(apiVersion: waha.io/v1alpha1
kind: WahaSession
metadata:
  name: s1
spec:
  clusterRef:
    name: waha
)";

std::string crds() { return sourceDir() + "/crds"; }

void applyCrds(const KubeSim& sim) {
  // --validate=false: kube-sim serves no OpenAPI document (see docs/kube-sim.md).
  auto r = sim.kubectl({"apply", "--validate=false", "-f", crds()});
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  auto w = sim.kubectl({"wait", "--for=condition=Established", "--timeout=10s",
                        "crd/wahasessions.waha.io", "crd/wahaclusters.waha.io"});
  INFO(w.out << w.err);
  REQUIRE(w.exitCode == 0);
}

std::vector<std::string> headerWords(const std::string& out) {
  std::vector<std::string> words;
  std::istringstream first(out.substr(0, out.find('\n')));
  std::string w;
  while (first >> w) {
    words.push_back(w);
  }
  return words;
}

}  // namespace

TEST_CASE("kubectl: CRDs and examples apply, discovery lists them, tables show printer columns",
          "[kubectl]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  applyCrds(sim);
  auto res = sim.kubectl({"api-resources", "--api-group=waha.io", "-o", "wide"});
  INFO(res.err);
  CHECK(res.out.find("wahasessions") != std::string::npos);
  CHECK(res.out.find("wsession") != std::string::npos);  // shortName from the CRD

  if (std::filesystem::exists(sourceDir() + "/examples")) {
    auto ex = sim.kubectl({"apply", "--validate=false", "-f", sourceDir() + "/examples"});
    INFO(ex.out << ex.err);
    CHECK(ex.exitCode == 0);
  }
  REQUIRE(sim.kubectl({"apply", "--validate=false", "-f", "-"}, kSession).exitCode == 0);

  // Expected headers come from the CRD as served, so the test follows the CRD's evolution.
  auto crd = Json::parse(sim.kubectl({"get", "crd", "wahasessions.waha.io", "-o", "json"}).out);
  std::vector<std::string> narrow = {"NAME"};
  std::vector<std::string> wide = {"NAME"};
  for (const auto& c : crd["spec"]["versions"][0]["additionalPrinterColumns"]) {
    std::string name = c["name"];
    std::transform(name.begin(), name.end(), name.begin(), ::toupper);
    if (c.value("priority", 0) == 0) {
      narrow.push_back(name);
    }
    wide.push_back(name);
  }
  std::stable_partition(wide.begin(), wide.end(), [&](const std::string& n) {
    return std::find(narrow.begin(), narrow.end(), n) != narrow.end();
  });
  auto get = sim.kubectl({"get", "wahasessions"});
  INFO(get.out << get.err);
  CHECK(headerWords(get.out) == narrow);
  CHECK(get.out.find("s1 ") != std::string::npos);
  CHECK(get.out.find("waha") != std::string::npos);  // the CLUSTER cell (.spec.clusterRef.name)
  auto getWide = sim.kubectl({"get", "wahasessions", "-o", "wide"});
  CHECK(headerWords(getWide.out) == wide);
  CHECK(wide.size() > narrow.size());
}

TEST_CASE("kubectl: invalid WahaSession is refused with the field path", "[kubectl]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  applyCrds(sim);
  std::string bad = std::string(kSession) + "  state: Sleeping\n";
  auto r = sim.kubectl({"apply", "--validate=false", "-f", "-"}, bad);
  CHECK(r.exitCode != 0);
  CHECK(r.err.find("spec.state: Unsupported value: \"Sleeping\"") != std::string::npos);
  auto missing = sim.kubectl(
      {"create", "--validate=false", "-f", "-"},
      "apiVersion: waha.io/v1alpha1\nkind: WahaSession\nmetadata:\n  name: x\nspec: {}\n");
  CHECK(missing.exitCode != 0);
  CHECK(missing.err.find("spec.clusterRef: Required value") != std::string::npos);
}

TEST_CASE("kubectl: get -w streams changes; patch merge and json", "[kubectl]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  applyCrds(sim);
  REQUIRE(sim.kubectl({"apply", "--validate=false", "-f", "-"}, kSession).exitCode == 0);
  Process watch(sim.kubectlArgv({"get", "wahasessions", "-w", "-o",
                                 "custom-columns=NAME:.metadata.name,STATE:.spec.state"}),
                {}, sim.dir() + "/watch.log");
  REQUIRE(waitFor([&] { return watch.log().find("s1") != std::string::npos; },
                  std::chrono::seconds(20)));
  auto merge = sim.kubectl(
      {"patch", "wahasession", "s1", "--type=merge", "-p", R"({"spec":{"state":"Stopped"}})"});
  INFO(merge.err);
  CHECK(merge.exitCode == 0);
  CHECK(waitFor([&] { return watch.log().find("Stopped") != std::string::npos; },
                std::chrono::seconds(20)));
  auto json = sim.kubectl(
      {"patch", "wahasession", "s1", "--type=json", "-p",
       R"([{"op":"test","path":"/spec/state","value":"Stopped"},{"op":"replace","path":"/spec/state","value":"Running"}])"});
  INFO(json.err);
  CHECK(json.exitCode == 0);
  CHECK(sim.kubectl({"get", "wahasession", "s1", "-o", "jsonpath={.spec.state}"}).out == "Running");
  CHECK(waitFor(
      [&] {
        std::string l = watch.log();
        return l.find("Running", l.find("Stopped")) != std::string::npos;
      },
      std::chrono::seconds(20)));
  auto failedTest = sim.kubectl({"patch", "wahasession", "s1", "--type=json", "-p",
                                 R"([{"op":"test","path":"/spec/state","value":"Stopped"}])"});
  CHECK(failedTest.exitCode != 0);
}

TEST_CASE("kubectl: deployments apply, re-apply (strategic merge) and scale", "[kubectl]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  std::string deploy = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: busybox
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
)";
  REQUIRE(sim.kubectl({"apply", "--validate=false", "-f", "-"}, deploy).exitCode == 0);
  std::string changed = deploy;
  changed.replace(changed.find("value: \"2\""), 10, "value: \"3\"");
  auto again = sim.kubectl({"apply", "--validate=false", "-f", "-"}, changed);
  INFO(again.err);
  REQUIRE(again.exitCode == 0);
  auto obj = Json::parse(sim.kubectl({"get", "deployment", "web", "-o", "json"}).out);
  const Json& c = obj["spec"]["template"]["spec"]["containers"];
  REQUIRE(c.size() == 1);
  CHECK(c[0]["env"][1]["value"] == "3");
  CHECK_FALSE(c[0].contains("$setElementOrder/env"));
  CHECK(obj["metadata"]["generation"] == 2);
  auto scale = sim.kubectl({"scale", "deployment", "web", "--replicas=3"});
  INFO(scale.err);
  CHECK(scale.exitCode == 0);
  CHECK(sim.kubectl({"get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"}).out == "3");
  auto table = sim.kubectl({"get", "deployments"});
  CHECK(headerWords(table.out) ==
        std::vector<std::string>{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"});
}

TEST_CASE("kubectl: delete of an object with a finalizer waits for the finalizer", "[kubectl]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  // Not `kubectl create configmap`: generator commands send protobuf, which kube-sim does not
  // speak.
  REQUIRE(sim.kubectl({"apply", "--validate=false", "-f", "-"},
                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\ndata:\n  k: v\n")
              .exitCode == 0);
  REQUIRE(sim.kubectl({"patch", "configmap", "held", "--type=merge", "-p",
                       R"({"metadata":{"finalizers":["waha.io/cleanup"]}})"})
              .exitCode == 0);
  Process del(sim.kubectlArgv({"delete", "configmap", "held", "--timeout=30s"}), {},
              sim.dir() + "/delete.log");
  REQUIRE(waitFor(
      [&] {
        return !sim.kubectl(
                       {"get", "configmap", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"})
                    .out.empty();
      },
      std::chrono::seconds(20)));
  CHECK(del.alive());  // still waiting: the finalizer holds the object
  REQUIRE(sim.kubectl({"patch", "configmap", "held", "--type=json", "-p",
                       R"([{"op":"remove","path":"/metadata/finalizers"}])"})
              .exitCode == 0);
  int status = -1;
  REQUIRE(del.wait(std::chrono::seconds(20), &status));
  CHECK(status == 0);
  CHECK(sim.kubectl({"get", "configmap", "held"}).err.find("NotFound") != std::string::npos);
}

TEST_CASE("kubectl: wait for a condition set through the status subresource", "[kubectl]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  applyCrds(sim);
  REQUIRE(sim.kubectl({"apply", "--validate=false", "-f", "-"}, kSession).exitCode == 0);
  Process wait(
      sim.kubectlArgv({"wait", "--for=condition=Ready", "--timeout=30s", "wahasession/s1"}), {},
      sim.dir() + "/wait.log");
  auto obj = Json::parse(sim.kubectl({"get", "wahasession", "s1", "-o", "json"}).out);
  obj["status"] = {{"phase", "Working"},
                   {"conditions",
                    {{{"type", "Ready"},
                      {"status", "True"},
                      {"reason", "Working"},
                      {"message", "ok"},
                      {"lastTransitionTime", "2026-11-28T00:00:00Z"}}}}};
  auto put = httpRequest(
      "PUT", sim.url("/apis/waha.io/v1alpha1/namespaces/default/wahasessions/s1/status"),
      obj.dump(), sim.auth());
  INFO(put.body);
  REQUIRE(put.status == 200);
  int status = -1;
  REQUIRE(wait.wait(std::chrono::seconds(30), &status));
  CHECK(status == 0);
  CHECK(wait.log().find("condition met") != std::string::npos);
}

TEST_CASE("kubectl: pods of a Deployment, wide columns, rollout status, cascading delete",
          "[kubectl][workloads]") {
  KubeSim sim;
  REQUIRE(sim.ready());
  if (sim.kubectl({"get", "nodes", "-o", "name"}).out.empty()) {
    WARN("kube-sim built without simulated workloads");
    return;
  }
  std::string deploy = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: busybox
)";
  REQUIRE(sim.kubectl({"apply", "--validate=false", "-f", "-"}, deploy).exitCode == 0);
  auto rollout = sim.kubectl({"rollout", "status", "deployment/web", "--timeout=30s"});
  INFO(rollout.out << rollout.err);
  CHECK(rollout.exitCode == 0);
  auto wait =
      sim.kubectl({"wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout=30s"});
  CHECK(wait.exitCode == 0);
  auto pods = sim.kubectl({"get", "pods", "-o", "wide"});
  INFO(pods.out);
  auto header = headerWords(pods.out);
  REQUIRE(header.size() >= 7);
  CHECK(std::vector<std::string>(header.begin(), header.begin() + 7) ==
        std::vector<std::string>{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"});
  CHECK(pods.out.find("Running") != std::string::npos);
  CHECK(pods.out.find("127.") != std::string::npos);
  REQUIRE(sim.kubectl({"delete", "deployment", "web", "--timeout=30s"}).exitCode == 0);
  // Background GC: ReplicaSet and pods follow their owner.
  CHECK(waitFor(
      [&] {
        auto left = sim.kubectl({"get", "pods,replicasets", "-o", "name"});
        return left.exitCode == 0 && left.out.empty();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200)));
}
