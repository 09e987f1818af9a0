#pragma once

// Threads running asynchronous I/O, shareable between an HttpServer and an UpstreamPool
// (ServerOptions::runtime, UpstreamOptions::runtime). Shared, a proxied request is served start to
// finish on the thread that accepted its connection: the upstream call uses a connection of that
// same thread, so no request crosses from one thread pool to another (two wake-ups per request).

#include <memory>

namespace waha::http {

class IoRuntime {
 public:
  virtual ~IoRuntime() = default;
  // Stops the I/O threads and joins them; what still runs on them is cut short. Stop the servers
  // and pools that use the runtime first, and destroy them before the runtime.
  virtual void stop() = 0;
};

// `threads` event loops, one thread each: a connection stays on the loop that accepted (or opened)
// it, so its handlers never need a lock or a strand. A handler that blocks stalls its loop's other
// connections: hand slow work to another thread.
std::shared_ptr<IoRuntime> makeIoRuntime(int threads);

}  // namespace waha::http
