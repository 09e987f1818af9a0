#!/bin/sh
# Prints N WahaSession manifests for load trials:
#   examples/gen-sessions.sh 500 waha default | kubectl apply -f -
# Sessions are named load-00001 ... and carry metadata so webhooks can tell them apart.
set -eu
if [ $# -lt 1 ] || ! [ "$1" -ge 1 ] 2>/dev/null; then
  echo "usage: $0 N [cluster] [namespace]   (N >= 1)" >&2
  exit 2
fi
n=$1
cluster=${2:-waha}
namespace=${3:-default}
i=1
while [ "$i" -le "$n" ]; do
  name=$(printf 'load-%05d' "$i")
  cat <<YAML
---
apiVersion: waha.io/v1alpha1
kind: WahaSession
metadata:
  name: $name
  namespace: $namespace
  labels:
    waha.io/load-trial: "true"
spec:
  clusterRef:
    name: $cluster
  config:
    metadata:
      trial: load
      index: "$i"
YAML
  i=$((i + 1))
done
