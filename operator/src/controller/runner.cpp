#include "controller/runner.h"

#include <exception>

#include "common/log.h"

namespace waha::controller {

Runner::Runner(RunnerOptions options, Clock& clock, ReconcileFn reconcile,
               metrics::Metrics* metrics)
    : options_(std::move(options)), clock_(clock), reconcile_(std::move(reconcile)) {
  kube::QueueMetrics* qm = nullptr;
  if (metrics) {
    metrics_ = &metrics->controller(options_.name, options_.workers);
    qm = &metrics_->queue();
  }
  queue_ = std::make_shared<kube::WorkQueue>(clock_, options_.queue, qm);
  if (metrics) {
    // The in-progress gauges are computed at scrape time; weak: the Runner may go first.
    std::weak_ptr<kube::WorkQueue> weak = queue_;
    metrics->addCollectHook([weak] {
      if (auto q = weak.lock()) {
        q->reportUnfinished();
      }
    });
  }
}

Runner::~Runner() { stop(); }

void Runner::start() {
  if (!workers_.empty()) {
    return;
  }
  log::info("controller starting",
            {{"controller", options_.name}, {"workers", std::to_string(options_.workers)}});
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { work(); });
  }
}

void Runner::stop() {
  queue_->shutDown();
  for (auto& t : workers_) {
    if (t.joinable()) {
      t.join();
    }
  }
  workers_.clear();
}

void Runner::work() {
  while (auto key = queue_->get()) {
    processOne(*key);
  }
}

void Runner::processOne(const std::string& key) {
  if (metrics_) {
    metrics_->activeWorkers(1);
  }
  TimePoint t0 = clock_.now();
  std::optional<Result<Action>> result;
  // Exceptions stop here (controller-runtime recovers reconcile panics the same way): a bug in
  // one reconcile must not take a worker thread, and with it the controller, down.
  try {
    result.emplace(reconcile_(key));
  } catch (const std::exception& e) {
    result.emplace(Error::make(0, "ReconcilePanic", e.what()));
  } catch (...) {
    result.emplace(Error::make(0, "ReconcilePanic", "unknown exception"));
  }
  double seconds = std::chrono::duration<double>(clock_.now() - t0).count();
  metrics::ReconcileResult outcome;
  if (!result->ok()) {
    Duration delay = queue_->addRateLimited(key);
    outcome = metrics::ReconcileResult::Error;
    log::warn("reconcile failed", {{"controller", options_.name},
                                   {"key", key},
                                   {"error", result->error().str()},
                                   {"attempt", std::to_string(queue_->numRequeues(key))},
                                   {"retry_in_ms", std::to_string(delay.count() / 1000000)}});
  } else if (auto after = result->value().after()) {
    queue_->forget(key);
    queue_->addAfter(key, *after);
    outcome = metrics::ReconcileResult::RequeueAfter;
  } else if (result->value().requeueRateLimited()) {
    queue_->addRateLimited(key);
    outcome = metrics::ReconcileResult::Requeue;
  } else {
    queue_->forget(key);
    outcome = metrics::ReconcileResult::Success;
  }
  if (metrics_) {
    metrics_->reconciled(outcome, seconds);
    metrics_->activeWorkers(-1);
  }
  queue_->done(key);
}

}  // namespace waha::controller
