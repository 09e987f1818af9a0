#pragma once

// WAHA session names: one rule set shared by the CRD pattern (crds/generate.py), the operator's
// validation and the hub's routing, so a name the operator accepts is one the hub can route.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace waha::api {

// WAHA keeps a session's data under its name (PostgreSQL: one database per session, named
// after it, and identifiers stop at 63 bytes), so names stay short and URL- and SQL-safe.
inline constexpr std::size_t kMaxSessionNameLength = 54;
inline constexpr const char* kSessionNamePattern = "^[a-zA-Z0-9_-]+$";

// Non-empty, at most kMaxSessionNameLength, only A-Z a-z 0-9 _ -.
bool matchesSessionNamePattern(std::string_view name);

// True when `name` equals (case-insensitively: WAHA's Express router ignores case) the first
// path segment of one of WAHA's fixed routes under /api/ ("sessions", "sendText", ...), or looks
// like a future send route ("send" followed by an upper-case letter), so /api/{name}/... would
// be ambiguous for the hub.
bool isReservedSessionName(std::string_view name);

// The fixed list behind isReservedSessionName, as WAHA spells the routes.
const std::vector<std::string>& reservedSessionNames();

// Empty when `name` is a usable session name, else why not ("must be at most 54 characters").
std::string sessionNameProblem(std::string_view name);

}  // namespace waha::api
