// Boost.Beast/Asio adapter behind http::UpstreamPool: the hub's data path to the workers. One
// ForwardOp per request (forward_op.h) runs on the executor of the connection it uses, on the
// calling thread's loop when the pool shares the server's IoRuntime; the pool (upstream_conn.h)
// is a mutex-guarded idle list per loop and target, never held across I/O. Exceptions stop here.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log.h"
#include "http/forward_op.h"

namespace waha::http {
namespace {

class BeastUpstreamPool final : public UpstreamPool {
 public:
  explicit BeastUpstreamPool(UpstreamOptions opts)
      : runtime_(beastRuntime(opts.runtime)), ownRuntime_(!runtime_) {
    if (ownRuntime_) {
      runtime_ = std::make_shared<BeastRuntime>(opts.threads, "upstream");
    }
    pool_ = std::make_shared<ConnPool>(std::move(opts), *runtime_);
    pool_->startSweeping();
  }
  ~BeastUpstreamPool() override {
    stop();
    runtime_.reset();  // own: destroys what is still queued (holding the pool) first
  }

  void forward(const UpstreamTarget& target, UpstreamRequest request,
               std::shared_ptr<Exchange> exchange, ForwardHooks hooks) override {
    start(target, std::move(request), std::move(exchange), std::move(hooks), nullptr);
  }

  void fetch(const UpstreamTarget& target, UpstreamRequest request,
             std::function<void(Result<Response>)> done) override {
    start(target, std::move(request), nullptr, {}, std::move(done));
  }

  void stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    pool_->stop();
    if (ownRuntime_) {
      runtime_->stop();
    }
  }

 private:
  void start(const UpstreamTarget& target, UpstreamRequest request,
             std::shared_ptr<Exchange> exchange, ForwardHooks hooks, ForwardOp::FetchDone done) {
    try {
      auto op = std::make_shared<ForwardOp>(pool_, target, std::move(request), std::move(exchange),
                                            std::move(hooks), std::move(done));
      if (stopped_) {
        return;  // the op's destructor answers 502 "stopped"
      }
      op->start();
    } catch (const std::exception& e) {
      log::error("upstream: forward failed to start", {{"error", e.what()}});
    }
  }

  std::shared_ptr<BeastRuntime> runtime_;
  bool ownRuntime_;
  std::shared_ptr<ConnPool> pool_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<UpstreamPool> makeBeastUpstreamPool(UpstreamOptions options) {
  return std::make_unique<BeastUpstreamPool>(std::move(options));
}

}  // namespace waha::http
