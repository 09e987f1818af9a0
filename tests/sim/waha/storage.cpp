#include "storage.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "common/log.h"

namespace fs = std::filesystem;

namespace waha::sim {
namespace {

std::optional<std::string> readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<nlohmann::json> readJson(const std::string& path) {
  auto text = readAll(path);
  if (!text) {
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    return std::nullopt;
  }
  return j;
}

}  // namespace

bool validSessionName(const std::string& name) {
  if (name.empty() || name.size() > 54) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return name != "." && name != "..";
}

bool writeFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return false;
    }
    out << content;
    if (!out) {
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

bool SessionStorage::init() {
  std::error_code ec;
  fs::create_directories(dir_ + "/sessions", ec);
  fs::create_directories(dir_ + "/files", ec);
  return fs::is_directory(dir_ + "/sessions");
}

void SessionStorage::saveConfig(const std::string& name, const nlohmann::json& config) {
  std::error_code ec;
  fs::create_directories(sessionDir(name), ec);
  writeFileAtomic(sessionDir(name) + "/config.json", config.dump());
}

std::optional<nlohmann::json> SessionStorage::loadConfig(const std::string& name) const {
  return readJson(sessionDir(name) + "/config.json");
}

void SessionStorage::removeSession(const std::string& name) {
  std::error_code ec;
  fs::remove_all(sessionDir(name), ec);
  fs::remove_all(dir_ + "/files/" + name, ec);
}

std::vector<std::string> SessionStorage::listSessions() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/sessions", ec)) {
    std::string name = entry.path().filename().string();
    if (validSessionName(name) && fs::exists(entry.path() / "config.json")) {
      out.push_back(name);
    }
  }
  return out;
}

void SessionStorage::saveAuth(const std::string& name, const nlohmann::json& me) {
  std::error_code ec;
  fs::create_directories(sessionDir(name), ec);
  writeFileAtomic(sessionDir(name) + "/auth.json", me.dump());
}

std::optional<nlohmann::json> SessionStorage::loadAuth(const std::string& name) const {
  return readJson(sessionDir(name) + "/auth.json");
}

void SessionStorage::removeAuth(const std::string& name) {
  std::error_code ec;
  fs::remove(sessionDir(name) + "/auth.json", ec);
}

void SessionStorage::setOwner(const std::string& name, const Owner& owner) {
  std::error_code ec;
  fs::create_directories(sessionDir(name), ec);
  nlohmann::json j = {{"worker", owner.worker}, {"running", owner.running}};
  writeFileAtomic(sessionDir(name) + "/owner.json", j.dump());
}

std::optional<SessionStorage::Owner> SessionStorage::owner(const std::string& name) const {
  auto j = readJson(sessionDir(name) + "/owner.json");
  if (!j || !j->is_object()) {
    return std::nullopt;
  }
  return Owner{j->value("worker", ""), j->value("running", false)};
}

std::string SessionStorage::filePath(const std::string& session, const std::string& file) const {
  return dir_ + "/files/" + session + "/" + file;
}

PhoneRegistry::PhoneRegistry(std::string dir, std::string workerId)
    : dir_(std::move(dir)), workerId_(std::move(workerId)) {}

PhoneRegistry::~PhoneRegistry() { releaseAll(); }

bool PhoneRegistry::init() {
  if (dir_.empty()) {
    return true;
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  return fs::is_directory(dir_);
}

PhoneRegistry::Acquire PhoneRegistry::acquire(const std::string& session, std::string* holder) {
  if (dir_.empty()) {
    return Acquire::Ok;
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (held_.count(session) != 0) {
    return Acquire::Ok;
  }
  std::string lockPath = dir_ + "/" + session + ".lock";
  int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Acquire::Error;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    // Sole holder now: any conflict marker left is about an earlier, finished conflict.
    std::error_code ec;
    fs::remove(dir_ + "/" + session + ".conflict", ec);
    std::string who = workerId_ + " pid=" + std::to_string(getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) {
      ssize_t n = ::pwrite(fd, who.data(), who.size(), 0);
      (void)n;
    }
    held_[session] = fd;
    return Acquire::Ok;
  }
  int err = errno;
  std::string current = readAll(lockPath).value_or("");
  ::close(fd);
  if (err != EWOULDBLOCK) {
    return Acquire::Error;
  }
  while (!current.empty() && current.back() == '\n') {
    current.pop_back();
  }
  if (holder != nullptr) {
    *holder = current;
  }
  writeFileAtomic(dir_ + "/" + session + ".conflict", workerId_ + "\n");
  std::string line = formatRfc3339(std::chrono::system_clock::now()) + " session=" + session +
                     " holder=\"" + current + "\" newcomer=\"" + workerId_ +
                     " pid=" + std::to_string(getpid()) + "\"\n";
  int logFd =
      ::open((dir_ + "/conflicts.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd >= 0) {
    // One write() with O_APPEND: lines from concurrent simulators never interleave.
    ssize_t n = ::write(logFd, line.data(), line.size());
    (void)n;
    ::close(logFd);
  }
  return Acquire::Conflict;
}

void PhoneRegistry::release(const std::string& session) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = held_.find(session);
  if (it == held_.end()) {
    return;
  }
  ::close(it->second);  // closing the last descriptor drops the flock
  held_.erase(it);
}

std::vector<std::string> PhoneRegistry::takeConflicts() {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lk(mu_);
  for (auto it = held_.begin(); it != held_.end();) {
    std::string marker = dir_ + "/" + it->first + ".conflict";
    if (::access(marker.c_str(), F_OK) == 0) {
      std::error_code ec;
      fs::remove(marker, ec);
      ::close(it->second);
      out.push_back(it->first);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void PhoneRegistry::releaseAll() {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& [name, fd] : held_) {
    ::close(fd);
  }
  held_.clear();
}

}  // namespace waha::sim
