#include "workloads/kubelet.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <future>

#include "common/log.h"
#include "workloads/objects.h"
#include "workloads/pod_process.h"

namespace waha::sim::workloads {
namespace {

// Pod IPs start at 127.1.0.1: 127.0.0.0/16 is left to the host (127.0.0.1) and the nodes.
constexpr uint32_t kFirstPodIp = (127u << 24) | (1u << 16) | 1u;
constexpr uint32_t kLastPodIp = (127u << 24) | 0x00fffffeu;
constexpr auto kTick = std::chrono::milliseconds(20);

std::string ipText(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xff) + "." +
         std::to_string((ip >> 8) & 0xff) + "." + std::to_string(ip & 0xff);
}

uint32_t ipValue(const std::string& text) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (std::sscanf(text.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) {
    return 0;
  }
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// A positive deletionGracePeriodSeconds (kubectl delete --grace-period) wins; 0 there is not
// taken as "kill now", because kube-sim's store writes 0 for every finalizer-held deletion.
std::chrono::seconds gracePeriod(const Json& pod) {
  int64_t g = intAt(pod, "/metadata/deletionGracePeriodSeconds", 0);
  if (g <= 0) {
    g = intAt(pod, "/spec/terminationGracePeriodSeconds", 30);
  }
  return std::chrono::seconds(std::max<int64_t>(0, g));
}

}  // namespace

Kubelet::Kubelet(ObjectStore& store, const WorkloadOptions& opts, std::vector<NodeInfo> nodes)
    : store_(store),
      opts_(opts),
      nodes_(std::move(nodes)),
      clock_(SteadyClock::instance()),
      nextIp_(kFirstPodIp) {
  uint32_t first = opts_.firstPodIp.empty()
                       ? (127u << 24) | ((1u + static_cast<uint32_t>(getpid()) % 250u) << 16) | 1u
                       : ipValue(opts_.firstPodIp);
  if (first >= kFirstPodIp && first <= kLastPodIp) {
    nextIp_ = first;
  }
}

Kubelet::~Kubelet() { stop(); }

void Kubelet::start() {
  if (!opts_.stateDir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts_.stateDir + "/pods", ec);
  }
  thread_ = std::thread([this] { run(); });
  probeThread_ = std::thread([this] { probeLoop(); });
}

void Kubelet::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> lk(probeMu_);
    probeStopping_ = true;
  }
  probeCv_.notify_all();
  if (probeThread_.joinable()) {
    probeThread_.join();
  }
}

void Kubelet::podChanged(const std::string& key) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    dirty_.insert(key);
  }
  cv_.notify_one();
}

void Kubelet::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

Status Kubelet::runOnLoop(const std::function<Status()>& fn) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  post([promise, fn] { promise->set_value(fn()); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return Error::make(503, "ServiceUnavailable", "kubelet loop is not running");
  }
  return future.get();
}

Status Kubelet::killProcess(const std::string& ns, const std::string& pod) {
  return runOnLoop([this, key = keyOf(ns, pod)]() -> Status {
    auto it = pods_.find(key);
    if (it == pods_.end() || it->second.state != State::Running) {
      return Error::make(404, "NotFound", "no running container for pod " + key);
    }
    Pod& p = it->second;
    log::info("fault: kill pod process", {{"pod", key}, {"pid", std::to_string(p.pid)}});
    if (p.pid > 0) {
      signalProcess(p.pid, SIGKILL);  // the exit is noticed (and restarted) like any other
    } else {
      containerExited(p, 137, clock_.now());
    }
    return {};
  });
}

Status Kubelet::setNotReady(const std::string& ns, const std::string& pod, bool on) {
  return runOnLoop([this, key = keyOf(ns, pod), on]() -> Status {
    auto it = pods_.find(key);
    if (it == pods_.end()) {
      return Error::make(404, "NotFound", "pod " + key + " is not running on a node");
    }
    log::info("fault: set pod not-ready", {{"pod", key}, {"on", on ? "true" : "false"}});
    it->second.forcedNotReady = on;
    return {};
  });
}

void Kubelet::run() {
  for (;;) {
    std::set<std::string> dirty;
    std::deque<std::function<void()>> tasks;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait_for(lk, kTick, [&] { return stopping_ || !dirty_.empty() || !tasks_.empty(); });
      if (stopping_) {
        break;
      }
      dirty.swap(dirty_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) {
      t();
    }
    for (const auto& key : dirty) {
      syncPod(key);
    }
    TimePoint now = clock_.now();
    for (auto it = pods_.begin(); it != pods_.end();) {
      tick(it->second, now);
      if (it->second.gone && it->second.finished) {
        ipsInUse_.erase(ipValue(it->second.ip));
        podChanged(it->first);  // a namesake created meanwhile can now be admitted
        it = pods_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Children die with this thread (PR_SET_PDEATHSIG), so they are ended and reaped here.
  shutdownProcesses();
  std::deque<std::function<void()>> left;
  {
    std::lock_guard<std::mutex> lk(mu_);
    left.swap(tasks_);
  }
  for (auto& t : left) {
    t();  // pending faults answer (with NotFound) instead of hanging their caller
  }
}

void Kubelet::shutdownProcesses() {
  for (auto& [key, p] : pods_) {
    if (p.pid > 0) {
      signalProcess(p.pid, SIGTERM);
    }
  }
  auto deadline = clock_.now() + std::chrono::seconds(2);
  for (;;) {
    bool any = false;
    for (auto& [key, p] : pods_) {
      int code = 0;
      if (p.pid > 0 && reapProcess(p.pid, code)) {
        p.pid = -1;
      }
      any = any || p.pid > 0;
    }
    if (!any) {
      break;
    }
    if (clock_.now() >= deadline) {
      for (auto& [key, p] : pods_) {
        if (p.pid > 0) {
          signalProcess(p.pid, SIGKILL);
        }
      }
      deadline = clock_.now() + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pods_.clear();
}

void Kubelet::syncPod(const std::string& key) {
  auto slash = key.find('/');
  std::string ns = key.substr(0, slash);
  std::string name = key.substr(slash + 1);
  auto obj = store_.get(kPods, ns, name);
  auto it = pods_.find(key);
  if (!obj.ok() || (it != pods_.end() && strAt(*obj, "/metadata/uid") != it->second.uid)) {
    bound_.erase(key);
    if (it != pods_.end()) {
      // The object is gone (or replaced by a namesake): the container still stops gracefully.
      it->second.gone = true;
      beginTermination(it->second, clock_.now());
    }
    return;  // a namesake is admitted once the old container has finished
  }
  std::string node = strAt(*obj, "/spec/nodeName");
  if (node.empty()) {
    if (!isTerminating(*obj)) {
      schedule(*obj);
    }
    return;
  }
  bound_.erase(key);
  if (it == pods_.end()) {
    if (isTerminating(*obj)) {
      return;  // never ran here: nothing to stop
    }
    admit(*obj, node);
    return;
  }
  it->second.object = *obj;
  if (isTerminating(*obj)) {
    beginTermination(it->second, clock_.now());
  }
}

void Kubelet::schedule(Json pod) {
  std::string key = keyOf(pod);
  const Json selector = pod["spec"].value("nodeSelector", Json::object());
  std::map<std::string, int> load;
  for (const auto& [k, p] : pods_) {
    load[p.node]++;
  }
  for (const auto& [k, n] : bound_) {
    load[n]++;
  }
  // Least-loaded node that satisfies the nodeSelector; ties go round-robin.
  const NodeInfo* best = nullptr;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeInfo& n = nodes_[(nextNode_ + i) % nodes_.size()];
    if (nodeSelectorMatches(selector, n.labels) &&
        (best == nullptr || load[n.name] < load[best->name])) {
      best = &n;
    }
  }
  if (best == nullptr) {
    Json status = pod.value("status", Json::object());
    Json cond = {{"type", "PodScheduled"},
                 {"status", "False"},
                 {"reason", "Unschedulable"},
                 {"message", "0/" + std::to_string(nodes_.size()) +
                                 " nodes are available: node(s) didn't match Pod's node selector."},
                 {"lastTransitionTime", formatRfc3339(clock_.wallNow())},
                 {"lastProbeTime", nullptr}};
    if (status.value("phase", "") == "Pending" &&
        !status.value("conditions", Json::array()).empty()) {
      return;  // already reported
    }
    status["phase"] = "Pending";
    status["conditions"] = Json::array({cond});
    pod["status"] = status;
    pod["metadata"].erase("resourceVersion");
    (void)store_.update(kPods, pod["metadata"].value("namespace", ""), pod, "status");
    return;
  }
  nextNode_ = (nextNode_ + 1) % nodes_.size();
  pod["spec"]["nodeName"] = best->name;
  auto r = store_.update(kPods, strAt(pod, "/metadata/namespace"), pod);
  if (r.ok()) {
    bound_[key] = best->name;
    log::debug("scheduler: bound pod", {{"pod", key}, {"node", best->name}});
  } else if (r.error().code == 409) {
    podChanged(key);  // changed meanwhile: look again
  } else if (r.error().code != 404) {
    log::warn("scheduler: bind failed", {{"pod", key}, {"error", r.error().str()}});
  }
}

void Kubelet::admit(const Json& pod, const std::string& node) {
  auto n =
      std::find_if(nodes_.begin(), nodes_.end(), [&](const NodeInfo& i) { return i.name == node; });
  if (n == nodes_.end()) {
    return;  // a node this cluster does not have: the pod stays Pending, as it would for real
  }
  Pod p;
  p.ns = strAt(pod, "/metadata/namespace");
  p.name = strAt(pod, "/metadata/name");
  p.uid = strAt(pod, "/metadata/uid");
  p.node = node;
  p.hostIp = n->ip;
  p.ip = allocateIp();
  p.object = pod;
  p.podStartTime = formatRfc3339(clock_.wallNow());
  Pod& ref = pods_[keyOf(p.ns, p.name)] = std::move(p);
  log::info("kubelet: pod admitted",
            {{"pod", keyOf(ref.ns, ref.name)}, {"node", node}, {"ip", ref.ip}});
  startContainer(ref, clock_.now());
  writeStatus(ref);
}

std::string Kubelet::allocateIp() {
  // Next free address after the last one handed out: an address is never reused while a pod
  // (or its process) holds it, and not soon after either.
  for (;;) {
    uint32_t ip = nextIp_;
    nextIp_ = nextIp_ >= kLastPodIp ? kFirstPodIp : nextIp_ + 1;
    uint32_t last = ip & 0xff;
    if (last == 0 || last == 255 || ipsInUse_.count(ip) != 0) {
      continue;
    }
    ipsInUse_.insert(ip);
    return ipText(ip);
  }
}

void Kubelet::startContainer(Pod& p, TimePoint now) {
  const Json container = firstContainer(p.object);
  p.readiness = Probe{container.value("readinessProbe", Json()), false, now, 0, 0, false};
  p.liveness = Probe{container.value("livenessProbe", Json()), false, now, 0, 0, true};
  p.ready = false;
  if (!opts_.podCommand.empty()) {
    auto env = resolveEnv(store_, p.object, container, p.ip, p.hostIp);
    if (!env.ok()) {
      p.state = State::Waiting;
      p.reason = "CreateContainerConfigError";
      p.message = env.error().message;
      p.retryAt = now + std::chrono::seconds(1);
      return;
    }
    std::string command =
        expandCommand(opts_.podCommand, {{"podName", p.name},
                                         {"podIP", p.ip},
                                         {"namespace", p.ns},
                                         {"image", container.value("image", "")},
                                         {"node", p.node},
                                         {"port", std::to_string(processPort(container))}});
    std::string logPath =
        opts_.stateDir.empty() ? "" : opts_.stateDir + "/pods/" + p.ns + "_" + p.name + ".log";
    auto pid = spawnProcess(command, *env, logPath);
    if (!pid.ok()) {
      p.state = State::Waiting;
      p.reason = "RunContainerError";
      p.message = pid.error().message;
      p.retryAt = now + opts_.restartBackoff;
      return;
    }
    p.pid = *pid;
    log::info("kubelet: container started",
              {{"pod", keyOf(p.ns, p.name)}, {"pid", std::to_string(p.pid)}, {"ip", p.ip}});
  }
  p.state = State::Running;
  p.reason.clear();
  p.message.clear();
  p.everStarted = true;
  p.incarnation++;
  p.runningSince = now;
  p.startedAt = formatRfc3339(clock_.wallNow());
  // initialDelaySeconds is honoured up to readyDelay: the sim keeps start-up fast.
  auto initial = [&](const Probe& pr) {
    auto d = std::chrono::milliseconds(
        pr.spec.is_object() ? pr.spec.value("initialDelaySeconds", 0) * 1000 : 0);
    return now + std::min(d, opts_.readyDelay);
  };
  p.readiness.nextAt = initial(p.readiness);
  p.liveness.nextAt = initial(p.liveness);
}

void Kubelet::containerExited(Pod& p, int exitCode, TimePoint now) {
  p.pid = -1;
  p.ready = false;
  p.incarnation++;
  Json term = {{"exitCode", exitCode},
               {"reason", exitCode == 0 ? "Completed" : "Error"},
               {"startedAt", p.startedAt},
               {"finishedAt", formatRfc3339(clock_.wallNow())},
               {"containerID", "containerd://" + p.uid}};
  std::string policy = strAt(p.object, "/spec/restartPolicy", "Always");
  if (p.terminating || policy == "Never" || (policy == "OnFailure" && exitCode == 0)) {
    p.state = State::Terminated;
    p.terminated = term;
    return;
  }
  log::info("kubelet: container exited, restarting",
            {{"pod", keyOf(p.ns, p.name)}, {"exitCode", std::to_string(exitCode)}});
  // A container that ran for a good while starts its crash back-off afresh.
  if (now - p.runningSince > 2 * opts_.restartBackoffMax) {
    p.crashes = 0;
  }
  p.lastTerminated = term;
  p.restartCount++;
  auto delay = opts_.restartBackoff * (1 << std::min(p.crashes, 16));
  p.crashes++;
  p.state = State::BackOff;
  p.reason = "CrashLoopBackOff";
  p.message = "back-off restarting failed container";
  p.retryAt = now + std::min<Duration>(delay, opts_.restartBackoffMax);
}

void Kubelet::beginTermination(Pod& p, TimePoint now) {
  if (p.terminating) {
    return;
  }
  p.terminating = true;
  p.ready = false;
  auto grace = gracePeriod(p.object);
  p.killAt = now + grace;
  log::info("kubelet: terminating pod",
            {{"pod", keyOf(p.ns, p.name)}, {"grace", std::to_string(grace.count()) + "s"}});
  if (p.pid > 0) {
    signalProcess(p.pid, grace.count() == 0 ? SIGKILL : SIGTERM);
    p.killed = grace.count() == 0;
  }
}

void Kubelet::finishTermination(Pod& p) {
  p.finished = true;
  if (p.state != State::Terminated) {
    // No process: the simulated container stops cleanly at once.
    p.state = State::Terminated;
    p.terminated = {{"exitCode", 0},
                    {"reason", "Completed"},
                    {"startedAt", p.startedAt},
                    {"finishedAt", formatRfc3339(clock_.wallNow())}};
  }
  if (p.gone) {
    return;
  }
  writeStatus(p);
  // The kubelet's final delete: completes a graceful deletion (a no-op while finalizers remain).
  Status s = store_.remove(kPods, p.ns, p.name);
  if (!s.ok() && s.error().code != 404) {
    log::warn("kubelet: final delete failed",
              {{"pod", keyOf(p.ns, p.name)}, {"error", s.error().str()}});
  }
}

void Kubelet::tick(Pod& p, TimePoint now) {
  int code = 0;
  if (p.pid > 0 && reapProcess(p.pid, code)) {
    containerExited(p, code, now);
  }
  if (p.terminating) {
    if (p.pid > 0 && !p.killed && now >= p.killAt) {
      log::info("kubelet: grace period over, killing", {{"pod", keyOf(p.ns, p.name)}});
      signalProcess(p.pid, SIGKILL);
      p.killed = true;
    }
    if (p.pid <= 0 && !p.finished) {
      finishTermination(p);
    }
    return;
  }
  if ((p.state == State::Waiting || p.state == State::BackOff) && now >= p.retryAt) {
    startContainer(p, now);
  }
  if (p.state == State::Running) {
    scheduleProbes(p, now);
    bool ready = p.readiness.spec.is_object() ? p.readiness.passing
                                              : now - p.runningSince >= opts_.readyDelay;
    p.ready = ready && !p.forcedNotReady;
  } else {
    p.ready = false;
  }
  writeStatus(p);
}

}  // namespace waha::sim::workloads
