// kube-sim benchmark: write rate over HTTP keep-alive connections, and 100 concurrent watches
// over 10k objects (initial state plus a burst of writes fanned out to every watch).
// Usage: kube-sim-bench [--connections N] [--seconds S] [--objects N] [--watches N]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api_server.h"
#include "common/log.h"

namespace {

using Clock = std::chrono::steady_clock;
const std::string kToken = "bench-token";

// A minimal HTTP/1.1 keep-alive client: the benchmark measures the server, not a client library.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() { close(fd_); }
  bool ok() const { return ok_; }
  void send(const std::string& method, const std::string& path, const std::string& body) {
    std::string req =
        method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    size_t off = 0;
    while (off < req.size()) {
      ssize_t n = write(fd_, req.data() + off, req.size() - off);
      if (n <= 0) {
        ok_ = false;
        return;
      }
      off += static_cast<size_t>(n);
    }
  }
  // Reads one Content-Length response; returns the status code (0 on failure).
  int readResponse() {
    for (;;) {
      size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        int status = std::atoi(buf_.c_str() + 9);
        size_t cl = buf_.find("Content-Length: ");
        if (cl == std::string::npos || cl > end) {
          cl = buf_.find("content-length: ");
        }
        size_t len = cl != std::string::npos && cl < end
                         ? std::strtoul(buf_.c_str() + cl + 16, nullptr, 10)
                         : 0;
        if (buf_.size() >= end + 4 + len) {
          buf_.erase(0, end + 4 + len);
          return status;
        }
      }
      if (!fill()) {
        return 0;
      }
    }
  }
  // Streams a watch and counts events until `want` arrived; returns false on EOF.
  bool countEvents(size_t want, std::atomic<size_t>& counter) {
    size_t seen = 0;
    const std::string marker = "{\"type\":\"";
    size_t scanned = 0;
    while (seen < want) {
      size_t pos;
      while ((pos = buf_.find(marker, scanned)) != std::string::npos) {
        ++seen;
        ++counter;
        scanned = pos + marker.size();
      }
      if (buf_.size() > 1 << 20) {
        buf_.erase(0, scanned);
        scanned = 0;
      }
      if (seen >= want) {
        break;
      }
      if (!fill()) {
        return false;
      }
    }
    buf_.erase(0, scanned);
    return true;
  }

 private:
  bool fill() {
    char tmp[65536];
    ssize_t n = read(fd_, tmp, sizeof tmp);
    if (n <= 0) {
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

// `rev` changes the data: an identical PUT is a no-op for the apiserver (no new resourceVersion).
std::string cmBody(const std::string& name, long rev = 0) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"(","labels":{"app":"bench","tier":"t1"}},"data":{"key":"value-of-a-typical-size-for-a-small-configmap","rev":")" +
         std::to_string(rev) + R"("}})";
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int argInt(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      return std::atoi(argv[i + 1]);
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  int connections = argInt(argc, argv, "--connections", 4);
  int seconds = argInt(argc, argv, "--seconds", 3);
  int objects = argInt(argc, argv, "--objects", 10000);
  int watches = argInt(argc, argv, "--watches", 100);
  waha::log::setLevel(waha::log::Level::Warn);
  waha::sim::ResourceRegistry registry;
  waha::sim::MemoryStore::Options so;
  so.watchWindow = 200000;
  waha::sim::MemoryStore store(registry, so);
  waha::sim::ApiServerOptions ao;
  ao.token = kToken;
  ao.threads = 2;
  ao.bookmarkInterval = std::chrono::hours(1);
  waha::sim::ApiServer server(store, ao);
  if (!server.start()) {
    std::fprintf(stderr, "cannot start server\n");
    return 1;
  }
  int port = server.httpPort();
  const std::string path = "/api/v1/namespaces/default/configmaps";

  // 1. Creates, then updates, over `connections` keep-alive connections for `seconds` each.
  for (const char* phase : {"create", "update"}) {
    std::atomic<long> done{0};
    std::atomic<long> failed{0};
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < connections; ++c) {
      threads.emplace_back([&, c] {
        Conn conn(port);
        for (long i = 0; conn.ok() && secondsSince(start) < seconds; ++i) {
          std::string name = "w" + std::to_string(c) + "-" +
                             std::to_string(std::string(phase) == "create" ? i : i % 100);
          if (std::string(phase) == "create") {
            conn.send("POST", path, cmBody(name));
          } else {
            conn.send("PUT", path + "/" + name,
                      cmBody(name, i + 1));  // unconditional update (no resourceVersion)
          }
          int st = conn.readResponse();
          (st == 200 || st == 201 ? done : failed)++;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    double secs = secondsSince(start);
    std::printf("write-%s: %ld ok, %ld failed in %.2fs over %d connections = %.0f writes/s\n",
                phase, done.load(), failed.load(), secs, connections, done.load() / secs);
  }

  // 2. `watches` concurrent watches over `objects` objects.
  {
    Conn fill(port);
    std::string wpath = "/api/v1/namespaces/watched/configmaps";
    fill.send("POST", "/api/v1/namespaces", R"({"metadata":{"name":"watched"}})");
    fill.readResponse();
    auto start = Clock::now();
    for (int i = 0; i < objects; ++i) {
      fill.send("POST", wpath, cmBody("o" + std::to_string(i)));
      fill.readResponse();
    }
    std::printf("setup: %d objects created in %.2fs\n", objects, secondsSince(start));
    std::atomic<size_t> events{0};
    std::atomic<int> finished{0};
    const int burst = 1000;
    std::vector<std::unique_ptr<Conn>> conns;
    for (int w = 0; w < watches; ++w) {
      conns.push_back(std::make_unique<Conn>(port));
    }
    start = Clock::now();
    std::vector<std::thread> threads;
    std::atomic<int> initialDone{0};
    Clock::time_point initialAt;
    for (int w = 0; w < watches; ++w) {
      threads.emplace_back([&, w] {
        Conn& c = *conns[static_cast<size_t>(w)];
        c.send("GET", wpath + "?watch=true&resourceVersion=0&timeoutSeconds=600", "");
        if (c.countEvents(static_cast<size_t>(objects), events) && ++initialDone == watches) {
          initialAt = Clock::now();
        }
        if (c.countEvents(static_cast<size_t>(burst), events)) {
          ++finished;
        }
      });
    }
    while (initialDone < watches && secondsSince(start) < 120) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    double initialSecs = std::chrono::duration<double>(initialAt - start).count();
    std::printf(
        "watch-initial: %d watches x %d ADDED events = %zu events in %.2fs (%.0f events/s)\n",
        watches, objects, static_cast<size_t>(watches) * objects, initialSecs,
        watches * double(objects) / initialSecs);
    auto burstStart = Clock::now();
    for (int i = 0; i < burst; ++i) {
      fill.send("PUT", wpath + "/o" + std::to_string(i), cmBody("o" + std::to_string(i), 1));
      fill.readResponse();
    }
    double writeSecs = secondsSince(burstStart);
    while (finished < watches && secondsSince(burstStart) < 120) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    double fanSecs = secondsSince(burstStart);
    std::printf(
        "watch-fanout: %d updates written in %.2fs, all %d watches received them after %.2fs "
        "(%.0f events/s delivered)\n",
        burst, writeSecs, watches, fanSecs, watches * double(burst) / fanSecs);
    server.stop();
    for (auto& t : threads) {
      t.join();
    }
  }
  return 0;
}
