#pragma once

// Lease-based leader election (client-go's leaderelection with a coordination.k8s.io/v1 Lease).
// Only the leader runs reconcilers; the others wait as hot standbys.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "kube/client.h"

namespace waha::kube {

struct LeaderElectionConfig {
  std::string ns;        // the Lease's namespace
  std::string name;      // the Lease's name
  std::string identity;  // this candidate (pod name + a random suffix, as controller-runtime)
  // client-go / controller-runtime defaults. A standby takes over at most leaseDuration after the
  // leader's last renewal; the leader gives up if it could not renew for renewDeadline, which is
  // shorter so it stops before anyone else can start.
  Duration leaseDuration = std::chrono::seconds(15);
  Duration renewDeadline = std::chrono::seconds(10);
  Duration retryPeriod = std::chrono::seconds(2);
  bool releaseOnStop = true;  // hand over at once on a clean shutdown
};

// All callbacks run on the elector's thread (or the caller of step()/stop()) and must return
// promptly: start/stop the workers, do not run them here.
struct LeaderCallbacks {
  std::function<void()> onStartedLeading;
  std::function<void()> onStoppedLeading;
  std::function<void(const std::string& identity)> onNewLeader;  // someone else or us
  std::function<void(bool leading)> onState;  // for leader_election_master_status
};

// Lease timestamps are metav1.MicroTime: "2006-01-02T15:04:05.000000Z".
std::string formatMicroTime(WallTime t);

class LeaderElector {
 public:
  LeaderElector(KubeClient& client, Clock& clock, LeaderElectionConfig config,
                LeaderCallbacks callbacks);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Runs step() every retryPeriod on its own thread until stop().
  void start();
  // Stops the loop; a leader releases the Lease (releaseOnStop) and gets onStoppedLeading.
  void stop();

  // One round: try to acquire or renew, then fire callbacks for any change of leadership.
  // Public so tests can drive the state machine with a ManualClock and no thread.
  void step();

  bool isLeader() const { return leading_.load(); }
  // The holder last seen in the Lease ("" when free or unknown).
  std::string observedLeader() const;

 private:
  enum class Attempt { Leading, HeldByOther, Failed };
  Attempt tryAcquireOrRenew();
  Status release();
  void setLeading(bool leading);
  void observe(const Json& spec, TimePoint now);

  KubeClient& client_;
  Clock& clock_;
  LeaderElectionConfig config_;
  LeaderCallbacks callbacks_;

  std::atomic<bool> leading_{false};
  mutable std::mutex mu_;  // guards the observed record
  Json observedSpec_;
  TimePoint observedTime_{};
  std::string observedHolder_;
  std::optional<TimePoint> lastRenew_;

  std::mutex loopMu_;
  std::condition_variable loopCv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace waha::kube
