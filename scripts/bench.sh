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
if [ "$ran" -eq 0 ]; then
  echo "make bench: no benchmarks built yet" >&2
  exit 1
fi
