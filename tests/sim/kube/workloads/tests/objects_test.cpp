// Pure helpers: deletion order, template hash, intstr, selectors, env and command templates.

#include <catch2/catch.hpp>

#include "fixture.h"
#include "workloads/objects.h"
#include "workloads/pod_process.h"

using namespace waha::sim;
using namespace waha::sim::workloads;
using waha::sim::testing::SimStore;

namespace {

Json pod(const std::string& name, bool ready, const std::string& cost = "",
         const std::string& node = "n", const std::string& created = "2026-11-28T01:00:00Z",
         int restarts = 0) {
  Json p = {
      {"metadata", {{"name", name}, {"uid", name}, {"creationTimestamp", created}}},
      {"spec", {{"nodeName", node}}},
      {"status",
       {{"phase", node.empty() ? "Pending" : "Running"},
        {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})},
        {"containerStatuses", Json::array({{{"restartCount", restarts}}})}}}};
  if (!cost.empty()) {
    p["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"] = cost;
  }
  return p;
}

std::vector<std::string> order(std::vector<Json> pods, std::map<std::string, uint64_t> seq = {}) {
  sortForDeletion(pods, [&](const Json& p) { return seq[strAt(p, "/metadata/uid")]; });
  std::vector<std::string> out;
  for (const auto& p : pods) {
    out.push_back(strAt(p, "/metadata/name"));
  }
  return out;
}

}  // namespace

TEST_CASE("scale-down order: unassigned, not ready, deletion cost, restarts, newer") {
  using V = std::vector<std::string>;
  CHECK(order({pod("ready", true), pod("unready", false)}) == V{"unready", "ready"});
  CHECK(order({pod("ready", true), pod("unassigned", false, "", "")}) == V{"unassigned", "ready"});
  CHECK(order({pod("cheap-unready", false, "-5"), pod("dear-unready", false, "100"),
               pod("ready", true, "-100")}) == V{"cheap-unready", "dear-unready", "ready"});
  CHECK(order({pod("c10", true, "10"), pod("c-1", true, "-1"), pod("none", true)}) ==
        V{"c-1", "none", "c10"});
  CHECK(order({pod("calm", true), pod("crashy", true, "", "n", "2026-11-28T01:00:00Z", 3)}) ==
        V{"crashy", "calm"});
  CHECK(order({pod("old", true, "", "n", "2026-11-28T01:00:00Z"),
               pod("new", true, "", "n", "2026-11-28T02:00:00Z")}) == V{"new", "old"});
  // Same second: the creation sequence decides.
  CHECK(order({pod("first", true), pod("second", true)}, {{"first", 1}, {"second", 2}}) ==
        V{"second", "first"});
  CHECK(order({pod("bad-cost", true, "abc"), pod("neg", true, "-1")}) == V{"neg", "bad-cost"});
}

TEST_CASE("pod-template-hash is stable, template-dependent and uses the safe alphabet") {
  Json t = {{"metadata", {{"labels", {{"app", "a"}}}}},
            {"spec", {{"containers", Json::array({{{"image", "x"}}})}}}};
  std::string h = podTemplateHash(t, 0);
  CHECK(h == podTemplateHash(t, 0));
  Json withLabel = t;
  withLabel["metadata"]["labels"]["pod-template-hash"] = h;
  CHECK(podTemplateHash(withLabel, 0) == h);
  Json other = t;
  other["spec"]["containers"][0]["image"] = "y";
  CHECK(podTemplateHash(other, 0) != h);
  CHECK(podTemplateHash(t, 1) != h);
  // What kubectl rollout undo writes back compares equal to the RS template it came from.
  Json undone = withLabel;
  undone["metadata"]["creationTimestamp"] = nullptr;
  undone["spec"]["containers"][0]["resources"] = Json::object();
  CHECK(withoutHashLabel(undone) == withoutHashLabel(t));
  CHECK(podTemplateHash(undone, 0) == h);
  CHECK(h.find_first_not_of("bcdfghjklmnpqrstvwxz2456789") == std::string::npos);
}

TEST_CASE("intstr, selectors and node selectors") {
  CHECK(resolveIntOrPercent("25%", 10, true, 0) == 3);
  CHECK(resolveIntOrPercent("25%", 10, false, 0) == 2);
  CHECK(resolveIntOrPercent(4, 10, false, 0) == 4);
  CHECK(resolveIntOrPercent(Json(), 10, false, 7) == 7);
  Json labels = {{"app", "web"}, {"tier", "front"}};
  CHECK(selectorMatches({{"matchLabels", {{"app", "web"}}}}, labels));
  CHECK_FALSE(selectorMatches({{"matchLabels", {{"app", "db"}}}}, labels));
  CHECK(selectorMatches(
      {{"matchExpressions",
        Json::array({{{"key", "tier"}, {"operator", "In"}, {"values", {"front", "x"}}}})}},
      labels));
  CHECK_FALSE(selectorMatches(
      {{"matchExpressions",
        Json::array({{{"key", "tier"}, {"operator", "NotIn"}, {"values", {"front"}}}})}},
      labels));
  CHECK(selectorMatches(
      {{"matchExpressions", Json::array({{{"key", "zone"}, {"operator", "DoesNotExist"}}})}},
      labels));
  CHECK_FALSE(selectorMatches(
      {{"matchExpressions", Json::array({{{"key", "zone"}, {"operator", "Exists"}}})}}, labels));
  CHECK(nodeSelectorMatches({{"tier", "front"}}, labels));
  CHECK_FALSE(nodeSelectorMatches({{"disk", "ssd"}}, labels));
}

TEST_CASE("env resolution and the command template") {
  SimStore sim;
  MemoryStore& store = sim.store;
  REQUIRE(
      store.create(kSecrets, "ns", {{"metadata", {{"name", "s"}}}, {"data", {{"k", "aGVsbG8="}}}})
          .ok());
  Json p = {{"metadata",
             {{"name", "p1"}, {"namespace", "ns"}, {"uid", "u1"}, {"labels", {{"app", "web"}}}}},
            {"spec", {{"nodeName", "node-1"}}}};
  Json c = {
      {"env",
       Json::array(
           {{{"name", "A"}, {"value", "1"}},
            {{"name", "B"}, {"value", "$(A)-$$(A)-$(NOPE)"}},
            {{"name", "S"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "k"}}}}}},
            {{"name", "O"},
             {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "x"}, {"optional", true}}}}}},
            {{"name", "L"},
             {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['app']"}}}}}},
            {{"name", "N"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}}})}};
  auto env = resolveEnv(store, p, c, "127.1.0.9", "127.0.1.1");
  REQUIRE(env.ok());
  std::map<std::string, std::string> m(env->begin(), env->end());
  CHECK(m["A"] == "1");
  CHECK(m["B"] == "1-$(A)-$(NOPE)");
  CHECK(m["S"] == "hello");
  CHECK(m.count("O") == 0);
  CHECK(m["L"] == "web");
  CHECK(m["N"] == "node-1");
  CHECK(m["POD_IP"] == "127.1.0.9");
  CHECK(m["POD_NAME"] == "p1");
  Json missing = {
      {"env",
       Json::array({{{"name", "S"},
                     {"valueFrom", {{"secretKeyRef", {{"name", "nope"}, {"key", "k"}}}}}}})}};
  auto bad = resolveEnv(store, p, missing, "127.1.0.9", "127.0.1.1");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == "CreateContainerConfigError");
  CHECK(expandCommand("/bin/x --ip {podIP} --port {port} {unknown}",
                      {{"podIP", "1.2.3.4"}, {"port", "80"}}) ==
        "/bin/x --ip 1.2.3.4 --port 80 {unknown}");
  CHECK(base64Decode("czNjcjN0") == "s3cr3t");
  CHECK(processPort({{"ports", Json::array({{{"containerPort", 3000}}})}}) == 3000);
  CHECK(processPort(Json::object()) == 8080);
}
