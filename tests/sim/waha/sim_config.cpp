#include "sim_config.h"

#include <cstdlib>
#include <functional>
#include <sstream>

namespace waha::sim {
namespace {

// One option: its flag, the env variables that feed it (first set wins) and how it is stored.
struct Option {
  const char* flag;
  std::vector<const char*> envs;
  bool isBool;
  const char* help;
  std::function<bool(SimConfig&, const std::string&)> set;
};

bool parseBool(const std::string& v, bool& out) {
  if (v == "true" || v == "True" || v == "TRUE" || v == "1" || v == "yes") {
    out = true;
    return true;
  }
  if (v == "false" || v == "False" || v == "FALSE" || v == "0" || v == "no" || v.empty()) {
    out = false;
    return true;
  }
  return false;
}

bool parseInt(const std::string& v, int& out) {
  try {
    std::size_t pos = 0;
    long n = std::stol(v, &pos);
    if (pos != v.size() || n < 0 || n > 1000000000) {
      return false;
    }
    out = static_cast<int>(n);
    return true;
  } catch (...) {
    return false;
  }
}

std::vector<std::string> splitList(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    while (!item.empty() && (item.front() == ' ' || item.front() == '/')) {
      item.erase(item.begin());
    }
    while (!item.empty() && item.back() == ' ') {
      item.pop_back();
    }
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

auto boolField(bool SimConfig::*f) {
  return [f](SimConfig& c, const std::string& v) { return parseBool(v, c.*f); };
}
auto intField(int SimConfig::*f) {
  return [f](SimConfig& c, const std::string& v) { return parseInt(v, c.*f); };
}
auto strField(std::string SimConfig::*f) {
  return [f](SimConfig& c, const std::string& v) {
    c.*f = v;
    return true;
  };
}

const std::vector<Option>& options() {
  static const std::vector<Option> opts = {
      {"host",
       {"WAHA_SIM_HOST", "POD_IP"},
       false,
       "address to bind (default $POD_IP, else 127.0.0.1)",
       strField(&SimConfig::host)},
      {"port",
       {"WHATSAPP_API_PORT", "PORT"},
       false,
       "port (default 3000; 0 picks a free one)",
       intField(&SimConfig::port)},
      {"port-file",
       {"WAHA_SIM_PORT_FILE"},
       false,
       "write the bound port to this file",
       strField(&SimConfig::portFile)},
      {"threads",
       {"WAHA_SIM_THREADS"},
       false,
       "HTTP server threads (default 2)",
       intField(&SimConfig::threads)},
      {"api-key",
       {"WHATSAPP_API_KEY", "WAHA_API_KEY"},
       false,
       "X-Api-Key required when set",
       strField(&SimConfig::apiKey)},
      {"api-key-exclude-path",
       {"WHATSAPP_API_KEY_EXCLUDE_PATH"},
       false,
       "comma list of paths left open (e.g. ping,health)",
       [](SimConfig& c, const std::string& v) {
         c.excludePaths = splitList(v);
         return true;
       }},
      {"worker-id",
       {"WAHA_WORKER_ID"},
       false,
       "worker id (X-Waha-Worker, server status)",
       strField(&SimConfig::workerId)},
      {"engine",
       {"WHATSAPP_DEFAULT_ENGINE"},
       false,
       "WEBJS|NOWEB|GOWS (default NOWEB)",
       strField(&SimConfig::engine)},
      {"version-string",
       {"WAHA_SIM_VERSION"},
       false,
       "version reported by /api/server/version",
       strField(&SimConfig::version)},
      {"restart-all-sessions",
       {"WHATSAPP_RESTART_ALL_SESSIONS"},
       true,
       "on start, start every session found in storage (dangerous with shared storage)",
       boolField(&SimConfig::restartAllSessions)},
      {"worker-restart-sessions",
       {"WAHA_WORKER_RESTART_SESSIONS"},
       true,
       "on start, resume the sessions this worker id had running",
       boolField(&SimConfig::workerRestartSessions)},
      {"data-dir",
       {"WAHA_LOCAL_STORE_BASE_DIR"},
       false,
       "local session store (default: temp dir)",
       strField(&SimConfig::localStoreDir)},
      {"shared-dir",
       {"WHATSAPP_SESSIONS_POSTGRESQL_URL"},
       false,
       "shared session store standing for PostgreSQL: file:///dir, /dir or postgres://...",
       [](SimConfig& c, const std::string& v) {
         const char* tmp = std::getenv("TMPDIR");
         c.sharedStoreDir = v.empty() ? "" : sharedDirFromUrl(v, tmp != nullptr ? tmp : "/tmp");
         return true;
       }},
      {"phone-registry",
       {"WAHA_SIM_PHONE_REGISTRY"},
       false,
       "double-run detector directory shared by all simulators",
       strField(&SimConfig::phoneRegistry)},
      {"prometheus",
       {"WAHA_PROMETHEUS_ENABLED"},
       true,
       "serve GET /metrics",
       boolField(&SimConfig::prometheus)},
      {"qr-delay-ms",
       {"WAHA_SIM_QR_DELAY_MS"},
       false,
       "STARTING lasts this long (default 100)",
       intField(&SimConfig::qrDelayMs)},
      {"slow-op-ms",
       {"WAHA_SIM_SLOW_OP_MS"},
       false,
       "stop/restart/PUT/logout/delete answer after this long (default 50; real WAHA ~3000)",
       intField(&SimConfig::slowOpMs)},
      {"status-wait-ms",
       {"WAHA_SIM_STATUS_WAIT_MS"},
       false,
       "wait this long for an expected status before 422 (default 0; real WAHA 5000)",
       intField(&SimConfig::statusWaitMs)},
      {"conflict-poll-ms",
       {"WAHA_SIM_CONFLICT_POLL_MS"},
       false,
       "how often a holder checks for conflict markers (default 50)",
       intField(&SimConfig::conflictPollMs)},
      {"max-sessions",
       {"WAHA_SIM_MAX_SESSIONS"},
       false,
       "refuse starts past this many (0: no limit)",
       [](SimConfig& c, const std::string& v) { return parseInt(v, c.faults.maxSessions); }},
      {"latency-ms",
       {"WAHA_SIM_LATENCY_MS"},
       false,
       "fault: delay every API answer",
       [](SimConfig& c, const std::string& v) { return parseInt(v, c.faults.latencyMs); }},
      {"error-share",
       {"WAHA_SIM_ERROR_SHARE"},
       false,
       "fault: share of API calls answered 500",
       [](SimConfig& c, const std::string& v) {
         try {
           c.faults.errorShare = std::stod(v);
         } catch (...) {
           return false;
         }
         return c.faults.errorShare >= 0.0 && c.faults.errorShare <= 1.0;
       }},
      {"hang",
       {"WAHA_SIM_HANG"},
       false,
       "fault: never answer calls under this path prefix ('*': all)",
       [](SimConfig& c, const std::string& v) {
         c.faults.hang = v;
         return true;
       }},
      {"crash-on-stop",
       {"WAHA_SIM_CRASH_ON_STOP"},
       true,
       "fault: the process dies in a stop call",
       [](SimConfig& c, const std::string& v) { return parseBool(v, c.faults.crashOnStop); }},
      {"ignore-sigterm",
       {"WAHA_SIM_IGNORE_SIGTERM"},
       true,
       "fault: ignore SIGTERM",
       [](SimConfig& c, const std::string& v) { return parseBool(v, c.faults.ignoreSigterm); }},
  };
  return opts;
}

Error badValue(const std::string& what, const std::string& value) {
  return Error::make(400, "BadConfig", "invalid value for " + what + ": '" + value + "'");
}

}  // namespace

std::string sharedDirFromUrl(const std::string& url, const std::string& tmpRoot) {
  if (url.rfind("file://", 0) == 0) {
    return url.substr(7);
  }
  if (!url.empty() && url.front() == '/') {
    return url;
  }
  // postgres://user:pass@host:port/db?opts -> <tmpRoot>/waha-sim-pg/host_port_db
  std::string rest = url;
  auto scheme = rest.find("://");
  if (scheme != std::string::npos) {
    rest = rest.substr(scheme + 3);
  }
  auto at = rest.rfind('@');
  if (at != std::string::npos) {
    rest = rest.substr(at + 1);  // credentials never become part of a path
  }
  auto q = rest.find('?');
  if (q != std::string::npos) {
    rest = rest.substr(0, q);
  }
  std::string name;
  for (char ch : rest) {
    bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '-' || ch == '.';
    name.push_back(keep ? ch : '_');
  }
  return tmpRoot + "/waha-sim-pg/" + (name.empty() ? "default" : name);
}

Result<SimConfig> parseConfig(const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env, bool* helpRequested) {
  SimConfig cfg;
  if (helpRequested != nullptr) {
    *helpRequested = false;
  }
  for (const auto& opt : options()) {
    for (const char* name : opt.envs) {
      auto it = env.find(name);
      if (it != env.end() && !it->second.empty()) {
        if (!opt.set(cfg, it->second)) {
          return badValue(name, it->second);
        }
        break;
      }
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      if (helpRequested != nullptr) {
        *helpRequested = true;
      }
      return cfg;
    }
    if (arg.rfind("--", 0) != 0) {
      return Error::make(400, "BadConfig", "unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Option* found = nullptr;
    for (const auto& opt : options()) {
      if (name == opt.flag) {
        found = &opt;
      }
    }
    if (found == nullptr) {
      return Error::make(400, "BadConfig", "unknown flag --" + name + " (see --help)");
    }
    if (!value) {
      if (found->isBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Error::make(400, "BadConfig", "flag --" + name + " needs a value");
      }
    }
    if (!found->set(cfg, *value)) {
      return badValue("--" + name, *value);
    }
  }
  if (cfg.port > 65535) {
    return badValue("port", std::to_string(cfg.port));
  }
  if (cfg.threads < 1) {
    cfg.threads = 1;
  }
  return cfg;
}

std::string usage() {
  std::string out =
      "waha-sim: a simulated WAHA worker for tests, benchmarks and demos.\n"
      "Usage: waha-sim [--flag value | --flag=value]...\n"
      "Every flag mirrors an environment variable (flags win).\n\n";
  for (const auto& opt : options()) {
    std::string line = std::string("  --") + opt.flag;
    line.resize(28, ' ');
    line += opt.help;
    if (!opt.envs.empty()) {
      line += " [env:";
      for (const char* e : opt.envs) {
        line += std::string(" ") + e;
      }
      line += "]";
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace waha::sim
