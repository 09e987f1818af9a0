#pragma once

// Pure scaling decisions: how many workers a pool needs, and which worker to empty first.

#include <optional>
#include <string>
#include <vector>

namespace waha::scaling {

struct PoolLoad {
  int sessions = 0;           // sessions placed on a worker or waiting for one
  int sessionsPerWorker = 1;  // capacity of one worker
  int minWorkers = 1;
  int maxWorkers = 1;
};

struct ScaleDecision {
  int replicas = 0;
  std::string reason;
};

// Capacity scaling: clamp(ceil(sessions / sessionsPerWorker), min, max).
ScaleDecision desiredReplicas(const PoolLoad& load);

struct WorkerLoad {
  std::string name;
  bool ready = false;
  int sessions = 0;
};

// The worker to drain first when shrinking: not-ready workers first, then the one holding the
// fewest sessions (fewest moves), then the name (deterministic).
std::optional<std::string> drainCandidate(const std::vector<WorkerLoad>& workers);

}  // namespace waha::scaling
