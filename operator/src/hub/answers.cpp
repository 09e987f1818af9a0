#include "hub/answers.h"

#include <nlohmann/json.hpp>

namespace waha::hub {

http::Response wahaError(int status, const std::string& message) {
  nlohmann::json j = {{"statusCode", status}, {"message", message}};
  if (status != 401) {
    j["error"] = http::reasonPhrase(status);
  }
  return http::Response::json(status, j.dump());
}

http::Response notPlaced(const std::string& session, const std::string& reason, int seconds) {
  std::string why =
      reason == "moving" ? "is moving to another worker" : "is not placed on a worker yet";
  auto r = wahaError(503, "Session '" + session + "' " + why + "; retry later");
  r.headers.set("Retry-After", std::to_string(seconds));
  return r;
}

http::Response sessionNotFound() { return wahaError(404, "Session not found"); }

http::Response unauthorized() { return wahaError(401, "Unauthorized"); }

bool constantTimeEquals(const std::string& given, const std::string& expected) {
  // Walk the expected key whatever was given, so neither the position of the first difference
  // nor the given length shortens the loop.
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

}  // namespace waha::hub
