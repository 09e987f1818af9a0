// /ws through the hub: one session's socket relays both ways with its worker; `session=*` merges
// every ready worker's stream. The "workers" are Beast servers on loopback accepting upgrades.

#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <mutex>

#include "common/base64.h"
#include "hub/hub_server.h"
#include "support/fake_kube_client.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::test;
using Json = nlohmann::json;

namespace {

const kube::ResourceRef kSessions{"waha.io", "v1alpha1", "wahasessions", true};
const kube::ResourceRef kClusters{"waha.io", "v1alpha1", "wahaclusters", true};
const kube::ResourceRef kPods{"", "v1", "pods", true};

// A worker's /ws: greets with its name and the query it was asked, then echoes.
struct Worker {
  std::string name;
  std::unique_ptr<http::HttpServer> server;
  std::mutex mu;
  std::vector<std::shared_ptr<http::WebSocket>> sockets;
  std::string lastKey;

  Worker(std::string n, const std::string& host, int port) : name(std::move(n)) {
    http::ServerOptions o;
    o.host = host;
    o.port = port;
    server = http::makeBeastServer(o);
    started = server
                  ->start([this](http::Request& req, std::shared_ptr<http::Exchange> ex) {
                    {
                      std::lock_guard<std::mutex> lk(mu);
                      lastKey = req.header("X-Api-Key");
                    }
                    auto ws = ex->acceptWebSocket();
                    if (!ws) {
                      ex->respond(http::Response::text(404, "no"));
                      return;
                    }
                    std::weak_ptr<http::WebSocket> weak = ws;
                    ws->start(
                        [weak](http::WsMessage m) {
                          if (auto s = weak.lock()) {
                            s->send({"echo:" + m.data, false});
                          }
                        },
                        [](int, std::string) {});
                    ws->send({name + "?" + req.query, false});
                    std::lock_guard<std::mutex> lk(mu);
                    sockets.push_back(ws);
                  })
                  .ok();
  }
  bool started = false;
  ~Worker() { server->stop(); }
};

class NoUpstream : public http::UpstreamPool {
 public:
  void forward(const http::UpstreamTarget&, http::UpstreamRequest,
               std::shared_ptr<http::Exchange> ex, http::ForwardHooks) override {
    ex->respond(http::Response::json(502, "{}"));
  }
  void fetch(const http::UpstreamTarget&, http::UpstreamRequest,
             std::function<void(Result<http::Response>)> done) override {
    done(Error::make(0, "", "no upstream"));
  }
  void stop() override {}
};

struct Received {
  std::mutex mu;
  std::vector<std::string> messages;
  bool closed = false;
  std::size_t count() {
    std::lock_guard<std::mutex> lk(mu);
    return messages.size();
  }
  bool has(const std::string& m) {
    std::lock_guard<std::mutex> lk(mu);
    return std::find(messages.begin(), messages.end(), m) != messages.end();
  }
};

Json pod(const std::string& name, const std::string& ip) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"labels", {{"waha.io/cluster", "pool"}, {"app.kubernetes.io/component", "worker"}}}}},
          {"status", {{"podIP", ip}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
}

}  // namespace

TEST_CASE("hub /ws: one session's worker both ways; session=* merges every worker") {
  // Two workers on two loopback addresses, one port number (a worker port is cluster-wide).
  Worker w1("w-1", "127.0.0.1", 0);
  REQUIRE(w1.started);
  auto w2 = std::make_unique<Worker>("w-2", "127.0.0.2", w1.server->port());
  if (!w2->started) {
    w2.reset();  // the same port was not free on 127.0.0.2: merge over one worker only
  }
  FakeKubeClient kube;
  kube.put(kClusters, {{"apiVersion", "waha.io/v1alpha1"},
                       {"kind", "WahaCluster"},
                       {"metadata", {{"name", "pool"}, {"namespace", "ns"}}},
                       {"spec", Json::object()}});
  kube.put(kPods, pod("w-1", "127.0.0.1"));
  kube.put(kSessions, {{"apiVersion", "waha.io/v1alpha1"},
                       {"kind", "WahaSession"},
                       {"metadata", {{"name", "alpha"}, {"namespace", "ns"}}},
                       {"spec", {{"clusterRef", {{"name", "pool"}}}}},
                       {"status", {{"worker", "w-1"}, {"workerIP", "127.0.0.1"}}}});
  NoUpstream upstream;
  auto connector = http::makeBeastWsConnector(1);
  StdRandom random;
  metrics::Metrics metrics;
  hub::HubOptions o;
  o.cluster = "pool";
  o.ns = "ns";
  o.workerPort = w1.server->port();
  hub::HubServer hub(kube, upstream, connector.get(), SteadyClock::instance(), random, metrics, o);
  REQUIRE(hub.start().ok());
  REQUIRE(waitFor([&] { return hub.ready(); }, std::chrono::seconds(10)));
  std::string base = "ws://127.0.0.1:" + std::to_string(hub.port());

  // `got` is shared with the socket's callbacks, which may run after the caller's scope ends.
  auto open = [&](const std::string& query, const std::shared_ptr<Received>& got) {
    std::promise<Result<std::shared_ptr<http::WebSocket>>> p;
    connector->connect({base + "/ws?" + query, {}, std::chrono::seconds(5)},
                       [&p](Result<std::shared_ptr<http::WebSocket>> r) { p.set_value(r); });
    auto r = p.get_future().get();
    REQUIRE(r.ok());
    (*r)->start(
        [got](http::WsMessage m) {
          std::lock_guard<std::mutex> lk(got->mu);
          got->messages.push_back(m.data);
        },
        [got](int, std::string) {
          std::lock_guard<std::mutex> lk(got->mu);
          got->closed = true;
        });
    return *r;
  };

  auto one = std::make_shared<Received>();
  auto s1 = open("session=alpha&events=message", one);
  REQUIRE(waitFor([&] { return one->has("w-1?session=alpha&events=message"); },
                  std::chrono::seconds(5)));
  s1->send({"hi", false});
  REQUIRE(waitFor([&] { return one->has("echo:hi"); }, std::chrono::seconds(5)));

  if (w2) {
    kube.put(kPods, pod("w-2", "127.0.0.2"));
    REQUIRE(waitFor([&] { return hub.ready() && !kube.objects(kPods, "ns").empty(); },
                    std::chrono::seconds(5)));
  }
  std::size_t workers = w2 ? 2 : 1;
  Received all;
  // The pod informer may deliver w-2 a moment later: retry until both greet.
  REQUIRE(waitFor(
      [&] {
        auto attempt = std::make_shared<Received>();
        auto s = open("session=*", attempt);
        bool ok = waitFor([&] { return attempt->count() >= workers; }, std::chrono::seconds(2));
        s->close();
        if (ok) {
          std::lock_guard<std::mutex> lk(attempt->mu);
          all.messages = attempt->messages;
        }
        return ok;
      },
      std::chrono::seconds(10)));
  CHECK(std::find(all.messages.begin(), all.messages.end(), "w-1?session=*") != all.messages.end());
  s1->close();
  hub.stop();
  connector->stop();
}
