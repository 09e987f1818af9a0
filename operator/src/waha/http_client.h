#pragma once

#include <chrono>
#include <memory>

#include "http/client.h"
#include "waha/client.h"

namespace waha::wahaapi {

struct HttpWahaClientOptions {
  int threads = 16;  // concurrent calls in flight over all workers
  // Listing is quick; lifecycle calls take 3 s or more in real WAHA (up to 13 s mid-connect).
  std::chrono::milliseconds listTimeout{10000};
  std::chrono::milliseconds lifecycleTimeout{30000};
};

// WahaClient over http::HttpClient, with its own thread pool for the blocking sends.
std::unique_ptr<WahaClient> makeHttpWahaClient(std::shared_ptr<http::HttpClient> http,
                                               HttpWahaClientOptions options = {});

}  // namespace waha::wahaapi
