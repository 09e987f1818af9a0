#pragma once

// The simulated controller-manager (Deployment -> ReplicaSet -> Pods), scheduler (spec.nodeName)
// and kubelet (pod IPs, phases, Ready, optional real process per pod) of kube-sim. It talks to
// kube-sim's storage through ObjectStore directly, never over HTTP.

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"

namespace waha::sim {

class ObjectStore;

struct WorkloadOptions {
  std::chrono::milliseconds readyDelay{300};  // pod Running+Ready after this (or readinessProbe)
  // Command template run per pod ("" = no process), through `/bin/sh -c "exec <command>"`, with
  // placeholders {podName} {podIP} {namespace} {image} {port} {node} and the pod's env.
  std::string podCommand;
  int nodes = 3;         // simulated nodes node-1..node-N
  std::string stateDir;  // pod logs go to <stateDir>/pods/<ns>_<pod>.log ("" = discarded)
  // First pod IP handed out. "" = 127.<1 + pid % 250>.0.1, so kube-sims (and tests) running side
  // by side on one machine do not give their pods the same addresses.
  std::string firstPodIp;
  // Sim-speed knobs: probes run every min(periodSeconds, probePeriodCap); a container that exited
  // is restarted after restartBackoff, doubling per crash up to restartBackoffMax.
  std::chrono::milliseconds probePeriodCap{200};
  std::chrono::milliseconds restartBackoff{200};
  std::chrono::milliseconds restartBackoffMax{5000};
};

class Workloads {
 public:
  Workloads(ObjectStore& store, WorkloadOptions opts);
  ~Workloads();
  Workloads(const Workloads&) = delete;
  Workloads& operator=(const Workloads&) = delete;

  void start();  // creates Node objects, subscribes to deployments/replicasets/pods
  void stop();   // stops pod processes
  // Faults: SIGKILL the pod's process (or simulate a crash when it has none); force NotReady.
  Status killProcess(const std::string& ns, const std::string& pod);
  Status setNotReady(const std::string& ns, const std::string& pod, bool on);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace waha::sim
