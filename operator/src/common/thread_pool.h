#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace waha {

// A fixed set of threads running queued tasks in order of submission. Used where a blocking call
// (an HTTP request to a slow worker) must not run on the caller's thread.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues a task; returns false once shutdown() was called (the task is not run).
  bool post(std::function<void()> task);
  // Runs what is queued, then joins the threads. Idempotent.
  void shutdown();
  std::size_t queued() const;

 private:
  void loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace waha
