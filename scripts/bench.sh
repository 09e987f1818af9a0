#!/usr/bin/env bash
# Runs the benchmarks that exist; each prints its figures and the command that reproduces it.
set -euo pipefail
BUILD_DIR="${1:-build}"
ran=0
for b in "$BUILD_DIR"/bench/*; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b"
  ran=$((ran+1))
done
# The operator's own benchmark (a whole system: kube-sim, waha-sim pods, the operator).
if [ -x "$BUILD_DIR/operator/waha-operator" ] && [ -x "$BUILD_DIR/tests/sim/kube/kube-sim" ]; then
  echo "== scripts/bench-operator.sh"
  "$(dirname "$0")/bench-operator.sh" "$BUILD_DIR"
  ran=$((ran+1))
fi
if [ "$ran" -eq 0 ]; then
  echo "make bench: no benchmarks built yet" >&2
  exit 1
fi
