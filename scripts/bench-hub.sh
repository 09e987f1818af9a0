#!/usr/bin/env bash
# Hub benchmark: wrk at $CONNS connections for $DURATION against (a) one waha-sim worker directly,
# (b) Debian's nginx (proxy_pass, upstream keepalive) in front of it, (c) the hub in front of it.
# The worker and its session come from kube-sim + the operator (one WahaCluster, one worker, one
# WahaSession placed on it), so the hub routes from a real route table. Prints req/s, p99, the
# hub/nginx throughput ratio and the p99 the hub adds over the direct path.
#   scripts/bench-hub.sh [build-dir]          CONNS=64 DURATION=10s THREADS=2 ROUNDS=3 by default
set -euo pipefail
BUILD_DIR="$(cd "${1:-build}" && pwd)"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONNS="${CONNS:-64}"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"
command -v wrk >/dev/null && command -v nginx >/dev/null || {
  echo "bench-hub: needs wrk and nginx (scripts/deps.sh bench)" >&2; exit 1; }
# shellcheck source=scripts/lib/bench-world.sh
source "$ROOT/scripts/lib/bench-world.sh"
bench_world_init bench-hub
bench_start_kube_sim
{ bench_cluster_yaml 10 1; cat <<YAML; } | k apply --validate=false -f - >/dev/null
---
apiVersion: waha.io/v1alpha1
kind: WahaSession
metadata: {name: bench, namespace: default}
spec:
  clusterRef: {name: bench}
  state: Running
YAML
bench_start_operator 127.0.0.1:0
wait_until 60 '[ "$(k get wahasession bench -o jsonpath="{.status.phase}")" = Running ]'
ip=$(k get wahasession bench -o jsonpath='{.status.workerIP}')
worker="$ip:3000"

hub_port=$(free_port)
"$BUILD_DIR/operator/waha-operator" hub --cluster=bench --namespace=default \
  --kubeconfig "$DIR/kubeconfig" --listen "127.0.0.1:$hub_port" \
  --metrics-bind-address 127.0.0.1:0 --threads "$THREADS" --shutdown-delay 0 >"$DIR/hub.log" 2>&1 &
pids+=($!)

nginx_port=$(free_port)
mkdir -p "$DIR/nginx/logs"
cat >"$DIR/nginx/nginx.conf" <<NGINX
worker_processes $THREADS;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/nginx/body;
  proxy_temp_path $DIR/nginx/proxy;
  fastcgi_temp_path $DIR/nginx/fastcgi;
  uwsgi_temp_path $DIR/nginx/uwsgi;
  scgi_temp_path $DIR/nginx/scgi;
  upstream waha { server $worker; keepalive 128; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://waha;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
nginx -e "$DIR/nginx/logs/error.log" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -g 'daemon off;' >"$DIR/nginx/stdout.log" 2>&1 &
pids+=($!)

path=/api/sessions/bench
wait_until 30 "curl -sf -H 'X-Api-Key: bench' http://127.0.0.1:$hub_port$path >/dev/null"
wait_until 10 "curl -sf -H 'X-Api-Key: bench' http://127.0.0.1:$nginx_port$path >/dev/null"

# wrk's "Requests/sec" and the p99 of its latency distribution, in microseconds.
run() {
  local out; out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H 'X-Api-Key: bench' "$1$path")
  local rps; rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  local p99; p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local us; us=$(python3 -c "import re,sys; v,u=re.match(r'([0-9.]+)(us|ms|s)','$p99').groups(); print(round(float(v)*{'us':1,'ms':1e3,'s':1e6}[u]))")
  local errs; errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  echo "$rps $us $errs"
}
# ROUNDS rounds of direct, nginx, hub back to back, so each target sees the machine in the same
# state; the median of each is reported (single runs on 2 shared cores vary by +-10%).
results="$DIR/results"
for r in $(seq 1 "$ROUNDS"); do
  echo "direct $(run "http://$worker")" >>"$results"
  echo "nginx $(run "http://127.0.0.1:$nginx_port")" >>"$results"
  echo "hub $(run "http://127.0.0.1:$hub_port")" >>"$results"
done
echo "bench-hub: wrk -c$CONNS -d$DURATION GET $path, $ROUNDS rounds, medians (one waha-sim worker; proxies with $THREADS threads/workers)"
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    rows.setdefault(parts[0], []).append((float(parts[1]), float(parts[2]), " ".join(parts[3:])))
med = {}
for name in ("direct", "nginx", "hub"):
    rps = statistics.median(r[0] for r in rows[name])
    p99 = statistics.median(r[1] for r in rows[name])
    errs = " ".join(sorted({r[2] for r in rows[name] if r[2]}))
    med[name] = (rps, p99)
    runs = ", ".join(f"{r[0]:.0f}" for r in rows[name])
    print(f"bench-hub: {name:7s} {rps:10.0f} req/s  p99 {p99:6.0f} us  (runs: {runs}) {errs}")
h, n, d = med["hub"], med["nginx"], med["direct"]
print(f"bench-hub: hub/nginx throughput {h[0] / n[0]:.2f}x; p99 added over direct: "
      f"hub {(h[1] - d[1]) / 1000:.2f} ms, nginx {(n[1] - d[1]) / 1000:.2f} ms")
PY
echo "reproduce: CONNS=$CONNS DURATION=$DURATION THREADS=$THREADS ROUNDS=$ROUNDS scripts/bench-hub.sh ${1:-build}"
