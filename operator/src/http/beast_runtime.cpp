#include "http/beast_runtime.h"

#include "common/log.h"

namespace waha::http {
namespace {

namespace net = boost::asio;

// Which runtime and loop the calling thread runs (set on the runtime's own threads only).
thread_local const BeastRuntime* tRuntime = nullptr;
thread_local int tLoop = -1;

// execution_context::shutdown() is protected: it destroys every handler still queued or waiting
// on I/O without running it.
class Loop final : public net::io_context {
 public:
  explicit Loop(int concurrencyHint) : net::io_context(concurrencyHint) {}
  void shutdownNow() { shutdown(); }
};

}  // namespace

BeastRuntime::BeastRuntime(int threads, std::string name)
    : threads_(std::max(1, threads)), name_(std::move(name)) {
  for (int i = 0; i < threads_; ++i) {
    loops_.push_back(std::make_unique<Loop>(1));
    guards_.push_back(net::make_work_guard(*loops_.back()));
  }
  for (int t = 0; t < threads_; ++t) {
    workers_.emplace_back([this, t] { run(t); });
  }
}

BeastRuntime::~BeastRuntime() {
  stop();
  // A handler destroyed on one loop may post to another (an upstream answer to its client's
  // connection): every loop is shut down before any is destroyed, so such a post never lands in
  // a destroyed loop; what it queues is destroyed with that loop.
  for (auto& l : loops_) {
    static_cast<Loop&>(*l).shutdownNow();
  }
  loops_.clear();
}

void BeastRuntime::run(int i) {
  tRuntime = this;
  tLoop = i;
  for (;;) {
    try {
      loops_[static_cast<std::size_t>(i)]->run();
      return;
    } catch (const std::exception& e) {
      log::error("io runtime: handler threw", {{"runtime", name_}, {"error", e.what()}});
    }
  }
}

void BeastRuntime::stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  guards_.clear();
  for (auto& l : loops_) {
    l->stop();
  }
  for (auto& w : workers_) {
    if (w.joinable() && w.get_id() != std::this_thread::get_id()) {
      w.join();
    } else if (w.joinable()) {
      w.detach();  // stopped from one of its own handlers: that thread returns by itself
    }
  }
  workers_.clear();
}

int BeastRuntime::currentLoop() const { return tRuntime == this ? tLoop : -1; }

int BeastRuntime::pickLoop() {
  int here = currentLoop();
  // Other threads' calls all go to loop 0, so they find the connections each other left idle
  // (a connection belongs to its loop).
  return here >= 0 ? here : 0;
}

int BeastRuntime::nextLoop() {
  return static_cast<int>(next_.fetch_add(1, std::memory_order_relaxed) % loops_.size());
}

LoopExecutor BeastRuntime::connectionExecutor(int i) { return loop(i).get_executor(); }

std::shared_ptr<IoRuntime> makeIoRuntime(int threads) {
  return std::make_shared<BeastRuntime>(threads, "shared");
}

std::shared_ptr<BeastRuntime> beastRuntime(const std::shared_ptr<IoRuntime>& r) {
  return std::dynamic_pointer_cast<BeastRuntime>(r);
}

}  // namespace waha::http
