#pragma once

// Pure placement decisions: which worker pod gets which session. No I/O, no logging: the
// SessionReconciler performs the decisions and logs their reasons.

#include <optional>
#include <string>
#include <vector>

namespace waha::placement {

enum class Strategy {
  LeastLoaded,  // spread: the worker with the most free room (default)
  BinPack,      // fill: the fullest worker that still has room (frees whole workers to scale down)
};

struct WorkerView {
  std::string name;  // pod name
  bool ready = false;
  bool draining = false;
  int capacity = 0;  // sessions per worker
  // Sessions assigned to this worker in the cache, including claims made moments ago and not yet
  // seen back from the API server: a burst of new sessions must never overfill a worker.
  int load = 0;
};

struct Decision {
  std::optional<std::string> worker;  // empty: no room anywhere
  std::string reason;                 // why (for logs, Events and conditions)
};

// A worker can take a session when it is Ready, not draining and below capacity.
bool isCandidate(const WorkerView& w);

// Picks one worker for one session. Ties break on the pod name so that the same view always
// gives the same answer.
Decision choose(const std::vector<WorkerView>& workers, Strategy strategy);

struct Assignment {
  std::string session;
  std::optional<std::string> worker;
  std::string reason;
};

// Places `sessions` one after the other, counting each placement against the worker's load
// before the next one (the batch form of choose()).
std::vector<Assignment> plan(std::vector<WorkerView> workers,
                             const std::vector<std::string>& sessions, Strategy strategy);

// Free room over all candidate workers.
int freeCapacity(const std::vector<WorkerView>& workers);

}  // namespace waha::placement
