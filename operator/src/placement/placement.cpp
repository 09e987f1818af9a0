#include "placement/placement.h"

#include <algorithm>

namespace waha::placement {

bool isCandidate(const WorkerView& w) { return w.ready && !w.draining && w.load < w.capacity; }

namespace {

// True when `a` is a better home than `b` under `strategy`.
bool better(const WorkerView& a, const WorkerView& b, Strategy strategy) {
  int freeA = a.capacity - a.load;
  int freeB = b.capacity - b.load;
  if (freeA != freeB) {
    return strategy == Strategy::LeastLoaded ? freeA > freeB : freeA < freeB;
  }
  return a.name < b.name;
}

const WorkerView* best(const std::vector<WorkerView>& workers, Strategy strategy) {
  const WorkerView* pick = nullptr;
  for (const auto& w : workers) {
    if (isCandidate(w) && (pick == nullptr || better(w, *pick, strategy))) {
      pick = &w;
    }
  }
  return pick;
}

std::string noRoomReason(const std::vector<WorkerView>& workers) {
  int ready = 0;
  for (const auto& w : workers) {
    if (w.ready && !w.draining) {
      ++ready;
    }
  }
  if (workers.empty()) {
    return "no worker pods exist yet";
  }
  if (ready == 0) {
    return "no Ready worker pod (" + std::to_string(workers.size()) + " not ready or draining)";
  }
  return "all " + std::to_string(ready) + " Ready workers are full";
}

}  // namespace

Decision choose(const std::vector<WorkerView>& workers, Strategy strategy) {
  const WorkerView* pick = best(workers, strategy);
  if (pick == nullptr) {
    return {std::nullopt, noRoomReason(workers)};
  }
  std::string why = strategy == Strategy::LeastLoaded ? "least loaded" : "bin-packed";
  return {pick->name, why + " worker (" + std::to_string(pick->load) + "/" +
                          std::to_string(pick->capacity) + " sessions)"};
}

std::vector<Assignment> plan(std::vector<WorkerView> workers,
                             const std::vector<std::string>& sessions, Strategy strategy) {
  std::vector<Assignment> out;
  out.reserve(sessions.size());
  for (const auto& s : sessions) {
    Decision d = choose(workers, strategy);
    if (d.worker) {
      for (auto& w : workers) {
        if (w.name == *d.worker) {
          ++w.load;
          break;
        }
      }
    }
    out.push_back({s, d.worker, d.reason});
  }
  return out;
}

int freeCapacity(const std::vector<WorkerView>& workers) {
  int total = 0;
  for (const auto& w : workers) {
    if (w.ready && !w.draining) {
      total += std::max(0, w.capacity - w.load);
    }
  }
  return total;
}

}  // namespace waha::placement
