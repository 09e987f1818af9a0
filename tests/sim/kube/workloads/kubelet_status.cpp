// The kubelet's probing and status reporting.

#include <signal.h>

#include <algorithm>

#include "common/log.h"
#include "workloads/kubelet.h"
#include "workloads/objects.h"
#include "workloads/pod_process.h"

namespace waha::sim::workloads {
namespace {

std::chrono::milliseconds probePeriod(const Json& probe, std::chrono::milliseconds cap) {
  auto period =
      std::chrono::milliseconds(std::max<int64_t>(1, probe.value("periodSeconds", 10)) * 1000);
  return std::min(period, cap);
}

}  // namespace

void Kubelet::scheduleProbes(Pod& p, TimePoint now) {
  const Json container = firstContainer(p.object);
  for (Probe* pr : {&p.readiness, &p.liveness}) {
    if (!pr->spec.is_object() || pr->inFlight || now < pr->nextAt) {
      continue;
    }
    pr->inFlight = true;
    pr->nextAt = now + probePeriod(pr->spec, opts_.probePeriodCap);
    ProbeJob job{keyOf(p.ns, p.name), p.incarnation, pr == &p.liveness,
                 probeTarget(pr->spec, container, p.ip)};
    {
      std::lock_guard<std::mutex> lk(probeMu_);
      probeJobs_.push_back(std::move(job));
    }
    probeCv_.notify_one();
  }
}

// Probes block on sockets, so they run here and post their results back to the loop.
void Kubelet::probeLoop() {
  for (;;) {
    ProbeJob job;
    {
      std::unique_lock<std::mutex> lk(probeMu_);
      probeCv_.wait(lk, [&] { return probeStopping_ || !probeJobs_.empty(); });
      if (probeStopping_) {
        return;
      }
      job = std::move(probeJobs_.front());
      probeJobs_.pop_front();
    }
    bool ok = runProbe(job.target);
    post([this, job, ok] { probeResult(job.key, job.incarnation, job.liveness, ok); });
  }
}

void Kubelet::probeResult(const std::string& key, uint64_t incarnation, bool liveness, bool ok) {
  auto it = pods_.find(key);
  if (it == pods_.end()) {
    return;
  }
  Pod& p = it->second;
  Probe& pr = liveness ? p.liveness : p.readiness;
  if (p.incarnation != incarnation) {
    pr.inFlight = false;  // the container restarted since: a stale answer
    return;
  }
  pr.inFlight = false;
  if (ok) {
    pr.failures = 0;
    if (++pr.successes >= std::max<int64_t>(1, pr.spec.value("successThreshold", 1))) {
      pr.passing = true;
    }
    return;
  }
  pr.successes = 0;
  if (++pr.failures < std::max<int64_t>(1, pr.spec.value("failureThreshold", 3))) {
    return;
  }
  pr.passing = false;
  if (liveness && p.state == State::Running && !p.terminating) {
    log::info("kubelet: liveness probe failed, restarting", {{"pod", key}});
    if (p.pid > 0) {
      signalProcess(p.pid, SIGKILL);
    } else {
      containerExited(p, 137, clock_.now());
    }
  }
}

Json Kubelet::buildStatus(Pod& p) {
  std::string now = formatRfc3339(clock_.wallNow());
  auto cond = [&](const std::string& type, bool ok, const std::string& reason,
                  const std::string& msg) {
    auto& t = p.transitions[type];
    if (t.second.empty() || t.first != ok) {
      t = {ok, now};
    }
    Json c = {{"type", type},
              {"status", ok ? "True" : "False"},
              {"lastProbeTime", nullptr},
              {"lastTransitionTime", t.second}};
    if (!ok && !reason.empty()) {
      c["reason"] = reason;
      c["message"] = msg;
    }
    return c;
  };
  const Json containers = p.object["spec"].value("containers", Json::array());
  std::string unready = "containers with unready status: [";
  for (size_t i = 0; i < containers.size(); ++i) {
    unready += (i > 0 ? " " : "") + containers[i].value("name", "");
  }
  unready += "]";
  bool terminal = p.state == State::Terminated;
  Json status = {
      {"phase", !p.everStarted ? "Pending"
                : terminal     ? (p.terminated.value("exitCode", 1) == 0 ? "Succeeded" : "Failed")
                               : "Running"},
      {"conditions",
       Json::array(
           {cond("PodReadyToStartContainers", !terminal, "", ""), cond("Initialized", true, "", ""),
            cond("Ready", p.ready, terminal ? "PodCompleted" : "ContainersNotReady", unready),
            cond("ContainersReady", p.ready, terminal ? "PodCompleted" : "ContainersNotReady",
                 unready),
            cond("PodScheduled", true, "", "")})},
      {"hostIP", p.hostIp},
      {"hostIPs", Json::array({{{"ip", p.hostIp}}})},
      {"podIP", p.ip},
      {"podIPs", Json::array({{{"ip", p.ip}}})},
      {"startTime", p.podStartTime},
      {"qosClass", "BestEffort"}};
  Json statuses = Json::array();
  for (size_t i = 0; i < containers.size(); ++i) {
    // The first container is the one that runs (or is simulated); the others mirror it.
    Json state;
    if (p.state == State::Running) {
      state = {{"running", {{"startedAt", p.startedAt}}}};
    } else if (terminal) {
      state = {{"terminated", p.terminated}};
    } else {
      state = {{"waiting", {{"reason", p.reason}}}};
      if (!p.message.empty()) {
        state["waiting"]["message"] = p.message;
      }
    }
    Json cs = {{"name", containers[i].value("name", "")},
               {"image", containers[i].value("image", "")},
               {"imageID", ""},
               {"containerID", "containerd://" + p.uid + "-" + std::to_string(i)},
               {"ready", p.ready},
               {"started", p.state == State::Running},
               {"restartCount", i == 0 ? p.restartCount : 0},
               {"state", state},
               {"lastState", i == 0 && p.lastTerminated.is_object()
                                 ? Json{{"terminated", p.lastTerminated}}
                                 : Json::object()}};
    statuses.push_back(std::move(cs));
  }
  status["containerStatuses"] = statuses;
  return status;
}

void Kubelet::writeStatus(Pod& p) {
  if (p.gone) {
    return;
  }
  Json status = buildStatus(p);
  if (status == p.lastStatus) {
    return;
  }
  Json obj = p.object;
  obj["status"] = status;
  obj["metadata"].erase("resourceVersion");
  auto r = store_.update(kPods, p.ns, obj, "status");
  if (r.ok()) {
    p.lastStatus = std::move(status);
    p.object = std::move(*r);
  } else if (r.error().code == 404) {
    p.gone = true;
    beginTermination(p, clock_.now());
  } else if (r.error().str() != p.lastError) {
    // Retried every tick until it works; logged once per distinct error.
    p.lastError = r.error().str();
    log::warn("kubelet: status update failed",
              {{"pod", keyOf(p.ns, p.name)}, {"error", p.lastError}});
  }
}

}  // namespace waha::sim::workloads
