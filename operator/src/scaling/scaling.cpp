#include "scaling/scaling.h"

#include <algorithm>
#include <tuple>

namespace waha::scaling {

ScaleDecision desiredReplicas(const PoolLoad& load) {
  int per = std::max(1, load.sessionsPerWorker);
  int lo = std::max(0, load.minWorkers);
  int hi = std::max(lo, load.maxWorkers);
  int sessions = std::max(0, load.sessions);
  int needed = (sessions + per - 1) / per;
  int replicas = std::clamp(needed, lo, hi);
  std::string reason = std::to_string(sessions) + " sessions need " + std::to_string(needed) +
                       " workers of " + std::to_string(per);
  if (needed < lo) {
    reason += "; raised to workers.min " + std::to_string(lo);
  } else if (needed > hi) {
    reason += "; capped at workers.max " + std::to_string(hi) + " (" +
              std::to_string(sessions - hi * per) + " sessions will wait)";
  }
  return {replicas, reason};
}

std::optional<std::string> drainCandidate(const std::vector<WorkerLoad>& workers) {
  const WorkerLoad* pick = nullptr;
  for (const auto& w : workers) {
    if (pick == nullptr || std::make_tuple(w.ready, w.sessions, w.name) <
                               std::make_tuple(pick->ready, pick->sessions, pick->name)) {
      pick = &w;
    }
  }
  if (pick == nullptr) {
    return std::nullopt;
  }
  return pick->name;
}

}  // namespace waha::scaling
