// waha-sim: wiring only. Config from env and flags -> Simulator -> HTTP server -> wait for signals.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common/log.h"
#include "http/server.h"
#include "simulator.h"

extern char** environ;

namespace {

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace waha;
  bool help = false;
  auto cfg =
      sim::parseConfig(std::vector<std::string>(argv + 1, argv + argc), environment(), &help);
  if (help) {
    std::cout << sim::usage();
    return 0;
  }
  if (!cfg) {
    std::cerr << "waha-sim: " << cfg.error().message << "\n";
    return 2;
  }
  // Signals are taken by sigwait below, never by whichever thread happens to run.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  sim::Simulator simulator(*cfg);
  simulator.setCrashHandler([](const std::string& how) {
    log::error("waha-sim crashing", {{"mode", how}});
    if (how == "abort") {
      std::abort();
    }
    ::kill(::getpid(), SIGKILL);
  });
  if (auto st = simulator.start(); !st) {
    std::cerr << "waha-sim: " << st.error().message << "\n";
    return 1;
  }
  http::ServerOptions opts;
  opts.host = cfg->host;
  opts.port = cfg->port;
  opts.threads = cfg->threads;
  auto server = http::makeBeastServer(opts);
  auto st = server->start([&simulator](http::Request& req, std::shared_ptr<http::Exchange> ex) {
    simulator.handle(req, std::move(ex));
  });
  if (!st) {
    std::cerr << "waha-sim: cannot listen on " << cfg->host << ":" << cfg->port << ": "
              << st.error().message << "\n";
    return 1;
  }
  if (!cfg->portFile.empty() &&
      !sim::writeFileAtomic(cfg->portFile, std::to_string(server->port()) + "\n")) {
    std::cerr << "waha-sim: cannot write port file " << cfg->portFile << "\n";
    return 1;
  }
  log::info(
      "waha-sim listening",
      {{"host", cfg->host}, {"port", std::to_string(server->port())}, {"worker", cfg->workerId}});
  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) {
      continue;
    }
    if (sig == SIGUSR1) {
      // Exit on signal without any cleanup: the kernel alone releases the registry locks.
      log::error("waha-sim killed by SIGUSR1 (simulated crash)");
      ::kill(::getpid(), SIGKILL);
    }
    if (sig == SIGTERM && simulator.faults().ignoreSigterm) {
      log::warn("SIGTERM ignored (fault)", {{"worker", cfg->workerId}});
      continue;
    }
    break;
  }
  log::info("waha-sim stopping", {{"worker", cfg->workerId}});
  simulator.shutdown();
  server->stop();
  return 0;
}
