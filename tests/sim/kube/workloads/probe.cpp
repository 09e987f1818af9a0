#include "workloads/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace waha::sim::workloads {
namespace {

int resolvePort(const Json& port, const Json& container) {
  if (port.is_number_integer()) {
    return port.get<int>();
  }
  if (port.is_string()) {
    for (const auto& p : container.value("ports", Json::array())) {
      if (p.value("name", "") == port.get<std::string>()) {
        return p.value("containerPort", 0);
      }
    }
    return std::atoi(port.get<std::string>().c_str());
  }
  return 0;
}

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// A non-blocking connect bounded by the deadline; -1 on failure.
int connectWithin(const ProbeTarget& t, Clock::time_point deadline) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(t.port));
  if (inet_pton(AF_INET, t.host.c_str(), &addr.sin_addr) != 1) {
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof(err);
  if (poll(&p, 1, remainingMs(deadline)) != 1 ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool httpGet(int fd, const ProbeTarget& t, Clock::time_point deadline) {
  std::string req = "GET " + t.path + " HTTP/1.1\r\nHost: " + t.host + ":" +
                    std::to_string(t.port) +
                    "\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n";
  for (const auto& [k, v] : t.headers) {
    req += k + ": " + v + "\r\n";
  }
  req += "\r\n";
  size_t off = 0;
  while (off < req.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, remainingMs(deadline)) != 1) {
      return false;
    }
    ssize_t n = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    off += static_cast<size_t>(n);
  }
  std::string head;
  char buf[512];
  // The status line is all a kubelet needs: "HTTP/1.1 200 OK".
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, remainingMs(deadline)) != 1) {
      return false;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      return false;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  auto sp = head.find(' ');
  if (head.rfind("HTTP/", 0) != 0 || sp == std::string::npos) {
    return false;
  }
  int code = std::atoi(head.c_str() + sp + 1);
  return code >= 200 && code < 400;
}

}  // namespace

ProbeTarget probeTarget(const Json& probe, const Json& container, const std::string& podIp) {
  ProbeTarget t;
  if (!probe.is_object()) {
    return t;
  }
  int64_t timeoutSeconds = probe.value("timeoutSeconds", 1);
  t.timeout = std::chrono::milliseconds(std::clamp<int64_t>(timeoutSeconds, 1, 10) * 1000);
  t.host = podIp;  // httpGet.host is ignored: each pod is only reachable on its own address
  if (probe.contains("httpGet")) {
    const Json& h = probe["httpGet"];
    t.kind = ProbeTarget::Kind::Http;
    t.port = resolvePort(h.value("port", Json()), container);
    t.path = h.value("path", "/");
    if (t.path.empty() || t.path[0] != '/') {
      t.path = "/" + t.path;
    }
    for (const auto& hdr : h.value("httpHeaders", Json::array())) {
      t.headers.emplace_back(hdr.value("name", ""), hdr.value("value", ""));
    }
    // HTTPS probes skip verification in a real kubelet; here they are checked as TCP connects.
    if (h.value("scheme", "HTTP") == "HTTPS") {
      t.kind = ProbeTarget::Kind::Tcp;
    }
  } else if (probe.contains("tcpSocket")) {
    t.kind = ProbeTarget::Kind::Tcp;
    t.port = resolvePort(probe["tcpSocket"].value("port", Json()), container);
  }
  return t;
}

bool runProbe(const ProbeTarget& target) {
  if (target.kind == ProbeTarget::Kind::None) {
    return true;
  }
  auto deadline = Clock::now() + target.timeout;
  int fd = connectWithin(target, deadline);
  if (fd < 0) {
    return false;
  }
  bool ok = target.kind == ProbeTarget::Kind::Tcp || httpGet(fd, target, deadline);
  close(fd);
  return ok;
}

}  // namespace waha::sim::workloads
