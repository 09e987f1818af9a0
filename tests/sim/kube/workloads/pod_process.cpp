#include "workloads/pod_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "workloads/objects.h"

namespace waha::sim::workloads {
namespace {

Error configError(const std::string& msg) {
  return Error::make(422, "CreateContainerConfigError", msg, true);
}

// $(VAR) references to variables defined earlier; $$(VAR) escapes; unknown ones stay literal.
std::string expandRefs(const std::string& value,
                       const std::map<std::string, std::string>& defined) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value.compare(i, 3, "$$(") == 0) {
      out += "$(";
      i += 2;
      continue;
    }
    if (value.compare(i, 2, "$(") == 0) {
      auto close = value.find(')', i + 2);
      if (close != std::string::npos) {
        auto it = defined.find(value.substr(i + 2, close - i - 2));
        if (it != defined.end()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += value[i];
  }
  return out;
}

Result<std::string> fieldValue(const Json& pod, const std::string& path, const std::string& podIp,
                               const std::string& hostIp) {
  if (path == "status.podIP") {
    return podIp;
  }
  if (path == "status.hostIP") {
    return hostIp;
  }
  if (path.rfind("metadata.labels['", 0) == 0 || path.rfind("metadata.annotations['", 0) == 0) {
    bool labels = path[9] == 'l';
    auto start = path.find("['") + 2;
    std::string key = path.substr(start, path.size() - start - 2);
    const Json m = pod["metadata"].value(labels ? "labels" : "annotations", Json::object());
    return m.value(key, std::string());
  }
  static const std::map<std::string, const char*> pointers = {
      {"metadata.name", "/metadata/name"},
      {"metadata.namespace", "/metadata/namespace"},
      {"metadata.uid", "/metadata/uid"},
      {"spec.nodeName", "/spec/nodeName"},
      {"spec.serviceAccountName", "/spec/serviceAccountName"}};
  auto it = pointers.find(path);
  if (it == pointers.end()) {
    return configError("unsupported fieldRef " + path);
  }
  return strAt(pod, it->second);
}

// secretKeyRef / configMapKeyRef: the value, "" with found=false for an optional miss.
Result<std::string> keyRef(ObjectStore& store, const std::string& ns, const Json& ref, bool secret,
                           bool& found) {
  std::string name = ref.value("name", "");
  std::string key = ref.value("key", "");
  bool optional = ref.value("optional", false);
  found = false;
  auto obj = store.get(secret ? kSecrets : kConfigMaps, ns, name);
  const char* kind = secret ? "secret" : "configmap";
  if (!obj.ok()) {
    return optional ? Result<std::string>(std::string())
                    : Result<std::string>(
                          configError(std::string(kind) + " \"" + name + "\" not found"));
  }
  const Json data = obj->value("data", Json::object());
  const Json stringData = obj->value("stringData", Json::object());
  if (data.contains(key) && data[key].is_string()) {
    found = true;
    return secret ? base64Decode(data[key].get<std::string>()) : data[key].get<std::string>();
  }
  if (secret && stringData.contains(key) && stringData[key].is_string()) {
    found = true;  // a store that kept stringData as written
    return stringData[key].get<std::string>();
  }
  return optional ? Result<std::string>(std::string())
                  : Result<std::string>(configError("couldn't find key " + key + " in " + kind +
                                                    " " + ns + "/" + name));
}

Status addEnvFrom(ObjectStore& store, const std::string& ns, const Json& container,
                  std::map<std::string, std::string>& defined, EnvList& out) {
  for (const auto& src : container.value("envFrom", Json::array())) {
    bool secret = src.contains("secretRef");
    const Json ref = secret ? src["secretRef"] : src.value("configMapRef", Json::object());
    auto obj = store.get(secret ? kSecrets : kConfigMaps, ns, ref.value("name", ""));
    if (!obj.ok()) {
      if (ref.value("optional", false)) {
        continue;
      }
      return configError("envFrom " + ref.value("name", "") + " not found");
    }
    const Json data = obj->value("data", Json::object());
    for (const auto& [k, v] : data.items()) {
      std::string value = v.is_string() ? v.get<std::string>() : "";
      std::string name = src.value("prefix", "") + k;
      defined[name] = secret ? base64Decode(value) : value;
      out.emplace_back(name, defined[name]);
    }
  }
  return {};
}

}  // namespace

Result<EnvList> resolveEnv(ObjectStore& store, const Json& pod, const Json& container,
                           const std::string& podIp, const std::string& hostIp) {
  std::string ns = strAt(pod, "/metadata/namespace");
  std::map<std::string, std::string> defined;
  EnvList out;
  if (Status s = addEnvFrom(store, ns, container, defined, out); !s.ok()) {
    return s.error();
  }
  for (const auto& e : container.value("env", Json::array())) {
    std::string name = e.value("name", "");
    std::string value;
    bool found = true;
    if (e.contains("valueFrom")) {
      const Json& from = e["valueFrom"];
      Result<std::string> v = std::string();
      if (from.contains("secretKeyRef")) {
        v = keyRef(store, ns, from["secretKeyRef"], true, found);
      } else if (from.contains("configMapKeyRef")) {
        v = keyRef(store, ns, from["configMapKeyRef"], false, found);
      } else if (from.contains("fieldRef")) {
        v = fieldValue(pod, from["fieldRef"].value("fieldPath", ""), podIp, hostIp);
      }
      if (!v.ok()) {
        return v.error();
      }
      value = *v;
    } else {
      value = expandRefs(e.value("value", ""), defined);
    }
    if (!found) {
      continue;  // an optional key that is missing leaves the variable unset
    }
    defined[name] = value;
    out.emplace_back(name, value);
  }
  for (const auto& [k, v] : {std::pair<std::string, std::string>{"POD_IP", podIp},
                             {"POD_NAME", strAt(pod, "/metadata/name")},
                             {"POD_NAMESPACE", ns},
                             {"HOSTNAME", strAt(pod, "/metadata/name")}}) {
    if (defined.count(k) == 0) {
      out.emplace_back(k, v);
    }
  }
  return out;
}

int processPort(const Json& container) {
  for (const auto& p : container.value("ports", Json::array())) {
    if (p.contains("containerPort") && p["containerPort"].is_number_integer()) {
      return p["containerPort"].get<int>();
    }
  }
  const Json probe = container.value("readinessProbe", Json::object());
  for (const char* kind : {"httpGet", "tcpSocket"}) {
    if (probe.contains(kind) && probe[kind].contains("port") &&
        probe[kind]["port"].is_number_integer()) {
      return probe[kind]["port"].get<int>();
    }
  }
  return 8080;
}

std::string expandCommand(const std::string& tmpl,
                          const std::map<std::string, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      auto close = tmpl.find('}', i);
      if (close != std::string::npos) {
        auto it = values.find(tmpl.substr(i + 1, close - i - 1));
        if (it != values.end()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += tmpl[i];
  }
  return out;
}

std::string base64Decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) {
      continue;  // padding and line breaks
    }
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

Result<pid_t> spawnProcess(const std::string& command, const EnvList& env,
                           const std::string& logPath) {
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::vector<std::string> envStrings;
  for (const char* inherited : {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "LD_LIBRARY_PATH"}) {
    if (const char* v = std::getenv(inherited); v != nullptr) {
      envStrings.push_back(std::string(inherited) + "=" + v);
    }
  }
  for (const auto& [k, v] : env) {
    envStrings.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& s : envStrings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::string shellCommand = "exec " + command;
  const char* argv[] = {"/bin/sh", "-c", shellCommand.c_str(), nullptr};
  int logFd = open(logPath.empty() ? "/dev/null" : logPath.c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int nullFd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (logFd < 0 || nullFd < 0) {
    int err = errno;
    if (logFd >= 0) close(logFd);
    if (nullFd >= 0) close(nullFd);
    return Error::make(500, "LogFile", "cannot open " + logPath + ": " + std::strerror(err));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);
    }
    setpgid(0, 0);
    dup2(nullFd, 0);
    dup2(logFd, 1);
    dup2(logFd, 2);
    // Sockets and files of kube-sim must not outlive it in its pods.
    syscall(SYS_close_range, 3U, ~0U, 0U);
    // kube-sim blocks (sigwait) or ignores some signals; a container starts with the defaults.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
      signal(sig, SIG_DFL);
    }
    execve(argv[0], const_cast<char* const*>(argv), envp.data());
    _exit(127);
  }
  int err = errno;
  close(logFd);
  close(nullFd);
  if (pid < 0) {
    return Error::make(500, "ForkFailed", std::strerror(err));
  }
  setpgid(pid, pid);  // also from the parent, so a signal right away reaches the group
  return pid;
}

bool reapProcess(pid_t pid, int& exitCode) {
  int status = 0;
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) {
    exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    exitCode = 255;  // reaped elsewhere: treat as gone
    return true;
  }
  return false;
}

void signalProcess(pid_t pid, int signal) {
  if (pid > 0) {
    ::kill(-pid, signal);
    ::kill(pid, signal);
  }
}

}  // namespace waha::sim::workloads
