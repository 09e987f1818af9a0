#pragma once

// kube-sim's REST face: discovery, CRUD/PATCH/WATCH on every served resource, Tables, bearer-token
// auth, plus the /admin fault endpoints. Store calls are short, so they run on the I/O threads;
// only injected latency goes through a delay thread.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "http/server.h"
#include "memory_store.h"

namespace waha::sim {

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  int httpPort = 0;
  int httpsPort = 0;
  std::string token;
  int threads = 2;
  std::chrono::milliseconds bookmarkInterval{1000};
  std::chrono::seconds maxWatchTimeout{1800};
};

// Pod faults are carried out by the simulated kubelet when it is built in.
struct PodFaultHooks {
  std::function<Status(const std::string& ns, const std::string& pod)> killProcess;
  std::function<Status(const std::string& ns, const std::string& pod, bool on)> setNotReady;
};

class DelayQueue;

class ApiServer {
 public:
  ApiServer(MemoryStore& store, ApiServerOptions opts);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  Status start();
  void stop();
  int httpPort() const;
  int httpsPort() const;
  const std::string& caPem() const { return caPem_; }
  void setPodFaultHooks(PodFaultHooks hooks) { podHooks_ = std::move(hooks); }

 private:
  struct WatchEntry {
    std::shared_ptr<http::ResponseStream> stream;
    std::chrono::steady_clock::time_point deadline;
  };

  void handle(http::Request& req, std::shared_ptr<http::Exchange> ex);
  void route(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  http::Response discovery(const http::Request& req, bool& handled);
  void resource(const http::Request& req, std::shared_ptr<http::Exchange> ex, bool& handled);
  http::Response admin(const http::Request& req);
  void serveWatch(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                  const ResourceInfo& info, const std::string& ns);
  void serveCollection(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                       const ResourceInfo& info, const std::string& ns);
  void serveItem(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                 const ResourceInfo& info, const std::string& ns, const std::string& name,
                 const std::string& sub);
  void serveWrite(const http::Request& req, std::shared_ptr<http::Exchange> ex,
                  const ResourceInfo& info, const std::string& ns, const std::string& name,
                  const std::string& sub);
  void tick();

  MemoryStore& store_;
  ApiServerOptions opts_;
  std::string caPem_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<http::HttpServer> https_;
  std::unique_ptr<DelayQueue> delay_;
  PodFaultHooks podHooks_;

  std::mutex watchMu_;
  std::map<uint64_t, WatchEntry> watchEntries_;
  std::atomic<bool> running_{false};
  std::thread ticker_;

  // Faults.
  std::atomic<int> latencyMs_{0};
  std::atomic<int> failPercent_{0};
  std::atomic<int> failCode_{500};
  std::atomic<int> retryAfterSeconds_{1};
  std::atomic<uint64_t> writeCounter_{0};
};

// Helpers shared by the route files.
http::Response jsonResponse(int code, const Json& body);
http::Response errorResponse(const Error& e);
bool wantsTable(const http::Request& req);
// Table for a list of objects (CRD printer columns, pods, deployments, or NAME/AGE).
Json toTable(const ResourceInfo& info, const std::vector<Json>& items, const Json& listMeta,
             bool withColumns = true);
// Self-signed CA and a serving certificate for 127.0.0.1/localhost (PEM), made at start.
struct TlsMaterial {
  std::string caCertPem;
  std::string certPem;
  std::string keyPem;
};
Result<TlsMaterial> makeTlsMaterial();
// Parses a request body: JSON, or YAML (apply-patch+yaml) converted to JSON.
Result<Json> parseBody(const std::string& body, bool allowYaml);

}  // namespace waha::sim
