# shellcheck shell=bash
# The benchmarks' world, sourced by scripts/bench-*.sh: kube-sim whose pods run waha-sim (one
# shared phone registry, so double runs are counted), the CRDs, a WahaCluster with its API-key
# Secret, and the operator. Everything it starts is stopped, and its directory removed, on exit.
#
#   BUILD_DIR=... ROOT=... ; source "$ROOT/scripts/lib/bench-world.sh"
#   bench_world_init NAME                  DIR=/tmp/waha-NAME-XXXXXX, the exit trap, messages
#   bench_start_kube_sim [kube-sim args]   kube-sim up, CRDs established
#   bench_cluster_yaml PER WORKERS [spec line]   the Secret (api-key "bench") + WahaCluster "bench"
#   bench_start_operator METRICS_ADDR [args]     sets OP_PID
# and the helpers k (kubectl on this world), wait_until SECONDS COMMAND, free_port.

bench_world_init() {
  BENCH_NAME="$1"
  DIR="$(mktemp -d "/tmp/waha-$BENCH_NAME-XXXXXX")"
  pids=()
  trap bench_world_cleanup EXIT
}

bench_world_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}

k() { kubectl --kubeconfig "$DIR/kubeconfig" --cache-dir "$DIR/kube-cache" "$@"; }

wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until eval "$*"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "$BENCH_NAME: timed out: $*" >&2; return 1; }
    sleep 0.2
  done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bench_start_kube_sim() {
  mkdir -p "$DIR/phones"
  "$BUILD_DIR/tests/sim/kube/kube-sim" --kubeconfig-out "$DIR/kubeconfig" --port-file "$DIR/ports.json" \
    --state-dir "$DIR/state" --pod-ready-delay-ms 100 "$@" \
    --pod-command "$BUILD_DIR/tests/sim/waha/waha-sim --phone-registry $DIR/phones --data-dir $DIR/state/d-{podName}" \
    >"$DIR/kube-sim.log" 2>&1 &
  pids+=($!)
  wait_until 20 '[ -s "$DIR/ports.json" ]'
  k apply --validate=false -f "$ROOT/crds/" >/dev/null
  k wait --for=condition=Established crd/wahasessions.waha.io crd/wahaclusters.waha.io >/dev/null
}

bench_cluster_yaml() {
  cat <<YAML
apiVersion: v1
kind: Secret
metadata: {name: bench-key, namespace: default}
stringData: {api-key: bench}
---
apiVersion: waha.io/v1alpha1
kind: WahaCluster
metadata: {name: bench, namespace: default}
spec:
  sessionsPerWorker: $1
  workers: {min: $2, max: $2}
  apiKeySecretRef: {name: bench-key, key: api-key}
${3:+  $3}
YAML
}

bench_start_operator() {
  "$BUILD_DIR/operator/waha-operator" controller --kubeconfig "$DIR/kubeconfig" --leader-elect=false \
    --metrics-bind-address "$1" "${@:2}" >"$DIR/operator.log" 2>&1 &
  OP_PID=$!
  pids+=("$OP_PID")
}
