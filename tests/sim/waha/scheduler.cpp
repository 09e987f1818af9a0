#include "scheduler.h"

namespace waha::sim {

Scheduler::Scheduler(Clock& clock) : clock_(clock) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (!thread_.joinable()) {
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    tasks_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void Scheduler::after(Duration delay, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) {
      return;
    }
    tasks_.emplace(std::make_pair(clock_.now() + delay, seq_++), std::move(task));
  }
  cv_.notify_all();
}

void Scheduler::run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lk, [this] { return stopping_ || !tasks_.empty(); });
      continue;
    }
    TimePoint due = tasks_.begin()->first.first;
    if (clock_.now() < due) {
      // Re-check when an earlier task arrives or on stop; waitUntil handles the clock kind.
      std::size_t count = tasks_.size();
      TimePoint first = due;
      clock_.waitUntil(lk, cv_, due, [&] {
        return stopping_ || tasks_.size() != count || tasks_.begin()->first.first != first ||
               clock_.now() >= first;
      });
      continue;
    }
    auto node = tasks_.extract(tasks_.begin());
    lk.unlock();
    node.mapped()();
    lk.lock();
  }
}

}  // namespace waha::sim
