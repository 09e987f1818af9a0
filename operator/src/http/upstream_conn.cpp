#include "http/upstream_conn.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

namespace waha::http {
namespace {

// An idle connection is only worth reusing if the upstream has not closed it (keep-alive timeouts
// are short on Node servers) and sent nothing unasked. One non-blocking peek tells.
bool looksAlive(UpConn& c) {
  auto& sock = c.stream.socket();
  if (!sock.is_open() || c.buffer.size() > 0) {
    return false;
  }
  char b;
  auto n = ::recv(sock.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

ConnPool::ConnPool(UpstreamOptions opts, BeastRuntime& runtime)
    : opts_(std::move(opts)), runtime_(&runtime) {
  opts_.runtime.reset();  // held by the UpstreamPool, not by what its queued handlers keep alive
  for (int i = 0; i < runtime_->loops(); ++i) {
    loops_.push_back(std::make_unique<Loop>());
  }
}

void ConnPool::startSweeping() {
  auto timer = std::make_shared<net::steady_timer>(runtime_->loop(0));
  sweeper_ = timer;
  sweepLater(std::move(timer));
}

std::shared_ptr<UpConn> ConnPool::take(int loop, const std::string& key) {
  auto now = Clock::now();
  for (;;) {
    std::shared_ptr<UpConn> c;
    {
      auto& l = *loops_[static_cast<std::size_t>(loop)];
      std::lock_guard<std::mutex> lk(l.mu);
      auto it = l.idle.find(key);
      if (it == l.idle.end() || it->second.empty()) {
        return nullptr;
      }
      c = std::move(it->second.back());
      it->second.pop_back();
    }
    auto idle = now - c->idleSince;
    // A connection back in the pool a moment ago is not worth a system call to check
    // (UpstreamOptions::trustedIdle).
    if (idle < opts_.idleTimeout && (idle < opts_.trustedIdle || looksAlive(*c))) {
      lend(c);
      return c;
    }
  }
}

std::shared_ptr<UpConn> ConnPool::open(int loop) {
  auto c = std::make_shared<UpConn>(runtime_->connectionExecutor(loop), loop);
  lend(c);
  return c;
}

void ConnPool::lend(const std::shared_ptr<UpConn>& c) {
  auto& l = *loops_[static_cast<std::size_t>(c->loop)];
  std::lock_guard<std::mutex> lk(l.mu);
  // Dropped entries are swept once the list doubled since the last sweep: O(1) per call.
  if (l.lent.size() >= l.sweepAt) {
    std::erase_if(l.lent, [](const auto& w) { return w.expired(); });
    l.sweepAt = std::max<std::size_t>(256, 2 * l.lent.size());
  }
  l.lent.push_back(c);
}

void ConnPool::put(const std::string& key, std::shared_ptr<UpConn> conn) {
  conn->idleSince = Clock::now();
  auto& l = *loops_[static_cast<std::size_t>(conn->loop)];
  std::lock_guard<std::mutex> lk(l.mu);
  if (stopped_) {
    return;
  }
  auto& list = l.idle[key];
  if (list.size() < opts_.maxIdlePerTarget) {
    list.push_back(std::move(conn));
  }
}

void ConnPool::opStarted() { ops_.fetch_add(1, std::memory_order_relaxed); }

void ConnPool::opFinished() {
  if (ops_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard<std::mutex> lk(opsMu_);  // so a stop() about to wait cannot miss it
    opsDone_.notify_all();
  }
}

void ConnPool::sweepLater(std::shared_ptr<net::steady_timer> timer) {
  timer->expires_after(std::chrono::seconds(1));
  auto& t = *timer;
  t.async_wait([weak = weak_from_this(), timer = std::move(timer)](beast::error_code ec) mutable {
    auto self = weak.lock();
    if (!ec && self && !self->stopped_) {
      self->sweep();
      self->sweepLater(std::move(timer));
    }
  });
}

// Closes connections idle longer than idleTimeout (oldest first in each list).
void ConnPool::sweep() {
  auto cutoff = Clock::now() - opts_.idleTimeout;
  std::vector<std::shared_ptr<UpConn>> expired;
  for (auto& l : loops_) {
    std::lock_guard<std::mutex> lk(l->mu);
    for (auto& [key, list] : l->idle) {
      auto end = std::find_if(list.begin(), list.end(),
                              [&](const auto& c) { return c->idleSince >= cutoff; });
      std::move(list.begin(), end, std::back_inserter(expired));
      list.erase(list.begin(), end);
    }
  }
}

void ConnPool::stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  std::vector<std::weak_ptr<UpConn>> lent;
  for (auto& l : loops_) {
    std::lock_guard<std::mutex> lk(l->mu);
    l->idle.clear();
    std::move(l->lent.begin(), l->lent.end(), std::back_inserter(lent));
    l->lent.clear();
  }
  if (auto timer = sweeper_.lock()) {
    auto ex = timer->get_executor();
    net::post(ex, [timer = std::move(timer)] { timer->cancel(); });
  }
  // A connection is only touched on its own executor; closing it there fails its forward's
  // pending I/O, which then answers its client and finishes.
  for (auto& w : lent) {
    if (auto c = w.lock()) {
      net::post(c->stream.get_executor(), [c] {
        beast::error_code ec;
        c->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        c->stream.close();
      });
    }
  }
  {
    std::unique_lock<std::mutex> lk(opsMu_);
    opsDone_.wait_for(lk, std::chrono::seconds(2), [this] { return ops_.load() == 0; });
  }
}

}  // namespace waha::http
