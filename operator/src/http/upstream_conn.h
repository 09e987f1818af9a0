#pragma once

// Internal to http/: the keep-alive connections behind the Beast UpstreamPool and their idle
// lists. Everything here is Boost; nothing above http/ includes it.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/upstream.h"

namespace waha::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// Connection, Keep-Alive, Transfer-Encoding, Upgrade, TE, Trailer and Proxy-*: they describe one
// hop, so a proxy copies them neither way.
bool isHopByHop(std::string_view name);

struct UpConn {
  // Beast reads at most the buffer's free capacity (512 bytes at the least) per call: room for a
  // whole piece keeps big bodies from trickling in 512 bytes at a time.
  explicit UpConn(net::any_io_executor ex) : stream(std::move(ex)) { buffer.reserve(64 * 1024); }
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  Clock::time_point idleSince;
};

// Idle keep-alive connections per target ("host:port"). Connections in use belong to their
// request alone; only idle ones sit here, so the lock never spans I/O.
class ConnPool {
 public:
  explicit ConnPool(UpstreamOptions opts);
  // The most recently used idle connection that still looks alive, or nullptr.
  std::shared_ptr<UpConn> take(const std::string& key);
  // Keeps `conn` for reuse (or drops it when the target already has enough idle ones).
  void put(const std::string& key, std::shared_ptr<UpConn> conn);
  const UpstreamOptions& options() const { return opts_; }
  net::io_context& ioc() { return ioc_; }
  // Stops the I/O (threads return from ioc().run()); clear() then closes the idle connections.
  void stop();
  void clear();

 private:
  void sweepLater();
  void sweep();

  UpstreamOptions opts_;
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<UpConn>>> idle_;
  // Declared last, destroyed first: handlers still queued hold connections and requests, and
  // must go while the rest of the pool is intact.
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  net::steady_timer sweeper_;
};

}  // namespace waha::http
