#include "api/names.h"

#include <algorithm>
#include <cctype>

namespace waha::api {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

const std::vector<std::string>& reservedSessionNames() {
  // First segments of WAHA's session-less and body/query-session routes (/api/<segment>...),
  // plus the lifecycle verbs of /api/sessions/{start,stop,logout} and the root pages.
  static const std::vector<std::string> names = {"sessions",
                                                 "server",
                                                 "version",
                                                 "health",
                                                 "ping",
                                                 "ws",
                                                 "dashboard",
                                                 "docs",
                                                 "swagger",
                                                 "-json",
                                                 "api",
                                                 "apps",
                                                 "keys",
                                                 "files",
                                                 "screenshot",
                                                 "contacts",
                                                 "messages",
                                                 "checkNumberStatus",
                                                 "checkNumberExists",
                                                 "reply",
                                                 "reaction",
                                                 "star",
                                                 "forwardMessage",
                                                 "sendText",
                                                 "sendImage",
                                                 "sendFile",
                                                 "sendVoice",
                                                 "sendVideo",
                                                 "sendButtons",
                                                 "sendButtonsReply",
                                                 "sendList",
                                                 "sendPoll",
                                                 "sendPollVote",
                                                 "sendLocation",
                                                 "sendLinkPreview",
                                                 "sendLinkCustomPreview",
                                                 "sendContactVcard",
                                                 "sendEvent",
                                                 "sendSeen",
                                                 "startTyping",
                                                 "stopTyping",
                                                 "start",
                                                 "stop",
                                                 "restart",
                                                 "logout",
                                                 "metrics",
                                                 "events",
                                                 "webhooks",
                                                 "media"};
  return names;
}

bool matchesSessionNamePattern(std::string_view name) {
  if (name.empty() || name.size() > kMaxSessionNameLength) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '-'; });
}

bool isReservedSessionName(std::string_view name) {
  const std::string l = lower(name);
  for (const auto& r : reservedSessionNames()) {
    if (lower(r) == l) {
      return true;
    }
  }
  return name.size() > 4 && l.compare(0, 4, "send") == 0 &&
         std::isupper(static_cast<unsigned char>(name[4])) != 0;
}

std::string sessionNameProblem(std::string_view name) {
  if (name.empty()) {
    return "must not be empty";
  }
  if (name.size() > kMaxSessionNameLength) {
    return "must be at most " + std::to_string(kMaxSessionNameLength) + " characters";
  }
  if (!matchesSessionNamePattern(name)) {
    return std::string("must match ") + kSessionNamePattern;
  }
  if (isReservedSessionName(name)) {
    return "\"" + std::string(name) + "\" is reserved: it collides with a fixed WAHA route";
  }
  return "";
}

}  // namespace waha::api
