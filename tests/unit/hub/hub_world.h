#pragma once

// The hub's unit-test world: HubServer over real loopback HTTP, FakeKubeClient as the API server
// and a fake UpstreamPool standing in for the workers (shared by the hub_*_test executables).

#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <mutex>
#include <thread>

#include "common/base64.h"
#include "hub/hub_server.h"
#include "support/fake_kube_client.h"
#include "support/test_http.h"
#include "support/wait.h"

namespace waha::test::hubworld {

using Json = nlohmann::json;

const kube::ResourceRef kSessions{"waha.io", "v1alpha1", "wahasessions", true};
const kube::ResourceRef kClusters{"waha.io", "v1alpha1", "wahaclusters", true};
const kube::ResourceRef kPods{"", "v1", "pods", true};
const kube::ResourceRef kSecrets{"", "v1", "secrets", true};

// Answers every forward as the worker at target.host would, naming itself in X-Waha-Worker.
class FakeUpstream : public http::UpstreamPool {
 public:
  struct Sent {
    http::UpstreamTarget target;
    http::UpstreamRequest request;
  };
  void forward(const http::UpstreamTarget& target, http::UpstreamRequest request,
               std::shared_ptr<http::Exchange> exchange, http::ForwardHooks hooks) override {
    http::Response r = http::Response::json(200, Json({{"path", request.target}}).dump());
    r.headers.set("X-Waha-Worker", target.host);
    record(target, std::move(request));
    exchange->respond(r);
    if (hooks.onDone) {
      hooks.onDone({200, true, std::chrono::duration<double>(0.001), ""});
    }
  }
  void fetch(const http::UpstreamTarget& target, http::UpstreamRequest request,
             std::function<void(Result<http::Response>)> done) override {
    record(target, request);
    std::lock_guard<std::mutex> lk(mu_);
    auto it = lists_.find(target.host);
    if (it == lists_.end()) {
      return done(Result<http::Response>(Error::make(0, "", "refused")));
    }
    http::Response r = http::Response::json(200, it->second);
    r.headers.set("X-Waha-Worker", target.host);
    done(std::move(r));
  }
  void stop() override {}

  void setAnswer(const std::string& host, const Json& body) {
    std::lock_guard<std::mutex> lk(mu_);
    lists_[host] = body.dump();
  }
  std::vector<Sent> sent() {
    std::lock_guard<std::mutex> lk(mu_);
    return sent_;
  }

 private:
  void record(const http::UpstreamTarget& t, http::UpstreamRequest r) {
    std::lock_guard<std::mutex> lk(mu_);
    sent_.push_back({t, std::move(r)});
  }
  std::mutex mu_;
  std::vector<Sent> sent_;
  std::map<std::string, std::string> lists_;
};

Json pod(const std::string& name, const std::string& ip, bool ready) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"labels", {{"waha.io/cluster", "pool"}, {"app.kubernetes.io/component", "worker"}}}}},
          {"status",
           {{"podIP", ip},
            {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

Json session(const std::string& name, const std::string& worker, const std::string& ip,
             const std::string& cluster = "pool") {
  Json s = {{"apiVersion", "waha.io/v1alpha1"},
            {"kind", "WahaSession"},
            {"metadata", {{"name", name}, {"namespace", "ns"}}},
            {"spec", {{"clusterRef", {{"name", cluster}}}}}};
  if (!worker.empty()) {
    s["status"] = {
        {"phase", "Running"}, {"worker", worker}, {"workerIP", ip}, {"wahaStatus", "SCAN_QR_CODE"}};
  }
  return s;
}

struct World {
  FakeKubeClient kube;
  FakeUpstream upstream;
  StdRandom random;
  metrics::Metrics metrics;
  std::unique_ptr<hub::HubServer> hub;
  std::string base;
  std::map<std::string, std::string> key{{"X-Api-Key", "secret-key"}};

  explicit World(std::chrono::seconds createWait = std::chrono::seconds(5)) {
    kube.put(kSecrets, {{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata", {{"name", "key"}, {"namespace", "ns"}}},
                        {"data", {{"api-key", base64Encode("secret-key")}}}});
    kube.put(kClusters, {{"apiVersion", "waha.io/v1alpha1"},
                         {"kind", "WahaCluster"},
                         {"metadata", {{"name", "pool"}, {"namespace", "ns"}}},
                         {"spec", {{"apiKeySecretRef", {{"name", "key"}, {"key", "api-key"}}}}}});
    kube.put(kPods, pod("w-1", "10.0.0.1", true));
    kube.put(kPods, pod("w-2", "10.0.0.2", true));
    kube.put(kSessions, session("alpha", "w-1", "10.0.0.1"));
    kube.put(kSessions, session("beta", "w-2", "10.0.0.2"));
    kube.put(kSessions, session("waiting", "", ""));
    kube.put(kSessions, session("other", "w-1", "10.0.0.1", "another-cluster"));
    hub::HubOptions o;
    o.cluster = "pool";
    o.ns = "ns";
    o.createWait = createWait;
    hub = std::make_unique<hub::HubServer>(kube, upstream, nullptr, SteadyClock::instance(), random,
                                           metrics, o);
    REQUIRE(hub->start().ok());
    base = "http://127.0.0.1:" + std::to_string(hub->port());
    REQUIRE(waitFor([&] { return hub->ready(); }, std::chrono::seconds(10)));
  }
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  std::map<std::string, std::string> headers = {}) {
    if (headers.empty()) {
      headers = key;
    }
    return httpRequest(method, base + path, body, headers);
  }
  // The WahaSession named `name` as the API server holds it now (null when absent).
  Json find(const std::string& name) {
    for (const auto& s : kube.objects(kSessions, "ns")) {
      if (s["metadata"]["name"] == name) {
        return s;
      }
    }
    return nullptr;
  }
};

// Plays the operator on another thread: once `written` holds over the WahaSession `name` (the
// hub's write arrived), writes `status` as the operator would after its worker call (with the
// object's generation as observed, unless `status` says otherwise); `reported` is set as that
// write starts, so a test can tell an answer did not come before the status.
class FakeOperator {
 public:
  FakeOperator(World& w, const std::string& name, std::function<bool(const Json&)> written,
               Json status)
      : thread_([&w, name, written = std::move(written), status = std::move(status), this] {
          auto arrived = [&] {
            Json obj = w.find(name);
            return obj.is_object() && written(obj);
          };
          if (!waitFor(arrived, std::chrono::seconds(10))) {
            return;
          }
          Json obj = w.find(name);
          obj["status"] = status;
          if (!status.contains("observedGeneration")) {
            // The operator has acted on what the hub wrote.
            obj["status"]["observedGeneration"] = obj["metadata"].value("generation", 1);
          }
          reported_ = true;  // before the write: the hub may answer before put() returns
          w.kube.put(kSessions, obj);
        }) {}
  ~FakeOperator() { thread_.join(); }
  bool reported() const { return reported_; }

 private:
  std::atomic<bool> reported_{false};
  std::thread thread_;
};

// A WahaSession's status as the operator writes it.
inline Json status(const std::string& phase, const std::string& wahaStatus,
                   const std::string& worker = "", const std::string& ip = "",
                   std::int64_t observedGeneration = 0) {
  Json s = {{"phase", phase}};
  if (!worker.empty()) {
    s["worker"] = worker;
    s["workerIP"] = ip;
  }
  if (!wahaStatus.empty()) {
    s["wahaStatus"] = wahaStatus;
  }
  if (observedGeneration != 0) {
    s["observedGeneration"] = observedGeneration;
  }
  return s;
}

}  // namespace waha::test::hubworld
