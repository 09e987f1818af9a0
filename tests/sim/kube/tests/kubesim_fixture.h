#pragma once

// Starts a kube-sim process on free ports for one test and drives it with real kubectl or plain
// HTTP. Everything lives in a temp dir (kubeconfig, port file, kubectl cache, logs).

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/paths.h"
#include "support/process.h"
#include "support/test_http.h"
#include "support/wait.h"

namespace waha::test {

class KubeSim {
 public:
  explicit KubeSim(std::vector<std::string> extraArgs = {}) : dir_(makeTempDir("kube-sim")) {
    std::vector<std::string> argv = {binaryPath("tests/sim/kube/kube-sim"),
                                     "--kubeconfig-out",
                                     dir_ + "/kubeconfig",
                                     "--port-file",
                                     dir_ + "/ports.json",
                                     "--pod-ready-delay-ms",
                                     "50"};
    argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
    proc_ = std::make_unique<Process>(argv, std::map<std::string, std::string>{},
                                      dir_ + "/kube-sim.log");
    ready_ = waitFor([&] { return std::filesystem::exists(dir_ + "/ports.json"); },
                     std::chrono::seconds(20));
    if (ready_) {
      ports_ = nlohmann::json::parse(readFile(dir_ + "/ports.json"));
    }
  }
  ~KubeSim() {
    proc_->stop(std::chrono::seconds(5));
    std::filesystem::remove_all(dir_);
  }
  bool ready() const { return ready_; }
  const std::string& dir() const { return dir_; }
  std::string log() const { return proc_->log(); }
  Process& process() { return *proc_; }

  std::vector<std::string> kubectlArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", dir_ + "/kubeconfig", "--cache-dir",
                                     dir_ + "/kube-cache"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult kubectl(const std::vector<std::string>& args,
                        const std::string& stdinData = "") const {
    return runCommand(kubectlArgv(args), {}, std::chrono::seconds(60), stdinData);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(ports_.value("http", 0)) + path;
  }
  std::map<std::string, std::string> auth(
      const std::string& contentType = "application/json") const {
    return {{"Authorization", "Bearer " + ports_.value("token", std::string())},
            {"Content-Type", contentType}};
  }

 private:
  std::string dir_;
  std::unique_ptr<Process> proc_;
  nlohmann::json ports_;
  bool ready_ = false;
};

}  // namespace waha::test
