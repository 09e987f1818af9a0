#!/usr/bin/env bash
# Operator benchmark: N WahaSessions created at once on W simulated workers (kube-sim pods running
# waha-sim). Prints the time until all are Running and the operator's peak RSS (VmHWM).
#   scripts/bench-operator.sh [build-dir]        SESSIONS=1000 WORKERS=10 by default
set -euo pipefail
BUILD_DIR="$(cd "${1:-build}" && pwd)"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SESSIONS="${SESSIONS:-1000}"
WORKERS="${WORKERS:-10}"
PER=$(( (SESSIONS + WORKERS - 1) / WORKERS ))
DIR="$(mktemp -d /tmp/waha-bench-XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
k() { kubectl --kubeconfig "$DIR/kubeconfig" --cache-dir "$DIR/kube-cache" "$@"; }
now_ms() { date +%s%3N; }
wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until eval "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: timed out: $*" >&2; return 1; }
    sleep 0.2
  done
}
running() { k get wahasessions -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c '^Running$' || true; }

"$BUILD_DIR/tests/sim/kube/kube-sim" --kubeconfig-out "$DIR/kubeconfig" --port-file "$DIR/ports.json" \
  --state-dir "$DIR/state" --pod-ready-delay-ms 100 \
  --pod-command "$BUILD_DIR/tests/sim/waha/waha-sim --phone-registry $DIR/phones --data-dir $DIR/state/d-{podName}" \
  >"$DIR/kube-sim.log" 2>&1 &
pids+=($!)
mkdir -p "$DIR/phones"
wait_until 20 '[ -s "$DIR/ports.json" ]'
k apply --validate=false -f "$ROOT/crds/" >/dev/null
k wait --for=condition=Established crd/wahasessions.waha.io >/dev/null
k apply --validate=false -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: bench-key, namespace: default}
stringData: {api-key: bench}
---
apiVersion: waha.io/v1alpha1
kind: WahaCluster
metadata: {name: bench, namespace: default}
spec:
  sessionsPerWorker: $PER
  workers: {min: $WORKERS, max: $WORKERS}
  apiKeySecretRef: {name: bench-key, key: api-key}
YAML
"$BUILD_DIR/operator/waha-operator" controller --kubeconfig "$DIR/kubeconfig" --leader-elect=false \
  --metrics-bind-address 127.0.0.1:0 --worker-sync-interval 2 --session-workers 16 \
  >"$DIR/operator.log" 2>&1 &
op=$!
pids+=($op)
wait_until 120 '[ "$(k get pods -o jsonpath="{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}" | grep -c True)" -ge "$WORKERS" ]'
"$ROOT/examples/gen-sessions.sh" "$SESSIONS" bench default > "$DIR/sessions.yaml"
t0=$(now_ms)
k create --validate=false -f "$DIR/sessions.yaml" >/dev/null
t1=$(now_ms)
wait_until 600 '[ "$(running)" -ge "$SESSIONS" ]'
t2=$(now_ms)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$op/status")
conflicts=0
[ -s "$DIR/phones/conflicts.log" ] && conflicts=$(wc -l < "$DIR/phones/conflicts.log")
echo "bench-operator: sessions=$SESSIONS workers=$WORKERS per_worker=$PER"
echo "bench-operator: created in $(( t1 - t0 )) ms; all Running $(( t2 - t0 )) ms after the first create"
echo "bench-operator: operator peak RSS $(( rss / 1024 )) MiB; double runs: $conflicts"
echo "reproduce: SESSIONS=$SESSIONS WORKERS=$WORKERS scripts/bench-operator.sh $1"
