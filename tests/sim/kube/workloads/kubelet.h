#pragma once

// The simulated scheduler and kubelet: binds pods to the simulated Nodes, gives each its own
// loopback IP, runs its container (a real process when a command template is set), probes it,
// restarts it, reports status, and terminates it gracefully on deletion.

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "object_store.h"
#include "workloads/probe.h"
#include "workloads/workloads.h"

namespace waha::sim::workloads {

struct NodeInfo {
  std::string name;
  std::string ip;  // the node's InternalIP, the pods' hostIP
  Json labels;
};

class Kubelet {
 public:
  Kubelet(ObjectStore& store, const WorkloadOptions& opts, std::vector<NodeInfo> nodes);
  ~Kubelet();
  void start();
  // Ends every pod process (SIGTERM, then SIGKILL) and the threads.
  void stop();
  // From store callbacks: only records the key.
  void podChanged(const std::string& key);
  Status killProcess(const std::string& ns, const std::string& pod);
  Status setNotReady(const std::string& ns, const std::string& pod, bool on);

 private:
  struct Probe {
    Json spec;  // the container's probe; null when it has none
    bool inFlight = false;
    TimePoint nextAt{};
    int successes = 0;
    int failures = 0;
    bool passing = false;
  };
  enum class State { Waiting, Running, BackOff, Terminated };
  struct Pod {
    std::string ns, name, uid, node, hostIp, ip;
    Json object;  // last seen
    State state = State::Waiting;
    std::string reason = "ContainerCreating";
    std::string message;
    pid_t pid = -1;
    uint64_t incarnation = 0;  // per container start; drops late probe results
    int restartCount = 0;
    int crashes = 0;
    TimePoint runningSince{}, retryAt{}, killAt{};
    std::string startedAt, podStartTime;
    Json lastTerminated, terminated;
    bool everStarted = false, ready = false, forcedNotReady = false;
    bool terminating = false, killed = false, finished = false, gone = false;
    Probe readiness, liveness;
    std::map<std::string, std::pair<bool, std::string>> transitions;  // condition -> status, time
    Json lastStatus;
    std::string lastError;
  };
  struct ProbeJob {
    std::string key;
    uint64_t incarnation;
    bool liveness;
    ProbeTarget target;
  };

  void run();
  void probeLoop();
  void post(std::function<void()> task);
  Status runOnLoop(const std::function<Status()>& fn);
  void syncPod(const std::string& key);
  void schedule(Json pod);
  void admit(const Json& pod, const std::string& node);
  void tick(Pod& p, TimePoint now);
  void startContainer(Pod& p, TimePoint now);
  void containerExited(Pod& p, int exitCode, TimePoint now);
  void beginTermination(Pod& p, TimePoint now);
  void finishTermination(Pod& p);
  void scheduleProbes(Pod& p, TimePoint now);
  void probeResult(const std::string& key, uint64_t incarnation, bool liveness, bool ok);
  Json buildStatus(Pod& p);
  void writeStatus(Pod& p);
  std::string allocateIp();
  void shutdownProcesses();

  ObjectStore& store_;
  WorkloadOptions opts_;
  std::vector<NodeInfo> nodes_;
  Clock& clock_;

  std::mutex mu_;  // guards only the inbox below, never held while calling the store
  std::condition_variable cv_;
  std::set<std::string> dirty_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;

  std::mutex probeMu_;
  std::condition_variable probeCv_;
  std::deque<ProbeJob> probeJobs_;
  bool probeStopping_ = false;
  std::thread probeThread_;

  // Owned by the loop thread only.
  std::map<std::string, Pod> pods_;
  std::map<std::string, std::string> bound_;  // pods bound to a node, not yet admitted
  std::set<uint32_t> ipsInUse_;
  uint32_t nextIp_;
  size_t nextNode_ = 0;
};

}  // namespace waha::sim::workloads
