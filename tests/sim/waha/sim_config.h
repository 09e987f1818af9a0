#pragma once

// Configuration of one simulated WAHA worker. Read like real WAHA (env), with flags that mirror
// the env and win over it, so a test can start a simulator without touching its own environment.

#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace waha::sim {

// Faults a test can switch on at start (flags) or at run time (POST /_sim/faults).
struct Faults {
  int latencyMs = 0;           // added before every API answer
  double errorShare = 0.0;     // share of API calls answered 500, in [0, 1]
  std::string hang;            // "" none, "*" every API call, else a path prefix never answered
  bool crashOnStop = false;    // the process dies inside a stop call (NOWEB crash under stop)
  bool ignoreSigterm = false;  // SIGTERM is ignored (a worker stuck in a connection)
  int maxSessions = 0;         // starts past this many active sessions are refused (0: no limit)
};

struct SimConfig {
  std::string host = "127.0.0.1";
  int port = 3000;
  std::string portFile;  // the bound port is written here (useful with port 0)
  int threads = 2;
  std::string apiKey;
  std::vector<std::string> excludePaths;  // WHATSAPP_API_KEY_EXCLUDE_PATH, without leading '/'
  std::string workerId = "waha-sim";
  std::string engine = "NOWEB";
  std::string version = "2026.6.1";
  bool restartAllSessions = false;     // WHATSAPP_RESTART_ALL_SESSIONS
  bool workerRestartSessions = false;  // WAHA_WORKER_RESTART_SESSIONS
  std::string localStoreDir;           // WAHA_LOCAL_STORE_BASE_DIR (empty: a fresh temp dir)
  std::string sharedStoreDir;          // from WHATSAPP_SESSIONS_POSTGRESQL_URL
  std::string phoneRegistry;           // double-run detector directory (empty: off)
  bool prometheus = false;             // WAHA_PROMETHEUS_ENABLED
  int qrDelayMs = 100;                 // STARTING -> SCAN_QR_CODE / WORKING
  int slowOpMs = 50;        // WAHA's fixed sleep in stop/restart/PUT/logout/delete (~3000)
  int statusWaitMs = 0;     // WAHA waits up to 5000 ms for an expected status
  int conflictPollMs = 50;  // how often holders look for a conflict marker
  Faults faults;

  // The directory holding session configs and auth: the shared one when configured.
  const std::string& storeDir() const {
    return sharedStoreDir.empty() ? localStoreDir : sharedStoreDir;
  }
};

// Builds the configuration from environment variables and command-line flags (flags win).
// Returns an error for unknown flags or malformed values; `helpRequested` is set for --help.
Result<SimConfig> parseConfig(const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env,
                              bool* helpRequested = nullptr);

// Maps WHATSAPP_SESSIONS_POSTGRESQL_URL to a directory standing for the shared database:
// "file:///x" and "/x" name it directly; "postgres://..." maps to a directory under `tmpRoot`
// named after host, port and database, so simulators given the same URL share it.
std::string sharedDirFromUrl(const std::string& url, const std::string& tmpRoot);

std::string usage();

}  // namespace waha::sim
