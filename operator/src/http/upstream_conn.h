#pragma once

// Internal to http/: the keep-alive connections behind the Beast UpstreamPool and their idle
// lists. Everything here is Boost; nothing above http/ includes it.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/beast_runtime.h"
#include "http/upstream.h"

namespace waha::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct UpConn {
  // Beast reads at most the buffer's free capacity (512 bytes at the least) per call: room for a
  // whole piece keeps big bodies from trickling in 512 bytes at a time.
  UpConn(LoopExecutor ex, int loop) : stream(std::move(ex)), loop(loop) {
    buffer.reserve(64 * 1024);
  }
  beast::basic_stream<tcp, LoopExecutor> stream;  // the loop's concrete executor (beast_runtime.h)
  beast::flat_buffer buffer;
  const int loop;  // the runtime loop it runs on; its idle list is that loop's
  Clock::time_point idleSince;
};

// Idle keep-alive connections per runtime loop and target ("host:port"). Connections in use
// belong to their request alone (the pool keeps a weak reference to cut them on stop()); only idle
// ones sit in the lists, so the lock never spans I/O. A forward started on a loop's thread takes
// that loop's connections and never leaves the thread.
class ConnPool : public std::enable_shared_from_this<ConnPool> {
 public:
  // `runtime` outlives the pool's use: forwards run on its threads only.
  ConnPool(UpstreamOptions opts, BeastRuntime& runtime);
  // Starts the idle sweep (after construction: it holds a weak reference).
  void startSweeping();
  // The loop a new forward runs on: the caller's when it is one of the runtime's threads.
  int pickLoop() { return runtime_->pickLoop(); }
  // The most recently used idle connection of `loop` that still looks alive, or nullptr. One
  // handed out is remembered (weakly) until put back, so stop() can cut it.
  std::shared_ptr<UpConn> take(int loop, const std::string& key);
  // A new connection on `loop`, remembered like a taken one.
  std::shared_ptr<UpConn> open(int loop);
  // Keeps `conn` for reuse (or drops it when stopped or its list is full).
  void put(const std::string& key, std::shared_ptr<UpConn> conn);
  const UpstreamOptions& options() const { return opts_; }
  // Forwards in flight (ForwardOp counts itself in and out): stop() waits for none.
  void opStarted();
  void opFinished();
  // Closes the idle connections, cuts the ones in use and waits (2 s at most) for the forwards
  // to finish.
  void stop();

 private:
  void lend(const std::shared_ptr<UpConn>& c);
  void sweepLater(std::shared_ptr<net::steady_timer> timer);
  void sweep();

  // One per runtime loop, each with its own lock: the loops' threads never contend.
  struct Loop {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<std::shared_ptr<UpConn>>> idle;  // by target
    std::vector<std::weak_ptr<UpConn>> lent;
    std::size_t sweepAt = 256;  // lent's size at which expired entries are swept
  };

  UpstreamOptions opts_;
  BeastRuntime* runtime_;  // not owned: a queued forward holding the pool must not keep it alive
  std::atomic<bool> stopped_{false};
  std::vector<std::unique_ptr<Loop>> loops_;
  std::mutex opsMu_;
  std::condition_variable opsDone_;
  std::atomic<int> ops_{0};
  // Owned by its own pending wait, so it goes with the runtime's loop, never after it.
  std::weak_ptr<net::steady_timer> sweeper_;
};

}  // namespace waha::http
