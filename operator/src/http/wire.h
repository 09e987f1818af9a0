#pragma once

// Internal to http/: HTTP/1.1 message heads written straight into one string, for the hot paths
// (a whole answer from the server, a request sent upstream). One buffer per message head instead
// of a field container filled header by header and walked by a serializer.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"

namespace waha::http::wire {

// Appends "name: value\r\n". A name that is not an HTTP token, or a value with CR, LF or NUL, is
// left out (it would split the head: header injection); returns whether it was written.
bool appendField(std::string& out, std::string_view name, std::string_view value);

// The head of a whole answer with a body of `bodySize` bytes: status line, `headers` without
// their Connection, Transfer-Encoding and Content-Length, then Content-Length (none for 1xx, 204
// and 304) and Connection as `keepAlive` and `version` (10 or 11) need. `declaredLength`: the
// answer to a HEAD, which keeps the Content-Length its handler declared instead.
std::string responseHead(unsigned version, int status, const Headers& headers, std::size_t bodySize,
                         bool keepAlive, bool declaredLength = false);

// Answers to these statuses carry no body.
bool bodilessStatus(int status);

// The head of a request sent upstream (HTTP/1.1): request line, `headers` without hop-by-hop
// fields, Content-Length and Expect, a Host of `defaultHost` when `headers` has none, then the
// body's framing: `contentLength` when known (a body of that size; 0 is written only for methods
// that expect a body), chunked when `chunked`.
std::string requestHead(std::string_view method, std::string_view target, const Headers& headers,
                        std::string_view defaultHost, std::optional<std::size_t> contentLength,
                        bool chunked);

// Connection, Keep-Alive, Transfer-Encoding, Upgrade, TE, Trailer and Proxy-*: they describe one
// hop, so a proxy copies them neither way.
bool isHopByHop(std::string_view name);

}  // namespace waha::http::wire
