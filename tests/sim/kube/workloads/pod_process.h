#pragma once

// Running a pod's container as a real local process: env resolved like a kubelet, the command
// template filled in, fork/exec with the process tied to kube-sim's life.

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "object_store.h"

namespace waha::sim::workloads {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// The container's environment as a kubelet builds it: envFrom (secretRef/configMapRef), then env
// with plain values ($(VAR) expanded), valueFrom.secretKeyRef (base64 `data` decoded),
// configMapKeyRef and fieldRef (metadata.name/namespace/uid/labels/annotations, status.podIP,
// status.hostIP, spec.nodeName, spec.serviceAccountName), then POD_IP, POD_NAME, POD_NAMESPACE
// and HOSTNAME. A missing non-optional reference fails (the kubelet's CreateContainerConfigError).
Result<EnvList> resolveEnv(ObjectStore& store, const Json& pod, const Json& container,
                           const std::string& podIp, const std::string& hostIp);

// The port a pod's process should listen on: the container's first containerPort, else its
// readiness probe's numeric port, else 8080.
int processPort(const Json& container);

// Replaces {name} placeholders by their values; unknown placeholders stay as written.
std::string expandCommand(const std::string& tmpl,
                          const std::map<std::string, std::string>& values);

std::string base64Decode(const std::string& in);

// Starts `/bin/sh -c "exec <command>"` in its own process group with `env` (plus PATH, HOME,
// LANG, TMPDIR and LD_LIBRARY_PATH from kube-sim), stdout+stderr appended to `logPath`. The child
// gets SIGKILL if the spawning thread's process dies (PR_SET_PDEATHSIG).
Result<pid_t> spawnProcess(const std::string& command, const EnvList& env,
                           const std::string& logPath);
// Non-blocking reap of that one child (never waitpid(-1): others in the process own theirs).
// True once it exited; `exitCode` is its status, 128+signal when killed.
bool reapProcess(pid_t pid, int& exitCode);
// Signals the whole process group (the shell's children too).
void signalProcess(pid_t pid, int signal);

}  // namespace waha::sim::workloads
