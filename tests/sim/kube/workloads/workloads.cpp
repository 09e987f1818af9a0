#include "workloads/workloads.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "common/log.h"
#include "object_store.h"
#include "workloads/controllers.h"
#include "workloads/kubelet.h"
#include "workloads/objects.h"

namespace waha::sim {

using namespace workloads;

namespace {

// Controller keys are "D|ns/name" (Deployment) or "R|ns/name" (ReplicaSet).
std::string controllerKey(char kind, const Json& obj) {
  return std::string(1, kind) + "|" + keyOf(obj);
}

std::vector<NodeInfo> makeNodes(int count) {
  std::vector<NodeInfo> nodes;
  for (int i = 1; i <= std::max(1, count); ++i) {
    std::string name = "node-" + std::to_string(i);
    // Nodes live in 127.0.1.0/24, below the pods' 127.1.0.1 and up.
    nodes.push_back({name,
                     "127.0.1." + std::to_string(i),
                     {{"kubernetes.io/hostname", name},
                      {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},
                      {"topology.kubernetes.io/zone", "zone-" + std::to_string((i - 1) % 3 + 1)}}});
  }
  return nodes;
}

Json nodeObject(const NodeInfo& n, const std::string& now) {
  Json capacity = {
      {"cpu", "8"}, {"memory", "32Gi"}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}};
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", n.name}, {"labels", n.labels}}},
          {"spec", {{"podCIDR", "127.1.0.0/16"}}},
          {"status",
           {{"capacity", capacity},
            {"allocatable", capacity},
            {"addresses", Json::array({{{"type", "InternalIP"}, {"address", n.ip}},
                                       {{"type", "Hostname"}, {"address", n.name}}})},
            {"conditions", Json::array({{{"type", "Ready"},
                                         {"status", "True"},
                                         {"reason", "KubeletReady"},
                                         {"message", "kubelet is posting ready status"},
                                         {"lastHeartbeatTime", now},
                                         {"lastTransitionTime", now}}})},
            {"nodeInfo",
             {{"kubeletVersion", "v1.32.0"},
              {"containerRuntimeVersion", "kube-sim://1"},
              {"operatingSystem", "linux"},
              {"architecture", "amd64"},
              {"osImage", "kube-sim"}}}}}};
}

}  // namespace

struct Workloads::Impl {
  Impl(ObjectStore& s, WorkloadOptions o)
      : store(s),
        opts(std::move(o)),
        nodes(makeNodes(opts.nodes)),
        clock(SteadyClock::instance()),
        replicaSets(store, random, clock),
        deployments(store, clock),
        kubelet(store, opts, nodes) {}

  void enqueue(const std::string& key) {
    {
      std::lock_guard<std::mutex> lk(mu);
      if (queued.insert(key).second) {
        queue.push_back(key);
      }
    }
    cv.notify_one();
  }

  void enqueueOwner(const Json& obj, const char* ownerKind, char kind) {
    Json ref = controllerOf(obj);
    if (ref.is_object() && ref.value("kind", "") == ownerKind) {
      enqueue(std::string(1, kind) + "|" +
              keyOf(strAt(obj, "/metadata/namespace"), ref.value("name", "")));
    }
  }

  void run();
  void reconcile(const std::string& key);
  void createNodes();

  ObjectStore& store;
  WorkloadOptions opts;
  std::vector<NodeInfo> nodes;
  Clock& clock;
  StdRandom random;
  ReplicaSetController replicaSets;
  DeploymentController deployments;
  Kubelet kubelet;

  std::mutex mu;  // guards the queue; never held while calling the store
  std::condition_variable cv;
  std::deque<std::string> queue;
  std::set<std::string> queued;
  std::multimap<TimePoint, std::string> later;
  bool stopping = false;
  bool started = false;
  std::thread thread;
  std::vector<uint64_t> subscriptions;
};

void Workloads::Impl::run() {
  for (;;) {
    std::string key;
    {
      std::unique_lock<std::mutex> lk(mu);
      auto next = later.empty() ? clock.now() + std::chrono::seconds(1) : later.begin()->first;
      cv.wait_until(lk, next, [&] { return stopping || !queue.empty(); });
      if (stopping) {
        return;
      }
      for (auto now = clock.now(); !later.empty() && later.begin()->first <= now;) {
        if (queued.insert(later.begin()->second).second) {
          queue.push_back(later.begin()->second);
        }
        later.erase(later.begin());
      }
      if (queue.empty()) {
        continue;
      }
      key = queue.front();
      queue.pop_front();
      queued.erase(key);
    }
    reconcile(key);
  }
}

void Workloads::Impl::reconcile(const std::string& key) {
  auto slash = key.find('/');
  std::string ns = key.substr(2, slash - 2);
  std::string name = key.substr(slash + 1);
  Result<Action> r =
      key[0] == 'D' ? deployments.reconcile(ns, name) : replicaSets.reconcile(ns, name);
  Duration after{0};
  if (!r.ok()) {
    // Conflicts are routine (someone wrote first); anything else is worth a line.
    if (r.error().code != 409) {
      log::warn("controller: reconcile failed", {{"key", key}, {"error", r.error().str()}});
    }
    after = std::chrono::milliseconds(r.error().code == 409 ? 10 : 500);
  } else {
    after = r->requeueAfter;
  }
  if (after > Duration::zero()) {
    std::lock_guard<std::mutex> lk(mu);
    later.emplace(clock.now() + after, key);
  }
}

void Workloads::Impl::createNodes() {
  std::string now = formatRfc3339(clock.wallNow());
  for (const auto& n : nodes) {
    Json obj = nodeObject(n, now);
    auto created = store.create(kNodes, "", obj);
    if (!created.ok() && created.error().code != 409) {
      // The scheduler works from its own node list; the objects are for kubectl's eyes.
      log::warn("workloads: cannot create node object",
                {{"node", n.name}, {"error", created.error().str()}});
      continue;
    }
    auto current = created.ok() ? created : store.get(kNodes, "", n.name);
    if (current.ok()) {
      Json withStatus = *current;
      withStatus["status"] = obj["status"];
      withStatus["metadata"].erase("resourceVersion");
      (void)store.update(kNodes, "", withStatus, "status");
    }
  }
}

Workloads::Workloads(ObjectStore& store, WorkloadOptions opts)
    : impl_(std::make_unique<Impl>(store, std::move(opts))) {}

Workloads::~Workloads() { stop(); }

void Workloads::start() {
  Impl& im = *impl_;
  if (im.started) {
    return;
  }
  im.started = true;
  im.createNodes();
  im.kubelet.start();
  im.thread = std::thread([&im] { im.run(); });
  im.subscriptions.push_back(im.store.subscribe(
      kDeployments, [&im](const StoreEvent& e) { im.enqueue(controllerKey('D', e.object)); }));
  im.subscriptions.push_back(im.store.subscribe(kReplicaSets, [&im](const StoreEvent& e) {
    im.enqueue(controllerKey('R', e.object));
    im.enqueueOwner(e.object, "Deployment", 'D');
  }));
  im.subscriptions.push_back(im.store.subscribe(kPods, [&im](const StoreEvent& e) {
    im.kubelet.podChanged(keyOf(e.object));
    im.enqueueOwner(e.object, "ReplicaSet", 'R');
  }));
  // Objects that existed before we subscribed.
  for (const auto& [gvr, kind] : {std::pair<GVR, char>{kDeployments, 'D'}, {kReplicaSets, 'R'}}) {
    if (auto all = im.store.list(gvr, ""); all.ok()) {
      for (const auto& o : *all) {
        im.enqueue(controllerKey(kind, o));
      }
    }
  }
  if (auto pods = im.store.list(kPods, ""); pods.ok()) {
    for (const auto& p : *pods) {
      im.kubelet.podChanged(keyOf(p));
    }
  }
  log::info("workloads: started",
            {{"nodes", std::to_string(im.nodes.size())},
             {"podCommand", im.opts.podCommand.empty() ? "none" : im.opts.podCommand}});
}

void Workloads::stop() {
  Impl& im = *impl_;
  if (!im.started) {
    return;
  }
  im.started = false;
  for (auto id : im.subscriptions) {
    im.store.unsubscribe(id);
  }
  im.subscriptions.clear();
  {
    std::lock_guard<std::mutex> lk(im.mu);
    im.stopping = true;
  }
  im.cv.notify_all();
  if (im.thread.joinable()) {
    im.thread.join();
  }
  im.kubelet.stop();
}

Status Workloads::killProcess(const std::string& ns, const std::string& pod) {
  return impl_->kubelet.killProcess(ns, pod);
}

Status Workloads::setNotReady(const std::string& ns, const std::string& pod, bool on) {
  return impl_->kubelet.setNotReady(ns, pod, on);
}

}  // namespace waha::sim
