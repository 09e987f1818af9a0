#pragma once

// Container probes the way a kubelet runs them, against the pod's own loopback address.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "object_store.h"

namespace waha::sim::workloads {

struct ProbeTarget {
  enum class Kind { None, Http, Tcp } kind = Kind::None;
  std::string host;
  int port = 0;
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{1000};
};

// httpGet and tcpSocket probes (named ports resolved against the container's ports); exec and
// grpc probes are not simulated and give Kind::None (treated as passing).
ProbeTarget probeTarget(const Json& probe, const Json& container, const std::string& podIp);

// Blocking: HTTP GET answering 200..399, or a TCP connect that succeeds, within the timeout.
bool runProbe(const ProbeTarget& target);

}  // namespace waha::sim::workloads
