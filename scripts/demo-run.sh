#!/usr/bin/env bash
# The local demo: kube-sim (Kubernetes API emulator) whose pods run waha-sim (WAHA worker
# simulator), the operator, a WahaCluster and a few dozen WahaSessions, and the hub (one WAHA
# endpoint for them all); then one worker pod is killed and the sessions move. Ctrl-C stops
# everything it started.
set -euo pipefail
BUILD_DIR="$(cd "${1:-build}" && pwd)"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SESSIONS="${DEMO_SESSIONS:-36}"
API_KEY="demo-key-$RANDOM$RANDOM"
DIR="$(mktemp -d /tmp/waha-demo-XXXXXX)"
KS="$BUILD_DIR/tests/sim/kube/kube-sim"
WS="$BUILD_DIR/tests/sim/waha/waha-sim"
OP="$BUILD_DIR/operator/waha-operator"
pids=()

cleanup() {
  echo
  echo "demo: stopping (state and logs stay in $DIR)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
k() { kubectl --kubeconfig "$DIR/kubeconfig" --cache-dir "$DIR/kube-cache" "$@"; }
# Waits (up to $1 seconds) until `$2` (a shell condition) holds.
wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until eval "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "demo: timed out waiting for: $*" >&2; return 1; fi
    sleep 0.5
  done
}
count_phase() { k get wahasessions -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c "^$1\$" || true; }

say "Starting kube-sim (API emulator); its pods run waha-sim"
mkdir -p "$DIR/phones"
"$KS" --kubeconfig-out "$DIR/kubeconfig" --port-file "$DIR/ports.json" --state-dir "$DIR/state" \
  --pod-ready-delay-ms 300 \
  --pod-command "$WS --phone-registry $DIR/phones --data-dir $DIR/state/data-{podName} --qr-delay-ms 500" \
  >"$DIR/kube-sim.log" 2>&1 &
pids+=($!)
wait_until 20 '[ -s "$DIR/ports.json" ]'

say "Installing the CRDs"
k apply --validate=false -f "$ROOT/crds/"
k wait --for=condition=Established crd/wahaclusters.waha.io crd/wahasessions.waha.io

say "Starting the operator (log: $DIR/operator.log)"
"$OP" controller --kubeconfig "$DIR/kubeconfig" --leader-elect=false \
  --metrics-bind-address 127.0.0.1:0 --worker-sync-interval 1 >"$DIR/operator.log" 2>&1 &
pids+=($!)

HUB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HUB="http://127.0.0.1:$HUB_PORT"
say "Starting the hub for cluster demo on $HUB (log: $DIR/hub.log)"
"$OP" hub --cluster demo --namespace default --kubeconfig "$DIR/kubeconfig" \
  --listen "127.0.0.1:$HUB_PORT" --metrics-bind-address 127.0.0.1:0 --shutdown-delay 0 \
  >"$DIR/hub.log" 2>&1 &
pids+=($!)

say "Applying a WahaCluster (10 sessions per worker, 3 to 8 workers) and $SESSIONS WahaSessions"
k apply --validate=false -f - <<YAML
apiVersion: v1
kind: Secret
metadata: {name: demo-api-key, namespace: default}
stringData: {api-key: $API_KEY}
---
apiVersion: waha.io/v1alpha1
kind: WahaCluster
metadata: {name: demo, namespace: default}
spec:
  engine: NOWEB
  sessionsPerWorker: 10
  workers: {min: 3, max: 8}
  apiKeySecretRef: {name: demo-api-key, key: api-key}
  failover: {notReadyTimeoutSeconds: 10}
YAML
"$ROOT/examples/gen-sessions.sh" "$SESSIONS" demo default | k apply --validate=false -f - >/dev/null
wait_until 120 '[ "$(count_phase Running)" -ge "$SESSIONS" ]'

say "Linking a phone to every session (the simulator's pairing hook stands in for a QR scan)"
k get wahasessions -o jsonpath='{range .items[*]}{.metadata.name} {.status.workerIP}{"\n"}{end}' |
  while read -r name ip; do
    curl -s -o /dev/null -X POST -H "X-Api-Key: $API_KEY" -H 'Content-Type: application/json' \
      -d "{\"pushName\":\"$name\"}" "http://$ip:3000/_sim/sessions/$name/pair"
  done
wait_until 60 '[ "$(k get wahasessions -o jsonpath="{range .items[*]}{.status.wahaStatus}{\"\\n\"}{end}" | grep -c WORKING)" -ge "$SESSIONS" ]'
k get wahaclusters,wahasessions -o wide

say "One WAHA endpoint for every session: the hub routes each call to its session's worker"
wait_until 30 '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "X-Api-Key: $API_KEY" "$HUB/api/sessions")" = 200 ]'
echo "GET $HUB/api/sessions (merged from every worker): $(curl -s -H "X-Api-Key: $API_KEY" "$HUB/api/sessions" | grep -o '"name"' | wc -l) sessions"
for name in load-00001 load-00002 load-00003; do
  worker=$(curl -s -D - -o /dev/null -H "X-Api-Key: $API_KEY" "$HUB/api/sessions/$name" | tr -d '\r' | sed -n 's/^[Xx]-[Ww]aha-[Ww]orker: //p')
  echo "GET $HUB/api/sessions/$name -> answered by worker $worker"
done

victim="$(k get pods -l waha.io/cluster=demo -o jsonpath='{.items[0].metadata.name}')"
say "Killing worker pod $victim: its sessions move to the other workers"
k delete pod "$victim" --wait=false
wait_until 60 '[ -z "$(k get wahasessions -o jsonpath="{range .items[*]}{.status.worker}{\"\\n\"}{end}" | grep -x "$victim")" ] && [ "$(count_phase Running)" -ge "$SESSIONS" ]'
k get wahaclusters,wahasessions -o wide
echo
echo "Moved sessions show a new worker and epoch 2. With Local session storage a moved session needs"
echo "a new QR scan (SCAN_QR_CODE); with PostgreSQL storage it comes back WORKING."
if [ -s "$DIR/phones/conflicts.log" ]; then
  echo "demo: DOUBLE RUN DETECTED (see $DIR/phones/conflicts.log)" >&2
else
  echo "Double-run referee: no session ever ran on two workers at once (conflicts log empty)."
fi

say "Your turn"
cat <<EOF
  export KUBECONFIG=$DIR/kubeconfig
  kubectl get wahaclusters,wahasessions -o wide
  kubectl get pods -o wide
  kubectl describe wahasession load-00001
  $ROOT/examples/gen-sessions.sh 50 demo default | kubectl apply --validate=false -f -
  curl -H 'X-Api-Key: $API_KEY' $HUB/api/sessions          # WAHA's API, through the hub
  curl -H 'X-Api-Key: $API_KEY' $HUB/api/load-00001/auth/qr?format=raw
(--validate=false because the emulator serves no OpenAPI document; see docs/kube-sim.md.)
Press Ctrl-C to stop everything.
EOF
while true; do sleep 3600; done
