#include "errors.h"

namespace waha::sim {

namespace {
thread_local Json tlDetails;
}

void setErrorDetails(Json details) { tlDetails = std::move(details); }

Json takeErrorDetails() {
  Json d = std::move(tlDetails);
  tlDetails = nullptr;
  return d;
}

Json statusJson(const Error& e, Json details) {
  Json s = {{"kind", "Status"},    {"apiVersion", "v1"},   {"metadata", Json::object()},
            {"status", "Failure"}, {"message", e.message}, {"reason", e.reason},
            {"code", e.code}};
  if (details.is_object() && !details.empty()) {
    s["details"] = std::move(details);
  }
  return s;
}

}  // namespace waha::sim
