#pragma once

// WAHA-shaped answers (NestJS errors: {"statusCode","message","error"}), so existing clients
// parse the hub's own errors as they parse a worker's.

#include <string>

#include "http/http.h"

namespace waha::hub {

http::Response wahaError(int status, const std::string& message);
// 503 for a session that has no usable worker right now; the client retries after `seconds`.
http::Response notPlaced(const std::string& session, const std::string& reason, int seconds);
http::Response sessionNotFound();
http::Response unauthorized();

// True when `given` equals `expected`; the time taken does not depend on where they differ.
bool constantTimeEquals(const std::string& given, const std::string& expected);

}  // namespace waha::hub
