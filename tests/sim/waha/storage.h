#pragma once

// What outlives a simulator process: session configs, auth ("paired" state) and which worker ran
// which session (the local store or the shared directory standing for PostgreSQL), and the phone
// registry that referees the one-worker rule across processes.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace waha::sim {

// Layout: <dir>/sessions/<name>/{config.json,auth.json,owner.json}, <dir>/files/<name>/<file>.
class SessionStorage {
 public:
  explicit SessionStorage(std::string dir) : dir_(std::move(dir)) {}
  bool init();  // creates the directory tree; false if it cannot
  const std::string& dir() const { return dir_; }

  void saveConfig(const std::string& name, const nlohmann::json& config);
  std::optional<nlohmann::json> loadConfig(const std::string& name) const;
  void removeSession(const std::string& name);  // config, auth and owner
  std::vector<std::string> listSessions() const;

  void saveAuth(const std::string& name, const nlohmann::json& me);
  std::optional<nlohmann::json> loadAuth(const std::string& name) const;
  void removeAuth(const std::string& name);

  struct Owner {
    std::string worker;
    bool running = false;
  };
  void setOwner(const std::string& name, const Owner& owner);
  std::optional<Owner> owner(const std::string& name) const;

  std::string filePath(const std::string& session, const std::string& file) const;

 private:
  std::string sessionDir(const std::string& name) const { return dir_ + "/sessions/" + name; }
  std::string dir_;
};

// Per-session lock files held with flock(LOCK_EX|LOCK_NB) while a session is live. The kernel
// drops a crashed process's locks, so a dead simulator never blocks a session forever.
// A newcomer that finds the lock held writes <dir>/<session>.conflict (holders poll for it) and
// appends one line to <dir>/conflicts.log: WhatsApp's 440 "conflict" kicks both connections.
class PhoneRegistry {
 public:
  PhoneRegistry(std::string dir, std::string workerId);
  ~PhoneRegistry();
  bool init();
  bool enabled() const { return !dir_.empty(); }

  enum class Acquire { Ok, Conflict, Error };
  // On Conflict, `holder` names the worker holding the lock.
  Acquire acquire(const std::string& session, std::string* holder);
  void release(const std::string& session);
  // Sessions held here for which another simulator reported a conflict; their locks are released.
  std::vector<std::string> takeConflicts();
  void releaseAll();

 private:
  std::string dir_;
  std::string workerId_;
  std::mutex mu_;
  std::map<std::string, int> held_;  // session -> fd holding the lock
};

bool validSessionName(const std::string& name);
bool writeFileAtomic(const std::string& path, const std::string& content);

}  // namespace waha::sim
