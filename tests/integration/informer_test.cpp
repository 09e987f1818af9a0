// An informer over HTTPS + token against kube-sim survives cut watches and forced 410s, and ends
// with exactly the server's state after 1,000 random writes.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "kube/config.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "sim/kube/tests/kubesim_fixture.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;

namespace {

const ResourceRef kConfigMaps{"", "v1", "configmaps", true};
const ResourceRef kNamespaces{"", "v1", "namespaces", false};
constexpr const char* kNs = "informer-it";

std::vector<std::string> kubeSimArgs() {
  return {"--bookmark-interval-ms", "1000", "--log-level", "warn"};
}

// A fault through kube-sim's admin endpoint (plain HTTP, same token as the API).
bool fault(const test::KubeSim& sim, const std::string& what) {
  return test::httpRequest("POST", sim.url("/admin/" + what), "", sim.auth()).status == 200;
}

Json configMap(const std::string& name, const std::string& v) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}}},
          {"data", {{"v", v}}}};
}

std::map<std::string, std::string> versions(const std::vector<ObjectPtr>& objs) {
  std::map<std::string, std::string> out;
  for (const auto& o : objs) {
    out[objectKey(*o)] = resourceVersionOf(*o);
  }
  return out;
}

std::map<std::string, std::string> versions(const std::vector<Json>& objs) {
  std::map<std::string, std::string> out;
  for (const auto& o : objs) {
    out[objectKey(o)] = resourceVersionOf(o);
  }
  return out;
}

}  // namespace

TEST_CASE("informer over kube-sim: cut watches and 410s, then exactly the server's state") {
  test::KubeSim sim(kubeSimArgs());
  REQUIRE(sim.ready());
  auto config = loadKubeconfig({sim.dir() + "/kubeconfig"}, "");
  REQUIRE(config.ok());
  StdRandom random(42);
  auto client = RestKubeClient::fromConfig(*config, SteadyClock::instance(), random);
  REQUIRE(client.ok());
  KubeClient& kc = **client;
  auto ns = kc.create(kNamespaces, "",
                      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNs}}}});
  REQUIRE((ns.ok() || ns.error().code == 409));

  // Some objects before the informer starts, so the initial list has content.
  for (int i = 0; i < 30; ++i) {
    REQUIRE(kc.create(kConfigMaps, kNs, configMap("cm-" + std::to_string(i), "0")).ok());
  }
  Informer inf(kc, kConfigMaps, kNs, SteadyClock::instance(), random);
  inf.start();
  REQUIRE(inf.waitForSync(20s));
  CHECK(inf.store().size() == 30);

  std::mt19937 rng(7);
  int writeErrors = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string name = "cm-" + std::to_string(rng() % 60);
    int op = static_cast<int>(rng() % 10);
    if (i % 200 == 100) {
      REQUIRE(fault(sim, "cut-watches"));
    }
    if (i % 250 == 200) {
      // The next watch start answers 410: the informer must re-list.
      REQUIRE(fault(sim, "expire-watches?count=1"));
      REQUIRE(fault(sim, "cut-watches"));
    }
    auto cur = kc.get(kConfigMaps, kNs, name);
    if (!cur.ok()) {
      writeErrors += kc.create(kConfigMaps, kNs, configMap(name, std::to_string(i))).ok() ? 0 : 1;
    } else if (op < 7) {
      Json next = *cur;
      next["data"]["v"] = std::to_string(i);
      writeErrors += kc.update(kConfigMaps, kNs, next).ok() ? 0 : 1;
    } else {
      writeErrors += kc.remove(kConfigMaps, kNs, name).ok() ? 0 : 1;
    }
  }
  CHECK(writeErrors == 0);

  auto fresh = kc.list(kConfigMaps, kNs);
  REQUIRE(fresh.ok());
  auto want = versions(fresh->items);
  bool same = test::waitFor([&] { return versions(inf.store().list()) == want; }, 30s);
  if (!same) {
    WARN("store has " + std::to_string(inf.store().size()) + " objects, server " +
         std::to_string(want.size()));
  }
  CHECK(same);
  CHECK(inf.relists() >= 1);
  CHECK(inf.watchesOpened() >= 5);
  inf.stop();
}

TEST_CASE("one informer over a list of namespaces: their objects only, each re-listed alone") {
  test::KubeSim sim(kubeSimArgs());
  REQUIRE(sim.ready());
  auto config = loadKubeconfig({sim.dir() + "/kubeconfig"}, "");
  REQUIRE(config.ok());
  StdRandom random(43);
  auto client = RestKubeClient::fromConfig(*config, SteadyClock::instance(), random);
  REQUIRE(client.ok());
  KubeClient& kc = **client;
  for (std::string ns : {"ns-a", "ns-b", "ns-other"}) {
    REQUIRE(kc.create(kNamespaces, "",
                      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}})
                .ok());
    for (int i = 0; i < 5; ++i) {
      REQUIRE(kc.create(kConfigMaps, ns, configMap("cm-" + std::to_string(i), "0")).ok());
    }
  }
  Informer inf(kc, kConfigMaps, std::vector<std::string>{"ns-a", "ns-b"}, SteadyClock::instance(),
               random);
  inf.start();
  REQUIRE(inf.waitForSync(20s));
  CHECK(inf.store().size() == 10);
  CHECK(inf.store().byNamespace("ns-other").empty());

  // A 410 forces re-lists; each watcher replaces only its own namespace in the shared store.
  REQUIRE(kc.remove(kConfigMaps, "ns-a", "cm-0").ok());
  REQUIRE(kc.create(kConfigMaps, "ns-b", configMap("cm-new", "1")).ok());
  REQUIRE(kc.create(kConfigMaps, "ns-other", configMap("cm-new", "1")).ok());
  REQUIRE(fault(sim, "expire-watches?count=2"));
  REQUIRE(fault(sim, "cut-watches"));
  REQUIRE(kc.remove(kConfigMaps, "ns-b", "cm-1").ok());
  std::map<std::string, std::string> want;
  for (std::string ns : {"ns-a", "ns-b"}) {
    auto l = kc.list(kConfigMaps, ns);
    REQUIRE(l.ok());
    for (const auto& [k, v] : versions(l->items)) {
      want[k] = v;
    }
  }
  CHECK(want.size() == 9);
  CHECK(test::waitFor([&] { return versions(inf.store().list()) == want; }, 30s));
  inf.stop();
}
