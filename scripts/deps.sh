#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing.
# A second run with everything present finishes in well under a second (dpkg-query only).
set -euo pipefail
PKGS=(build-essential cmake ninja-build ccache pkg-config git curl
      libcpprest-dev libboost-dev libboost-system-dev libssl-dev openssl
      libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev catch2 zlib1g-dev
      clang-format python3 python3-yaml python3-jsonschema)
# Extra packages for a target, e.g. `deps.sh bench` adds wrk and nginx.
case "${1:-}" in
  bench) PKGS+=(wrk nginx-light) ;;
esac
# Real kubectl referees the API emulator. Machines of this project ship one; elsewhere Debian's
# kubernetes-client package provides it.
if ! command -v kubectl >/dev/null 2>&1; then PKGS+=(kubernetes-client); fi
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
