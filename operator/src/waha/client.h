#pragma once

// A WAHA worker's session API as the controller sees it. HttpWahaClient (waha/http_client.*) talks
// to real WAHA (or waha-sim) over http/; tests use FakeWahaClient (tests/support/).
//
// The namespace is waha::wahaapi rather than waha::waha: a nested namespace named like its parent
// would shadow every `waha::` qualified name inside it.

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace waha::wahaapi {

using Json = nlohmann::json;

// Where a worker answers and with which key. The key is a secret: never logged.
struct Endpoint {
  std::string baseUrl;  // http://10.1.2.3:3000
  std::string apiKey;
};

struct Me {
  std::string id;  // "79111111@c.us"
  std::string pushName;
};

struct SessionInfo {
  std::string name;
  // WAHA's own status: STOPPED, STARTING, SCAN_QR_CODE, WORKING, FAILED, and values of newer
  // releases (PASSKEY_REQUIRED, ...) kept as they are: unknown means "not working", never a crash.
  std::string status;
  std::optional<Me> me;
  Json config;
};

enum class CreateOutcome {
  Created,
  AlreadyExisted,  // WAHA's 422 "already exists": the session is there, not a failure
};

template <typename T>
using Callback = std::function<void(Result<T>)>;

// Every call is asynchronous: it returns at once and its callback runs later on one of the
// client's own threads, so a slow worker (stops take 3-13 s in real WAHA) never pins a reconcile
// worker. Errors carry the HTTP status in `code` (0 = no answer: connect failure or timeout,
// retryable) and WAHA's message.
class WahaClient {
 public:
  virtual ~WahaClient() = default;
  // GET /api/sessions?all=true: every session the worker knows, STOPPED included.
  virtual void list(const Endpoint& ep, Callback<std::vector<SessionInfo>> cb) = 0;
  // GET /api/sessions/{name}; Error code 404 when absent.
  virtual void get(const Endpoint& ep, const std::string& name, Callback<SessionInfo> cb) = 0;
  // POST /api/sessions {"name","start","config"} (name and start always sent explicitly).
  virtual void create(const Endpoint& ep, const std::string& name, const Json& config, bool start,
                      Callback<CreateOutcome> cb) = 0;
  // POST /api/sessions/{name}/start; "already started" counts as success.
  virtual void start(const Endpoint& ep, const std::string& name, Callback<void> cb) = 0;
  // POST /api/sessions/{name}/stop.
  virtual void stop(const Endpoint& ep, const std::string& name, Callback<void> cb) = 0;
  // PUT /api/sessions/{name} {"config"}: replaces the config (restarts a running session).
  virtual void update(const Endpoint& ep, const std::string& name, const Json& config,
                      Callback<void> cb) = 0;
  // POST /api/sessions/{name}/logout.
  virtual void logout(const Endpoint& ep, const std::string& name, Callback<void> cb) = 0;
  // DELETE /api/sessions/{name}: stop + logout + delete; idempotent (404 counts as success).
  virtual void remove(const Endpoint& ep, const std::string& name, Callback<void> cb) = 0;
};

// Parses one session object of WAHA's JSON; tolerant of missing/extra fields.
Result<SessionInfo> parseSession(const Json& j);

}  // namespace waha::wahaapi
