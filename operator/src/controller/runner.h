#pragma once

// controller-runtime's Controller: a work queue of keys, N workers, and one reconcile function.
// Reconcile reads the cache by key and returns an Action (kube-rs style) instead of sleeping:
//   success + awaitChange  -> forget the key's backoff; nothing until the next event
//   success + requeueAfter -> forget the backoff; run again after the delay
//   success + requeue      -> run again after the rate limiter's delay (no error counted)
//   error                  -> run again after the rate limiter's delay; counted and logged
// A key is never reconciled by two workers at once (the queue guarantees it).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "kube/work_queue.h"
#include "metrics/metrics.h"

namespace waha::controller {

class Action {
 public:
  static Action awaitChange() { return Action(); }
  static Action requeueAfter(Duration d) {
    Action a;
    a.after_ = d;
    return a;
  }
  // Again soon, through the rate limiter (e.g. waiting for something else to settle).
  static Action requeue() {
    Action a;
    a.requeue_ = true;
    return a;
  }
  std::optional<Duration> after() const { return after_; }
  bool requeueRateLimited() const { return requeue_; }

 private:
  std::optional<Duration> after_;
  bool requeue_ = false;
};

using ReconcileFn = std::function<Result<Action>(const std::string& key)>;

struct RunnerOptions {
  std::string name;  // controller name: the metrics' controller= / name= label
  int workers = 1;
  kube::WorkQueueOptions queue;
};

class Runner {
 public:
  // `metrics` may be null (tests); otherwise every series of this controller exists from here.
  Runner(RunnerOptions options, Clock& clock, ReconcileFn reconcile,
         metrics::Metrics* metrics = nullptr);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Event handlers enqueue here (before or after start()).
  kube::WorkQueue& queue() { return *queue_; }
  const std::string& name() const { return options_.name; }

  void start();
  // Shuts the queue down and waits for reconciles in progress to finish.
  void stop();

 private:
  void work();
  void processOne(const std::string& key);

  RunnerOptions options_;
  Clock& clock_;
  ReconcileFn reconcile_;
  metrics::ControllerMetrics* metrics_ = nullptr;
  std::shared_ptr<kube::WorkQueue> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace waha::controller
