#pragma once

// One WahaSession: claim a worker, run the session there through WAHA's API, mirror WAHA's live
// status into `status`, move it when its worker is lost, clean it up on deletion.
//
// The one rule: a session runs on at most one worker at any moment. Hence the order of every
// move: the old copy is known dead (answered STOPPED, or its pod is gone), then the assignment is
// released, then a new claim (epoch + 1) is written, and only then is the new worker called.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "api/types.h"
#include "common/result.h"
#include "controller/context.h"
#include "controller/runner.h"
#include "controller/views.h"

namespace waha::controller {

struct SessionReconcilerOptions {
  Duration claimTtl = std::chrono::seconds(60);  // how long a claim counts before the cache
  Duration notReadyRecheck = std::chrono::seconds(5);
  Duration pendingRecheck = std::chrono::seconds(3);
  Duration opBackstop = std::chrono::seconds(45);  // re-check an operation that never answered
};

class SessionReconciler {
 public:
  SessionReconciler(Context& ctx, SessionReconcilerOptions options = {});
  Result<Action> reconcile(const std::string& key);

  // True while an operation on a worker is in flight for this session (orphan sweeps skip it).
  bool busy(const std::string& key) const;

 private:
  // What this process did on the worker for the current epoch (memory only: after a restart it
  // is rebuilt from the worker's own report, and WAHA's "already exists/started" answers make a
  // repeated start harmless).
  struct Applied {
    std::int64_t epoch = -1;
    bool started = false;
    std::int64_t generation = 0;  // generation whose config the worker has
    // Hash of the effective config the worker was last given (create or update), when known: a
    // new generation that leaves it as it was (spec.state alone changed) needs no update.
    std::optional<std::size_t> configHash;
    TimePoint at{};
  };
  struct Op {
    std::string kind;
    std::int64_t epoch = 0;
    bool inFlight = false;
    TimePoint started{};
    std::optional<Status> result;
    // The last failure on the worker, kept (and shown) until an operation succeeds.
    std::optional<Error> lastError;
    // Consecutive failures and when the next call may go: 1 s, 2 s, 4 s ... 2 min. The work
    // queue's own backoff restarts whenever a reconcile succeeds, so worker calls keep theirs.
    int failures = 0;
    TimePoint retryAt{};
  };

  struct Work {
    std::string key;
    Json obj;
    api::WahaSession s;
    api::WahaSessionStatus status;  // being built; written if it differs from the old one
    std::string sessionName;
  };

  Result<Action> finalize(Work& w);
  Result<Action> place(Work& w, const Json& clusterObj);
  Result<Action> onWorker(Work& w, const Json& clusterObj, const WorkerPod& pod);
  Result<Action> releaseAssignment(Work& w, const std::string& why, bool podGone);
  Result<Action> runOp(Work& w, const std::string& kind, const wahaapi::Endpoint& ep,
                       const WorkerPod& pod);
  void mirror(Work& w, const WorkerPod& pod, bool wantRunning);
  // Records creation-to-usable time once per object (waha_operator_session_ready_seconds).
  bool configUnchanged(Work& w, const Applied& applied);
  void observeReady(const Work& w);
  bool duplicateOf(const Work& w, std::string& owner) const;

  Status writeStatus(Work& w);
  Status addFinalizer(const Work& w);
  Status removeFinalizer(const Work& w);
  void condition(Work& w, const char* type, bool ok, const std::string& reason,
                 const std::string& message);

  Context& ctx_;
  SessionReconcilerOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Applied> applied_;
  std::map<std::string, std::string> readyObserved_;  // key -> uid already measured
  std::map<std::string, Op> ops_;
};

// Phase and Ready condition for a WAHA status (unknown values are "not working", never a crash).
api::SessionPhase phaseForWahaStatus(const std::string& wahaStatus, bool wantRunning);

}  // namespace waha::controller
