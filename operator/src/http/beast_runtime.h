#pragma once

// Internal to http/: the Boost.Asio side of IoRuntime: one io_context per thread; a connection's
// executor is its loop's, and everything of it runs on that one thread (no strands). Connections
// use the loop's concrete executor type, not the type-erased any_io_executor: erasure cost ~9% of
// the hub's CPU in a profile (an executor copied and destroyed for every asynchronous operation).

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <atomic>
#include <boost/asio.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/io_runtime.h"

namespace waha::http {

using LoopExecutor = boost::asio::io_context::executor_type;

class BeastRuntime final : public IoRuntime {
 public:
  BeastRuntime(int threads, std::string name);
  ~BeastRuntime() override;
  BeastRuntime(const BeastRuntime&) = delete;
  BeastRuntime& operator=(const BeastRuntime&) = delete;

  void stop() override;

  // The number of io_contexts (one per thread).
  int loops() const { return static_cast<int>(loops_.size()); }
  // The loop the calling thread runs, or -1 when it is not one of this runtime's threads.
  int currentLoop() const;
  // The calling thread's loop when it has one, else loop 0.
  int pickLoop();
  // The loops in turn (accepted connections are spread this way).
  int nextLoop();
  // The executor of loop `i`, for a new connection there.
  LoopExecutor connectionExecutor(int i);
  boost::asio::io_context& loop(int i) { return *loops_[static_cast<std::size_t>(i)]; }

 private:
  void run(int i);

  const int threads_;
  const std::string name_;
  std::vector<std::unique_ptr<boost::asio::io_context>> loops_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> workers_;
  std::atomic<unsigned> next_{0};
  std::atomic<bool> stopped_{false};
};

// The runtime behind `r` (BeastRuntime is the only IoRuntime).
std::shared_ptr<BeastRuntime> beastRuntime(const std::shared_ptr<IoRuntime>& r);

}  // namespace waha::http
