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

BeastRuntime::BeastRuntime(int threads, bool pinned, std::string name)
    : threads_(std::max(1, threads)), pinned_(pinned), name_(std::move(name)) {
  int loops = pinned_ ? threads_ : 1;
  for (int i = 0; i < loops; ++i) {
    loops_.push_back(std::make_unique<Loop>(pinned_ ? 1 : threads_));
    guards_.push_back(net::make_work_guard(*loops_.back()));
  }
  for (int t = 0; t < threads_; ++t) {
    workers_.emplace_back([this, i = pinned_ ? t : 0] { run(i); });
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
  return here >= 0 ? here : nextLoop();
}

int BeastRuntime::nextLoop() {
  return static_cast<int>(next_.fetch_add(1, std::memory_order_relaxed) % loops_.size());
}

net::any_io_executor BeastRuntime::connectionExecutor(int i) {
  auto& l = loop(i);
  if (pinned_ || threads_ == 1) {
    return l.get_executor();
  }
  return net::make_strand(l);
}

std::shared_ptr<IoRuntime> makeIoRuntime(int threads) {
  return std::make_shared<BeastRuntime>(threads, true, "shared");
}

std::shared_ptr<BeastRuntime> beastRuntime(const std::shared_ptr<IoRuntime>& r) {
  return std::dynamic_pointer_cast<BeastRuntime>(r);
}

}  // namespace waha::http
