#!/usr/bin/env bash
# Operator benchmark: N WahaSessions created at once on W simulated workers (kube-sim pods running
# waha-sim). Prints the time until all are Running and the operator's peak RSS (VmHWM); with
# FAILOVER=1 it then kills the fullest worker pod and times until its sessions run elsewhere.
#   scripts/bench-operator.sh [build-dir]     SESSIONS=1000 WORKERS=10 PER=ceil(N/W) FAILOVER=0
# Progress is read from the operator's own gauge (waha_operator_sessions{phase="Running"}), so the
# measuring loop costs almost nothing; sessions are created over 8 keep-alive connections
# (scripts/bench-create.py), since kubectl's one-object-per-request pace would dominate.
# FAILOVER=1 adds one spare worker and places with BinPack, so every other worker is full (PER
# sessions) and the killed one's sessions move to the spare: "a full worker lost".
set -euo pipefail
BUILD_DIR="$(cd "${1:-build}" && pwd)"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SESSIONS="${SESSIONS:-1000}"
WORKERS="${WORKERS:-10}"
PER="${PER:-$(( (SESSIONS + WORKERS - 1) / WORKERS ))}"
FAILOVER="${FAILOVER:-0}"
POOL=$WORKERS
STRATEGY=LeastLoaded
if [ "$FAILOVER" = 1 ]; then POOL=$(( WORKERS + 1 )); STRATEGY=BinPack; fi
# shellcheck source=scripts/lib/bench-world.sh
source "$ROOT/scripts/lib/bench-world.sh"
bench_world_init bench
now_ms() { date +%s%3N; }
# A free port for the operator's /metrics (its start-up line is info; the bench logs warnings only).
MPORT=$(free_port)
running() {
  curl -s "http://127.0.0.1:$MPORT/metrics" |
    awk '/^waha_operator_sessions\{.*phase="Running"/ {s += $2} END {print s + 0}'
}

bench_start_kube_sim --log-level warn
bench_cluster_yaml "$PER" "$POOL" "placement: {strategy: $STRATEGY}" | k apply --validate=false -f - >/dev/null
bench_start_operator "127.0.0.1:$MPORT" --worker-sync-interval 2 --session-workers 16 --log-level warn
op=$OP_PID
wait_until 120 '[ "$(k get pods -o jsonpath="{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}" | grep -c True)" -ge "$POOL" ]'
t0=$(now_ms)
python3 "$ROOT/scripts/bench-create.py" "$DIR/ports.json" "$SESSIONS" bench default 8
t1=$(now_ms)
wait_until 900 '[ "$(running)" -ge "$SESSIONS" ]'
t2=$(now_ms)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$op/status")
echo "bench-operator: sessions=$SESSIONS workers=$POOL per_worker=$PER strategy=$STRATEGY"
echo "bench-operator: created in $(( t1 - t0 )) ms; all Running $(( t2 - t0 )) ms after the first create"
if [ "$FAILOVER" = 1 ]; then
  victim=$(k get wahasessions -o jsonpath='{range .items[*]}{.status.worker}{"\n"}{end}' | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
  held=$(k get wahasessions -o jsonpath='{range .items[*]}{.status.worker}{"\n"}{end}' | grep -c "^$victim$")
  t3=$(now_ms)
  k delete pod "$victim" --wait=false >/dev/null
  wait_until 30 '[ "$(running)" -lt "$SESSIONS" ]'
  wait_until 900 '[ "$(running)" -ge "$SESSIONS" ]'
  t4=$(now_ms)
  left=$(k get wahasessions -o jsonpath='{range .items[*]}{.status.worker}{"\n"}{end}' | grep -c "^$victim$" || true)
  echo "bench-operator: failover: worker $victim with $held sessions deleted; all Running again $(( t4 - t3 )) ms later ($left still on it)"
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$op/status")
fi
curl -s "http://127.0.0.1:$MPORT/metrics" | awk '/^controller_runtime_reconcile_total|^rest_client_requests_total/ && $2 > 0 {printf "bench-operator:   %s %s\n", $1, $2}'
conflicts=0
[ -s "$DIR/phones/conflicts.log" ] && conflicts=$(wc -l < "$DIR/phones/conflicts.log")
echo "bench-operator: operator peak RSS $(( rss / 1024 )) MiB; double runs: $conflicts"
echo "reproduce: SESSIONS=$SESSIONS WORKERS=$WORKERS PER=$PER FAILOVER=$FAILOVER scripts/bench-operator.sh ${1:-build}"
