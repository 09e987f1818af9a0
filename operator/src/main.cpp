// waha-operator: wiring only. Flags/env -> concrete adapters -> run.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/manager.h"
#include "controller/rbac.h"
#include "http/client.h"
#include "http/upstream.h"
#include "http/websocket.h"
#include "hub/hub_server.h"
#include "hub/rbac.h"
#include "kube/config.h"
#include "kube/event_recorder.h"
#include "kube/leader_election.h"
#include "kube/rbac.h"
#include "kube/rest_client.h"
#include "metrics/metrics.h"
#include "metrics/server.h"
#include "waha/http_client.h"

namespace {

using namespace waha;

struct Flag {
  std::string value;
  const char* env;
  const char* help;
};

// Every flag can also come from the environment (the Helm chart sets env); a flag wins.
std::map<std::string, Flag> defaultFlags() {
  return {
      {"kubeconfig",
       {"", "KUBECONFIG_PATH",
        "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"}},
      {"context", {"", "WAHA_OPERATOR_CONTEXT", "kubeconfig context"}},
      {"namespace",
       {"", "WAHA_OPERATOR_NAMESPACE",
        "watch only these namespaces, comma-separated (default: all; a list needs only "
        "namespaced Roles)"}},
      {"metrics-bind-address",
       {"0.0.0.0:8080", "WAHA_OPERATOR_METRICS_ADDR", "address of /metrics, /healthz, /readyz"}},
      {"leader-elect",
       {"true", "WAHA_OPERATOR_LEADER_ELECT", "use a Lease so only one replica reconciles"}},
      {"leader-election-namespace",
       {"", "POD_NAMESPACE", "namespace of the Lease (default: the config's namespace)"}},
      {"leader-election-id",
       {"waha-operator", "WAHA_OPERATOR_LEADER_ELECTION_ID", "name of the Lease"}},
      {"session-workers",
       {"8", "WAHA_OPERATOR_SESSION_WORKERS", "concurrent WahaSession reconciles"}},
      {"cluster-workers",
       {"2", "WAHA_OPERATOR_CLUSTER_WORKERS", "concurrent WahaCluster reconciles"}},
      {"worker-sync-interval",
       {"5", "WAHA_OPERATOR_WORKER_SYNC_SECONDS",
        "seconds between two status polls of one WAHA worker"}},
      {"waha-timeout",
       {"30", "WAHA_OPERATOR_WAHA_TIMEOUT_SECONDS",
        "timeout of start/stop/update calls to a worker (WAHA takes 3-13 s)"}},
      {"log-level", {"info", "WAHA_OPERATOR_LOG_LEVEL", "debug|info|warn|error"}},
      {"log-json",
       {"false", "WAHA_OPERATOR_LOG_JSON", "log one JSON object per line instead of key=value"}},
  };
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(',', start);
    if (end == std::string::npos) {
      end = s.size();
    }
    auto item = s.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) {
      out.push_back(item);
    }
    start = end + 1;
  }
  return out;
}

void usage(const std::map<std::string, Flag>& flags) {
  std::cout << "waha-operator: runs WAHA sessions on a pool of WAHA worker pods.\n\n"
               "Usage: waha-operator controller|hub [--flag=value ...]\n\n"
               "Subcommands:\n  controller   reconcile WahaClusters and WahaSessions\n"
               "  hub          one WAHA API endpoint routing to the worker of each session\n"
               "               (waha-operator hub --help lists its flags)\n"
               "  rbac controller|hub   print the RBAC rules that component needs (YAML)\n\n"
               "Flags (each also read from the environment variable shown):\n";
  for (const auto& [name, f] : flags) {
    std::cout << "  --" << name << " (" << f.env << ", default \"" << f.value << "\")\n      "
              << f.help << "\n";
  }
}

bool parseFlags(int argc, char** argv, std::map<std::string, Flag>& flags) {
  for (auto& [name, f] : flags) {
    if (const char* v = std::getenv(f.env); v != nullptr && *v != '\0') {
      f.value = v;
    }
  }
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(flags);
      std::exit(0);
    }
    if (a.rfind("--", 0) != 0) {
      std::cerr << "unexpected argument: " << a << "\n";
      return false;
    }
    auto eq = a.find('=');
    std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto it = flags.find(name);
    if (it == flags.end()) {
      std::cerr << "unknown flag --" << name << " (see --help)\n";
      return false;
    }
    if (eq != std::string::npos) {
      it->second.value = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      it->second.value = argv[++i];
    } else {
      std::cerr << "flag --" << name << " needs a value\n";
      return false;
    }
  }
  return true;
}

std::atomic<bool> gStop{false};
void onSignal(int) { gStop = true; }

int toInt(const std::string& s, int fallback) {
  try {
    return std::stoi(s);
  } catch (...) {
    return fallback;
  }
}

// --log-level and --log-json, shared by every subcommand; false (with a message) on a bad level.
bool setUpLogging(std::map<std::string, Flag>& f) {
  log::Level level;
  if (!log::parseLevel(f["log-level"].value, level)) {
    std::cerr << "--log-level must be debug, info, warn or error\n";
    return false;
  }
  log::setLevel(level);
  log::setJson(f["log-json"].value == "true");
  return true;
}

void splitAddress(const std::string& addr, http::ServerOptions& o, int fallbackPort) {
  auto colon = addr.rfind(':');
  o.host = colon == std::string::npos || colon == 0 ? "0.0.0.0" : addr.substr(0, colon);
  o.port = toInt(colon == std::string::npos ? addr : addr.substr(colon + 1), fallbackPort);
}

// The Kubernetes API as the flags name it (--kubeconfig, --context), its requests counted in
// `metrics`; nullopt after logging why not.
struct ApiAccess {
  kube::Config config;
  std::shared_ptr<kube::RestKubeClient> client;
};
std::optional<ApiAccess> connectApi(std::map<std::string, Flag>& f, Clock& clock, Random& random,
                                    metrics::Metrics& metrics) {
  auto config = kube::loadConfig({f["kubeconfig"].value, f["context"].value});
  if (!config.ok()) {
    log::error("cannot load Kubernetes config", {{"error", config.error().message}});
    return std::nullopt;
  }
  kube::RestOptions rest;
  rest.onRequest = metrics.restClientHook();
  auto client = kube::RestKubeClient::fromConfig(*config, clock, random, rest);
  if (!client.ok()) {
    log::error("cannot build the API client", {{"error", client.error().message}});
    return std::nullopt;
  }
  return ApiAccess{std::move(*config), std::move(*client)};
}

int runController(std::map<std::string, Flag>& f) {
  if (!setUpLogging(f)) {
    return 2;
  }

  auto& clock = SteadyClock::instance();
  StdRandom random;
  metrics::Metrics metrics;
  auto api = connectApi(f, clock, random, metrics);
  if (!api) {
    return 1;
  }
  const kube::Config& config = api->config;
  kube::KubeClient& client = *api->client;
  http::ServerOptions mopts;
  splitAddress(f["metrics-bind-address"].value, mopts, 8080);
  metrics::MetricsServer server(metrics, mopts);

  auto wahaHttp = http::makeCpprestClient({});
  if (!wahaHttp.ok()) {
    log::error("cannot build the WAHA HTTP client", {{"error", wahaHttp.error().message}});
    return 1;
  }
  wahaapi::HttpWahaClientOptions wopts;
  wopts.lifecycleTimeout = std::chrono::seconds(toInt(f["waha-timeout"].value, 30));
  auto waha = wahaapi::makeHttpWahaClient(*wahaHttp, wopts);

  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  kube::EventRecorderOptions eopts;
  eopts.host = host;
  kube::EventRecorder events(client, clock, eopts);

  controller::ManagerOptions mo;
  mo.namespaces = splitList(f["namespace"].value);
  mo.sessionWorkers = toInt(f["session-workers"].value, 8);
  mo.clusterWorkers = toInt(f["cluster-workers"].value, 2);
  mo.sync.interval = std::chrono::seconds(toInt(f["worker-sync-interval"].value, 5));
  controller::Manager manager(client, *waha, clock, random, &events, &metrics, mo);
  server.addReadinessCheck("caches", [&manager] { return manager.synced(); });
  if (auto st = server.start(); !st.ok()) {
    log::error("cannot serve metrics", {{"error", st.error().message}});
    return 1;
  }
  log::info("waha-operator starting",
            {{"server", config.server},
             {"namespace", f["namespace"].value.empty() ? "*" : f["namespace"].value},
             {"metrics", f["metrics-bind-address"].value},
             {"metricsPort", std::to_string(server.port())}});
  if (auto st = manager.startCaches(); !st.ok()) {
    log::error("caches did not sync", {{"error", st.error().message}});
    return 1;
  }

  std::unique_ptr<kube::LeaderElector> elector;
  std::atomic<bool> lost{false};
  if (f["leader-elect"].value == "true") {
    kube::LeaderElectionConfig lc;
    lc.ns = f["leader-election-namespace"].value.empty() ? config.namespace_
                                                         : f["leader-election-namespace"].value;
    lc.name = f["leader-election-id"].value;
    lc.identity = std::string(host) + "_" + std::to_string(getpid());
    metrics.registerLeaderElection(lc.name);
    kube::LeaderCallbacks cb;
    cb.onStartedLeading = [&manager] {
      log::info("leading: reconciling");
      manager.startControllers();
    };
    // Lost leadership: stop at once so two replicas never reconcile together.
    cb.onStoppedLeading = [&lost] { lost = true; };
    cb.onState = [&metrics, name = lc.name](bool leading) { metrics.setLeader(name, leading); };
    elector = std::make_unique<kube::LeaderElector>(client, clock, lc, cb);
    elector->start();
  } else {
    manager.startControllers();
  }
  while (!gStop && !lost) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Read before elector->stop(): releasing the Lease on the way out also reports "stopped
  // leading", which is not a lost leadership.
  const bool lostLeadership = lost.load();
  log::info("waha-operator stopping", {{"reason", lostLeadership ? "lost leadership" : "signal"}});
  manager.stop();
  if (elector) {
    elector->stop();  // releases the Lease: a standby takes over at once
  }
  events.stop();
  server.stop();
  return lostLeadership ? 1 : 0;
}

// `rbac <component>`: the rules the Helm chart's Roles must equal (tests/unit/chart).
int printRbac(int argc, char** argv) {
  std::string which = argc > 2 ? argv[2] : "";
  if (which == "controller") {
    std::cout << kube::rulesToYaml(controller::controllerRbacRules());
  } else if (which == "hub") {
    std::cout << kube::rulesToYaml(hub::hubRbacRules());
  } else {
    std::cerr << "usage: waha-operator rbac controller|hub\n";
    return 2;
  }
  return 0;
}

std::map<std::string, Flag> hubFlags() {
  return {
      {"cluster", {"", "WAHA_HUB_CLUSTER", "the WahaCluster served (required)"}},
      {"namespace",
       {"", "WAHA_HUB_NAMESPACE", "namespace of the cluster (default: $POD_NAMESPACE)"}},
      {"listen", {"0.0.0.0:3000", "WAHA_HUB_LISTEN", "address of the WAHA API (WAHA's port)"}},
      {"metrics-bind-address",
       {"0.0.0.0:8081", "WAHA_HUB_METRICS_ADDR", "address of /metrics, /healthz, /readyz"}},
      {"kubeconfig",
       {"", "KUBECONFIG_PATH",
        "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"}},
      {"context", {"", "WAHA_OPERATOR_CONTEXT", "kubeconfig context"}},
      {"threads",
       {"2", "WAHA_HUB_THREADS",
        "I/O threads (event loops) shared by the API server and the proxy"}},
      {"upstream-timeout",
       {"60", "WAHA_HUB_UPSTREAM_TIMEOUT_SECONDS",
        "seconds to wait for a worker's answer head (and between body pieces)"}},
      {"max-body-bytes",
       {"67108864", "WAHA_HUB_MAX_BODY_BYTES",
        "largest request body (body-routed JSON calls are read whole up to this)"}},
      {"create-wait",
       {"20", "WAHA_HUB_CREATE_WAIT_SECONDS",
        "create, start, stop and PUT of a session wait this long for the worker to confirm, then "
        "answer 202"}},
      {"shutdown-delay",
       {"5", "WAHA_HUB_SHUTDOWN_DELAY_SECONDS",
        "on SIGTERM, go on serving this long with /readyz failing, so Kubernetes takes the hub out "
        "of its Service before it stops accepting"}},
      {"shutdown-grace",
       {"10", "WAHA_HUB_SHUTDOWN_GRACE_SECONDS",
        "on SIGTERM, requests in progress get this long to finish (idle connections close at "
        "once)"}},
      {"log-level", {"info", "WAHA_OPERATOR_LOG_LEVEL", "debug|info|warn|error"}},
      {"log-json",
       {"false", "WAHA_OPERATOR_LOG_JSON", "log one JSON object per line instead of key=value"}},
  };
}

int runHub(std::map<std::string, Flag>& f) {
  if (!setUpLogging(f)) {
    return 2;
  }
  hub::HubOptions ho;
  ho.cluster = f["cluster"].value;
  ho.ns = f["namespace"].value.empty() && std::getenv("POD_NAMESPACE") != nullptr
              ? std::getenv("POD_NAMESPACE")
              : f["namespace"].value;
  if (ho.cluster.empty()) {
    std::cerr << "--cluster is required (see waha-operator hub --help)\n";
    return 2;
  }
  auto& clock = SteadyClock::instance();
  StdRandom random;
  metrics::Metrics metrics;
  auto api = connectApi(f, clock, random, metrics);
  if (!api) {
    return 1;
  }
  ho.ns = ho.ns.empty() ? api->config.namespace_ : ho.ns;
  kube::KubeClient& client = *api->client;
  int threads = std::max(1, toInt(f["threads"].value, 2));
  splitAddress(f["listen"].value, ho.server, 3000);
  // The API server and the upstream pool share their I/O threads: a proxied request is served
  // start to finish on the thread that accepted it.
  auto io = http::makeIoRuntime(threads);
  ho.server.threads = threads;
  ho.server.runtime = io;
  ho.server.maxBodyBytes = static_cast<std::size_t>(
      std::max<long long>(1024, std::atoll(f["max-body-bytes"].value.c_str())));
  ho.upstreamTimeout = std::chrono::seconds(toInt(f["upstream-timeout"].value, 60));
  ho.createWait = std::chrono::seconds(toInt(f["create-wait"].value, 20));
  ho.shutdownGrace = std::chrono::seconds(std::max(0, toInt(f["shutdown-grace"].value, 10)));
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  ho.hubId = host;
  http::UpstreamOptions uo;
  uo.threads = threads;
  uo.runtime = io;
  auto upstream = http::makeBeastUpstreamPool(uo);
  auto ws = http::makeBeastWsConnector(1);
  hub::HubServer hubServer(client, *upstream, ws.get(), clock, random, metrics, ho);

  http::ServerOptions mopts;
  splitAddress(f["metrics-bind-address"].value, mopts, 8081);
  metrics::MetricsServer server(metrics, mopts);
  server.addReadinessCheck("caches and API key", [&hubServer] { return hubServer.ready(); });
  if (auto st = server.start(); !st.ok()) {
    log::error("cannot serve metrics", {{"error", st.error().message}});
    return 1;
  }
  if (auto st = hubServer.start(); !st.ok()) {
    log::error("cannot serve the hub", {{"error", st.error().message}});
    return 1;
  }
  log::info("waha-operator hub starting",
            {{"cluster", ho.cluster},
             {"namespace", ho.ns},
             {"listen", ho.server.host + ":" + std::to_string(hubServer.port())},
             {"metrics", f["metrics-bind-address"].value},
             {"metricsPort", std::to_string(server.port())}});
  while (!gStop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Endpoints are updated after the pod is told to stop: a hub that closed its port at once
  // would refuse the clients still sent to it meanwhile.
  auto delay = std::chrono::seconds(std::max(0, toInt(f["shutdown-delay"].value, 5)));
  log::info("waha-operator hub leaving its Service",
            {{"delay", std::to_string(delay.count()) + "s"}});
  hubServer.leave();
  for (auto until = std::chrono::steady_clock::now() + delay;
       std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::info("waha-operator hub stopping");
  hubServer.stop();
  if (ws) {
    ws->stop();
  }
  upstream->stop();
  io->stop();
  server.stop();
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  auto flags = defaultFlags();
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(flags);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "rbac") {
    return printRbac(argc, argv);
  }
  if (cmd == "hub") {
    flags = hubFlags();
  } else if (cmd != "controller") {
    std::cerr << "unknown subcommand '" << cmd << "'; see --help\n";
    return 2;
  }
  if (!parseFlags(argc, argv, flags)) {
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return cmd == "hub" ? runHub(flags) : runController(flags);
}
