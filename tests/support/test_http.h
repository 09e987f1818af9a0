#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "http/http.h"

namespace waha::test {

struct HttpResult {
  int status = 0;  // 0: transport failure, see `error`
  http::Headers headers;
  std::string body;
  std::string error;
};

// A small synchronous client for tests only (the product's client lives in operator/src/http).
// `url` is http://host:port/path?query or https://... (certificates are not verified here).
HttpResult httpRequest(const std::string& method, const std::string& url,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

inline HttpResult httpGet(const std::string& url,
                          const std::map<std::string, std::string>& headers = {}) {
  return httpRequest("GET", url, "", headers);
}

// Reads a chunked streaming response (a watch) line by line; `onLine` returns false to stop.
// Returns the status code, or 0 on transport failure / timeout before the first byte.
int httpStreamLines(const std::string& url, const std::map<std::string, std::string>& headers,
                    const std::function<bool(const std::string& line)>& onLine,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace waha::test
