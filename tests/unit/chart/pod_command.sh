#!/bin/sh
# kube-sim's --pod-command for the chart install test: the chart's controller pods run the
# waha-operator binary (env from the chart's Deployment, as a kubelet builds it), the worker pods
# the operator creates run waha-sim. Pods share the host's network namespace, so the metrics
# address is the pod's own IP (the flag wins over the chart's WAHA_OPERATOR_METRICS_ADDR), and the
# kubeconfig replaces the in-cluster service account.
image=$1 pod_ip=$2 port=$3 pod=$4 operator=$5 waha_sim=$6 kubeconfig=$7 registry=$8
case "$image" in
  waha-operator-under-test:*)
    exec "$operator" controller --kubeconfig="$kubeconfig" --metrics-bind-address="$pod_ip:$port" ;;
  *)
    exec "$waha_sim" --phone-registry "$registry" --data-dir "$registry/data-$pod" --qr-delay-ms 50 ;;
esac
