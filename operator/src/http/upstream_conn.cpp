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

bool isHopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection", "keep-alive", "transfer-encoding",
                                                "upgrade",    "te",         "trailer"};
  if (name.size() >= 6 && iequals(name.substr(0, 6), "proxy-")) {
    return true;
  }
  for (auto n : kNames) {
    if (iequals(name, n)) {
      return true;
    }
  }
  return false;
}

ConnPool::ConnPool(UpstreamOptions opts)
    : opts_(std::move(opts)),
      ioc_(std::max(1, opts_.threads)),
      work_(net::make_work_guard(ioc_)),
      sweeper_(ioc_) {
  sweepLater();
}

std::shared_ptr<UpConn> ConnPool::take(const std::string& key) {
  auto now = Clock::now();
  for (;;) {
    std::shared_ptr<UpConn> c;
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto it = idle_.find(key);
      if (it == idle_.end() || it->second.empty()) {
        return nullptr;
      }
      c = std::move(it->second.back());
      it->second.pop_back();
    }
    if (now - c->idleSince < opts_.idleTimeout && looksAlive(*c)) {
      return c;
    }
  }
}

void ConnPool::put(const std::string& key, std::shared_ptr<UpConn> conn) {
  conn->idleSince = Clock::now();
  std::lock_guard<std::mutex> lk(mu_);
  auto& list = idle_[key];
  if (list.size() < opts_.maxIdlePerTarget) {
    list.push_back(std::move(conn));
  }
}

void ConnPool::sweepLater() {
  sweeper_.expires_after(std::chrono::seconds(1));
  sweeper_.async_wait([this](beast::error_code ec) {
    if (!ec) {
      sweep();
      sweepLater();
    }
  });
}

// Closes connections idle longer than idleTimeout (oldest first in each list).
void ConnPool::sweep() {
  auto cutoff = Clock::now() - opts_.idleTimeout;
  std::vector<std::shared_ptr<UpConn>> expired;
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& [key, list] : idle_) {
    auto end = std::find_if(list.begin(), list.end(),
                            [&](const auto& c) { return c->idleSince >= cutoff; });
    std::move(list.begin(), end, std::back_inserter(expired));
    list.erase(list.begin(), end);
  }
}

void ConnPool::stop() {
  work_.reset();
  net::post(ioc_, [this] { sweeper_.cancel(); });
  ioc_.stop();
}

void ConnPool::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  idle_.clear();
}

}  // namespace waha::http
