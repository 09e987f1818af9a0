#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace waha::test {

// A child process started by a test (simulators, the operator, kubectl). Its stdout and stderr go
// to `logPath`. It gets SIGKILL if the test process dies, and is stopped in the destructor.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
          std::string logPath = "");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool alive();
  // SIGTERM, then SIGKILL after `grace`; returns the exit status (128+signal when killed).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  void kill(int signal);
  // Waits for the process to end by itself; returns false on timeout.
  bool wait(std::chrono::milliseconds timeout, int* status = nullptr);
  const std::string& logPath() const { return logPath_; }
  std::string log() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string logPath_;
};

struct CommandResult {
  int exitCode = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  bool timedOut = false;
};

// Runs a command to completion (kubectl and the like), with a deadline.
CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60),
                         const std::string& stdinData = "");

}  // namespace waha::test
