#include "http/wire.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost

#include <boost/beast/http/status.hpp>

namespace waha::http::wire {
namespace {

// RFC 9110 token characters.
bool tokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') {
    return true;
  }
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

void statusLine(std::string& out, unsigned version, int status) {
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  auto reason = boost::beast::http::obsolete_reason(
      boost::beast::http::int_to_status(static_cast<unsigned>(status)));
  if (reason != "<unknown-status>") {  // else no phrase: allowed, and better than a made-up one
    out.append(reason.data(), reason.size());
  }
  out += "\r\n";
}

}  // namespace

bool appendField(std::string& out, std::string_view name, std::string_view value) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    if (!tokenChar(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return false;
  }
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
  return true;
}

bool bodilessStatus(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

std::string responseHead(unsigned version, int status, const Headers& headers, std::size_t bodySize,
                         bool keepAlive, bool declaredLength) {
  std::string out;
  out.reserve(256);
  statusLine(out, version, status);
  for (const auto& [k, v] : headers.all()) {
    if (iequals(k, "connection") || iequals(k, "transfer-encoding") ||
        (!declaredLength && iequals(k, "content-length"))) {
      continue;
    }
    appendField(out, k, v);
  }
  if (!declaredLength && !bodilessStatus(status)) {
    appendField(out, "Content-Length", std::to_string(bodySize));
  }
  if (version >= 11 && !keepAlive) {
    out += "Connection: close\r\n";
  } else if (version == 10 && keepAlive) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

std::string requestHead(std::string_view method, std::string_view target, const Headers& headers,
                        std::string_view defaultHost, std::optional<std::size_t> contentLength,
                        bool chunked) {
  std::string out;
  out.reserve(256 + target.size());
  out.append(method);
  out += ' ';
  out.append(target);
  out += " HTTP/1.1\r\n";
  bool hasHost = false;
  for (const auto& [k, v] : headers.all()) {
    if (isHopByHop(k) || iequals(k, "content-length") || iequals(k, "expect")) {
      continue;
    }
    hasHost = hasHost || iequals(k, "host");
    appendField(out, k, v);
  }
  if (!hasHost) {
    appendField(out, "Host", defaultHost);
  }
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (contentLength) {
    bool expectsBody = method == "POST" || method == "PUT" || method == "PATCH";
    if (*contentLength > 0 || expectsBody) {
      appendField(out, "Content-Length", std::to_string(*contentLength));
    }
  }
  out += "\r\n";
  return out;
}

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

}  // namespace waha::http::wire
