// kube-sim: wiring only. Flags -> store, API server (HTTP + HTTPS), optional simulated workloads
// -> kubeconfig and port file -> wait for SIGTERM/SIGINT.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "api_server.h"
#include "common/log.h"

#ifdef WAHA_KUBE_SIM_WORKLOADS
#include "workloads/workloads.h"
#endif
#include "common/base64.h"

namespace {

using waha::sim::Json;

const char* kHelp = R"(kube-sim: a Kubernetes API server emulator for tests and the local demo.

Usage:
  kube-sim [flags]                 serve until SIGTERM/SIGINT
  kube-sim fault --port-file F <fault> [key=value ...]
                                   inject a fault into a running kube-sim (see docs/kube-sim.md)

Flags:
  --host H                  listen address (default 127.0.0.1)
  --port N                  plain HTTP port, 0 = pick a free one (default 0)
  --https-port N            HTTPS port, 0 = pick a free one (default 0)
  --token T                 bearer token clients must send (default: random)
  --kubeconfig-out PATH     write a kubeconfig (https server, CA data, token) for kubectl/operator
  --port-file PATH          write {"http":..,"https":..,"kubeconfig":..,"token":..} once serving
  --watch-window N          events kept for watch resume; older resourceVersions get 410 (default 10000)
  --bookmark-interval-ms N  BOOKMARK period for watches that allow them (default 1000)
  --threads N               HTTP I/O threads per listener (default 2)
  --log-level L             debug|info|warn|error (default info)
  --log-json                log one JSON object per line
  --pod-command CMD         command template run for every pod (simulated kubelet; "" = none)
  --pod-ready-delay-ms N    pods become Running+Ready after N ms (default 300)
  --nodes N                 simulated nodes node-1..node-N (default 3)
  --state-dir DIR           pod logs and other state (default: a temp dir)
  --help                    this text

Faults (kube-sim fault ...): cut-watches | expire-watches count=N | latency ms=N |
  fail-writes percent=P code=500|429 retryAfter=S | clear | kill-pod-process namespace=NS pod=P |
  pod-not-ready namespace=NS pod=P | pod-ready namespace=NS pod=P | status
)";

std::string randomToken() {
  unsigned char raw[16];
  RAND_bytes(raw, sizeof raw);
  std::string hex;
  for (unsigned char c : raw) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", c);
    hex += b;
  }
  return hex;
}

// Written to a temp name then renamed: a test polling for the file never reads half of it.
bool writeAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) {
      return false;
    }
    f << content;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string kubeconfig(int httpsPort, const std::string& caPem, const std::string& token) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n"
         "    server: https://127.0.0.1:" +
         std::to_string(httpsPort) +
         "\n"
         "    certificate-authority-data: " +
         waha::base64Encode(caPem) +
         "\n"
         "contexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n"
         "    namespace: default\ncurrent-context: kube-sim\nusers:\n- name: kube-sim\n  user:\n"
         "    token: " +
         token + "\n";
}

// The fault CLI: one plain-HTTP request to the running kube-sim's /admin endpoint.
int faultCommand(int argc, char** argv) {
  std::string portFile;
  std::string fault;
  std::string query;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port-file" && i + 1 < argc) {
      portFile = argv[++i];
    } else if (fault.empty()) {
      fault = a;
    } else {
      query += (query.empty() ? "" : "&") + a;
    }
  }
  std::ifstream f(portFile);
  Json ports = Json::parse(f, nullptr, false);
  if (fault.empty() || ports.is_discarded()) {
    std::cerr << "usage: kube-sim fault --port-file F <fault> [key=value ...]\n";
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(ports.value("http", 0)));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::cerr << "cannot connect to kube-sim\n";
    close(fd);
    return 1;
  }
  std::string req = "POST /admin/" + fault + (query.empty() ? "" : "?" + query) +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                    ports.value("token", "") + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t body = resp.find("\r\n\r\n");
  std::cout << (body == std::string::npos ? resp : resp.substr(body + 4)) << "\n";
  return resp.rfind("HTTP/1.1 200", 0) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "fault") {
    return faultCommand(argc, argv);
  }
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return 0;
    }
    if (a == "--log-json") {
      flags[a] = "true";
      continue;
    }
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::cerr << "kube-sim: bad argument " << a << " (see --help)\n";
      return 2;
    }
    flags[a] = argv[++i];
  }
  auto flag = [&](const char* name, const std::string& fallback) {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  };
  try {
    waha::log::Level level;
    if (!waha::log::parseLevel(flag("--log-level", "info"), level)) {
      std::cerr << "kube-sim: bad --log-level\n";
      return 2;
    }
    waha::log::setLevel(level);
    waha::log::setJson(flags.count("--log-json") != 0);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before any thread starts: only sigwait sees them
    signal(SIGPIPE, SIG_IGN);

    waha::sim::ResourceRegistry registry;
    waha::sim::MemoryStore::Options so;
    so.watchWindow = std::stoul(flag("--watch-window", "10000"));
    waha::sim::MemoryStore store(registry, so);
    waha::sim::ApiServerOptions ao;
    ao.host = flag("--host", "127.0.0.1");
    ao.httpPort = std::stoi(flag("--port", "0"));
    ao.httpsPort = std::stoi(flag("--https-port", "0"));
    ao.token = flag("--token", randomToken());
    ao.threads = std::stoi(flag("--threads", "2"));
    ao.bookmarkInterval =
        std::chrono::milliseconds(std::stoi(flag("--bookmark-interval-ms", "1000")));
    waha::sim::ApiServer server(store, ao);
    if (auto st = server.start(); !st) {
      waha::log::error("kube-sim cannot start", {{"error", st.error().str()}});
      return 1;
    }
#ifdef WAHA_KUBE_SIM_WORKLOADS
    waha::sim::WorkloadOptions wo;
    wo.readyDelay = std::chrono::milliseconds(std::stoi(flag("--pod-ready-delay-ms", "300")));
    wo.podCommand = flag("--pod-command", "");
    wo.nodes = std::stoi(flag("--nodes", "3"));
    wo.stateDir = flag("--state-dir", "");
    waha::sim::Workloads workloads(store, wo);
    store.setGracefulPodDeletion(true);
    workloads.start();
    server.setPodFaultHooks(
        waha::sim::PodFaultHooks{[&](const std::string& ns, const std::string& pod) {
                                   return workloads.killProcess(ns, pod);
                                 },
                                 [&](const std::string& ns, const std::string& pod, bool on) {
                                   return workloads.setNotReady(ns, pod, on);
                                 }});
#else
    if (!flag("--pod-command", "").empty()) {
      waha::log::warn("kube-sim built without simulated workloads: --pod-command ignored");
    }
#endif
    std::string kcPath = flag("--kubeconfig-out", "");
    if (!kcPath.empty() &&
        !writeAtomically(kcPath, kubeconfig(server.httpsPort(), server.caPem(), ao.token))) {
      waha::log::error("cannot write kubeconfig", {{"path", kcPath}});
      return 1;
    }
    std::string portFile = flag("--port-file", "");
    Json ports = {{"http", server.httpPort()},
                  {"https", server.httpsPort()},
                  {"kubeconfig", kcPath},
                  {"token", ao.token},
                  {"pid", static_cast<int>(getpid())}};
    if (!portFile.empty() && !writeAtomically(portFile, ports.dump() + "\n")) {
      waha::log::error("cannot write port file", {{"path", portFile}});
      return 1;
    }
    waha::log::info("kube-sim serving", {{"http", std::to_string(server.httpPort())},
                                         {"https", std::to_string(server.httpsPort())},
                                         {"kubeconfig", kcPath}});
    int sig = 0;
    sigwait(&sigs, &sig);
    waha::log::info("kube-sim stopping", {{"signal", std::to_string(sig)}});
#ifdef WAHA_KUBE_SIM_WORKLOADS
    workloads.stop();
#endif
    server.stop();
    return 0;
  } catch (const std::exception& e) {
    waha::log::error("kube-sim failed", {{"error", e.what()}});
    return 1;
  }
}
