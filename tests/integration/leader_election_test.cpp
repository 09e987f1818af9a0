// Two operator-like processes contend for a Lease on kube-sim over HTTPS + token; when the
// leader dies (SIGKILL: no release) the standby takes over within the lease duration, and when
// it shuts down cleanly (SIGTERM: release) the standby takes over on its next retry.
//
// The contenders are this test binary re-run with the hidden "[.le-child]" test case, so no extra
// tool needs building.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "kube/config.h"
#include "kube/leader_election.h"
#include "kube/rest_client.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::kube;
using namespace std::chrono_literals;

namespace {

const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};
const ResourceRef kNamespaces{"", "v1", "namespaces", false};
constexpr const char* kNs = "le-it";
// Short timings keep the test fast; the rules are the same as with 15/10/2 s.
constexpr int kLeaseMs = 3000;
constexpr int kRenewMs = 2000;
constexpr int kRetryMs = 300;

std::atomic<bool> gTerm{false};
void onTerm(int) { gTerm = true; }

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void writeState(const std::string& path, const std::string& state) {
  test::writeFile(path + ".tmp", state);
  std::filesystem::rename(path + ".tmp", path);
}

std::string selfExe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

struct KubeSim {
  std::string dir = test::makeTempDir("le-it");
  std::unique_ptr<test::Process> proc;

  bool start(const std::string& bin) {
    proc = std::make_unique<test::Process>(
        std::vector<std::string>{bin, "--port-file", dir + "/ports.json", "--kubeconfig-out",
                                 dir + "/kubeconfig", "--log-level", "warn"},
        std::map<std::string, std::string>{}, dir + "/kube-sim.log");
    return test::waitFor([&] { return ::access((dir + "/ports.json").c_str(), R_OK) == 0; }, 20s);
  }
};

struct Contender {
  std::string id;
  std::string stateFile;
  std::unique_ptr<test::Process> proc;

  Contender(const KubeSim& sim, const std::string& identity) : id(identity) {
    stateFile = sim.dir + "/state-" + id;
    std::filesystem::remove(stateFile);
    proc = std::make_unique<test::Process>(
        std::vector<std::string>{selfExe(), "[.le-child]"},
        std::map<std::string, std::string>{{"WAHA_LE_KUBECONFIG", sim.dir + "/kubeconfig"},
                                           {"WAHA_LE_ID", id},
                                           {"WAHA_LE_STATE", stateFile}},
        sim.dir + "/contender-" + id + ".log");
  }
  std::string state() const {
    return ::access(stateFile.c_str(), R_OK) == 0 ? test::readFile(stateFile) : "";
  }
};

}  // namespace

TEST_CASE("leader election child process (run by the integration test)", "[.le-child]") {
  ::signal(SIGTERM, onTerm);
  std::string state = env("WAHA_LE_STATE");
  auto cfg = loadKubeconfig({env("WAHA_LE_KUBECONFIG")}, "");
  REQUIRE(cfg.ok());
  StdRandom random;
  auto client = RestKubeClient::fromConfig(*cfg, SteadyClock::instance(), random);
  REQUIRE(client.ok());
  LeaderElectionConfig lc;
  lc.ns = kNs;
  lc.name = "waha-operator";
  lc.identity = env("WAHA_LE_ID");
  lc.leaseDuration = std::chrono::milliseconds(kLeaseMs);
  lc.renewDeadline = std::chrono::milliseconds(kRenewMs);
  lc.retryPeriod = std::chrono::milliseconds(kRetryMs);
  LeaderCallbacks cb;
  cb.onStartedLeading = [&] { writeState(state, "leader"); };
  cb.onStoppedLeading = [&] { writeState(state, "stopped"); };
  cb.onNewLeader = [&](const std::string& who) {
    if (who != lc.identity) {
      writeState(state, "standby:" + who);
    }
  };
  LeaderElector elector(**client, SteadyClock::instance(), lc, cb);
  elector.start();
  while (!gTerm) {
    std::this_thread::sleep_for(20ms);
  }
  elector.stop();
  REQUIRE_FALSE(elector.isLeader());
}

TEST_CASE("two processes contend for the lease and hand over when the leader stops") {
  std::string bin = test::binaryPath("tests/sim/kube/kube-sim");
  if (::access(bin.c_str(), X_OK) != 0) {
    WARN("kube-sim not built at " + bin + ": the leader election integration test is SKIPPED");
    return;
  }
  KubeSim sim;
  REQUIRE(sim.start(bin));
  auto cfg = loadKubeconfig({sim.dir + "/kubeconfig"}, "");
  REQUIRE(cfg.ok());
  StdRandom random;
  auto client = RestKubeClient::fromConfig(*cfg, SteadyClock::instance(), random);
  REQUIRE(client.ok());
  auto ns = (*client)->create(
      kNamespaces, "",
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNs}}}});
  REQUIRE((ns.ok() || ns.error().code == 409));
  auto holder = [&] {
    auto l = (*client)->get(kLeases, kNs, "waha-operator");
    return l.ok() ? (*l)["spec"].value("holderIdentity", "") : std::string("<none>");
  };

  Contender a(sim, "a");
  REQUIRE(test::waitFor([&] { return a.state() == "leader"; }, 20s));
  Contender b(sim, "b");
  REQUIRE(test::waitFor([&] { return b.state() == "standby:a"; }, 20s));
  REQUIRE(holder() == "a");

  // The leader dies without releasing: b must wait out the lease, then take over.
  auto killedAt = std::chrono::steady_clock::now();
  a.proc->kill(SIGKILL);
  REQUIRE(test::waitFor([&] { return b.state() == "leader"; }, 30s));
  auto handover = std::chrono::steady_clock::now() - killedAt;
  WARN("handover after SIGKILL took "
       << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count() << " ms (lease "
       << kLeaseMs << " ms, retry " << kRetryMs << " ms)");
  REQUIRE(holder() == "b");
  auto lease = (*client)->get(kLeases, kNs, "waha-operator");
  REQUIRE(lease.ok());
  REQUIRE((*lease)["spec"]["leaseTransitions"] == 1);

  // A clean shutdown releases the lease: the standby does not wait for it to expire.
  Contender c(sim, "c");
  REQUIRE(test::waitFor([&] { return c.state() == "standby:b"; }, 20s));
  REQUIRE(b.proc->stop(10s) == 0);
  REQUIRE(b.state() == "stopped");
  REQUIRE(test::waitFor([&] { return c.state() == "leader"; }, 30s));
  REQUIRE(holder() == "c");
  REQUIRE(c.proc->stop(10s) == 0);
  REQUIRE(holder() == "");
  sim.proc->stop();
  std::filesystem::remove_all(sim.dir);
}
