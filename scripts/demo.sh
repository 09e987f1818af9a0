#!/usr/bin/env bash
# Runs the whole system locally. Until the operator's core exists this says what is missing and
# fails: it never pretends.
set -euo pipefail
BUILD_DIR="${1:-build}"
missing=()
[ -x "$BUILD_DIR/tests/sim/kube/kube-sim" ] || missing+=("kube-sim (Kubernetes API emulator, issue 3)")
[ -x "$BUILD_DIR/tests/sim/waha/waha-sim" ] || missing+=("waha-sim (WAHA worker simulator, issue 4)")
[ -x "$BUILD_DIR/operator/waha-operator" ] || missing+=("waha-operator controller (the operator's core, issue 6)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "make demo: the local demo is not available yet. Missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
exec "$(dirname "$0")/demo-run.sh" "$BUILD_DIR"
