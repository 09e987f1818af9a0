// Boost.Beast/Asio adapter behind http::UpstreamPool: the hub's data path to the workers. One
// ForwardOp per request (forward_op.h) runs on the strand of the connection it uses; the pool
// (upstream_conn.h) is a mutex-guarded idle list per target, never held across I/O. Exceptions
// stop here.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "http/forward_op.h"

namespace waha::http {
namespace {

class BeastUpstreamPool final : public UpstreamPool {
 public:
  explicit BeastUpstreamPool(UpstreamOptions opts) : pool_(opts) {
    for (int i = 0; i < std::max(1, opts.threads); ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            pool_.ioc().run();
            return;
          } catch (const std::exception& e) {
            log::error("upstream: io thread caught", {{"error", e.what()}});
          }
        }
      });
    }
  }
  ~BeastUpstreamPool() override { stop(); }

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
    pool_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
    threads_.clear();
    pool_.clear();
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

  ConnPool pool_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<UpstreamPool> makeBeastUpstreamPool(UpstreamOptions options) {
  return std::make_unique<BeastUpstreamPool>(std::move(options));
}

}  // namespace waha::http
