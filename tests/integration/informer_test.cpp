// An informer over HTTPS + token against kube-sim survives cut watches and forced 410s, and ends
// with exactly the server's state after 1,000 random writes.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "kube/config.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/test_http.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;

namespace {

const ResourceRef kConfigMaps{"", "v1", "configmaps", true};
const ResourceRef kNamespaces{"", "v1", "namespaces", false};
constexpr const char* kNs = "informer-it";

struct KubeSim {
  std::string dir = test::makeTempDir("informer-it");
  std::unique_ptr<test::Process> proc;
  Json ports;

  bool start(const std::string& bin) {
    proc = std::make_unique<test::Process>(
        std::vector<std::string>{bin, "--port-file", dir + "/ports.json", "--kubeconfig-out",
                                 dir + "/kubeconfig", "--bookmark-interval-ms", "1000",
                                 "--log-level", "warn"},
        std::map<std::string, std::string>{}, dir + "/kube-sim.log");
    return test::waitFor(
        [&] {
          if (::access((dir + "/ports.json").c_str(), R_OK) != 0) {
            return false;
          }
          ports = Json::parse(test::readFile(dir + "/ports.json"), nullptr, false);
          return !ports.is_discarded() && ports.value("http", 0) > 0;
        },
        20s);
  }
  // A fault through kube-sim's admin endpoint (plain HTTP, same token as the API).
  bool fault(const std::string& what) {
    auto r = test::httpRequest(
        "POST", "http://127.0.0.1:" + std::to_string(ports.value("http", 0)) + "/admin/" + what, "",
        {{"Authorization", "Bearer " + ports.value("token", "")}});
    return r.status == 200;
  }
};

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
  std::string bin = test::binaryPath("tests/sim/kube/kube-sim");
  if (::access(bin.c_str(), X_OK) != 0) {
    WARN("kube-sim not built at " + bin + ": the informer integration test is SKIPPED");
    return;
  }
  KubeSim sim;
  REQUIRE(sim.start(bin));
  auto config = loadKubeconfig({sim.dir + "/kubeconfig"}, "");
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
    Json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"name", "cm-" + std::to_string(i)}}},
               {"data", {{"v", "0"}}}};
    REQUIRE(kc.create(kConfigMaps, kNs, cm).ok());
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
      REQUIRE(sim.fault("cut-watches"));
    }
    if (i % 250 == 200) {
      // The next watch start answers 410: the informer must re-list.
      REQUIRE(sim.fault("expire-watches?count=1"));
      REQUIRE(sim.fault("cut-watches"));
    }
    auto cur = kc.get(kConfigMaps, kNs, name);
    if (!cur.ok()) {
      Json cm = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", name}}},
                 {"data", {{"v", std::to_string(i)}}}};
      writeErrors += kc.create(kConfigMaps, kNs, cm).ok() ? 0 : 1;
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
  sim.proc->stop();
}
