#!/usr/bin/env python3
"""The chart installed for real, on kube-sim instead of a cluster: the rendered manifests (as
`helm install` would send them, CRDs first) applied with kubectl; kube-sim's kubelet runs the
controller Deployment's pods as waha-operator processes with the env the chart sets, and the
worker pods the operator creates as waha-sim. Checks: both replicas Ready through the chart's
/readyz probe, one leader on the chart's Lease in the release namespace, sessions placed and
running, and after the leader's pod is deleted (graceful: the Lease is released) the other
replica leads and places new sessions; no session ever ran twice (waha-sim's conflicts log).
With `watchNamespaces` (once the controller takes a comma-separated list): sessions in the
watched namespaces run, those elsewhere are left alone.

Usage: chart_install_test.py <source dir> <waha-operator> <kube-sim> <waha-sim>
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import yaml

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SRC, OPERATOR, KUBE_SIM, WAHA_SIM = (str(pathlib.Path(p).resolve()) for p in sys.argv[1:5])
sys.argv[1:] = [SRC, OPERATOR]  # check_chart reads these
import check_chart  # noqa: E402

NS = check_chart.RELEASE["Namespace"]
DEADLINE = 90.0


def wait_for(what, condition, timeout=DEADLINE):
    """Polls `condition` until it returns something truthy; fails with `what` at the deadline."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class World:
    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="chart-install-"))
        self.registry = self.dir / "phones"
        self.registry.mkdir()
        self.kubeconfig = self.dir / "kubeconfig"
        command = " ".join([str(HERE / "pod_command.sh"), "{image}", "{podIP}", "{port}", "{podName}",
                            OPERATOR, WAHA_SIM, str(self.kubeconfig), str(self.registry)])
        self.log = open(self.dir / "kube-sim.log", "w")
        self.sim = subprocess.Popen(
            [KUBE_SIM, "--kubeconfig-out", str(self.kubeconfig), "--port-file",
             str(self.dir / "ports.json"), "--pod-command", command, "--pod-ready-delay-ms", "100",
             "--state-dir", str(self.dir / "state")],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for("kube-sim", lambda: (self.dir / "ports.json").exists() and self.kubeconfig.exists())

    def close(self, keep):
        self.sim.send_signal(signal.SIGTERM)
        try:
            self.sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.sim.kill()
            self.sim.wait()
        self.log.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kubectl(self, *args, stdin=None, check=True):
        r = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), "--cache-dir",
                            str(self.dir / "kubectl-cache"), *args],
                           input=stdin, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}")
        return r

    def apply(self, docs):
        self.kubectl("apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump_all(docs))

    def get(self, *args):
        r = self.kubectl("get", *args, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def pods(self, selector):
        got = self.get("pods", "-n", NS, "-l", selector)
        return [p for p in (got or {}).get("items", []) if not p["metadata"].get("deletionTimestamp")]


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except OSError:
        return None, ""


def cluster_and_sessions(first, last, ns="default"):
    docs = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "waha-key", "namespace": ns},
             "stringData": {"api-key": "chart-install-test"}},
            {"apiVersion": "waha.io/v1alpha1", "kind": "WahaCluster",
             "metadata": {"name": "pool", "namespace": ns},
             "spec": {"engine": "NOWEB", "image": "devlikeapro/waha:latest", "sessionsPerWorker": 4,
                      "workers": {"min": 1, "max": 3},
                      "apiKeySecretRef": {"name": "waha-key", "key": "api-key"}}}]
    for i in range(first, last + 1):
        docs.append({"apiVersion": "waha.io/v1alpha1", "kind": "WahaSession",
                     # Unique across namespaces: the simulators share one phone registry.
                     "metadata": {"name": f"{ns}-s{i}", "namespace": ns},
                     "spec": {"clusterRef": {"name": "pool"}}})
    return docs


@unittest.skipUnless(shutil.which("kubectl"), "kubectl missing (scripts/deps.sh installs it)")
class ChartInstall(unittest.TestCase):
    def setUp(self):
        self.world = World()

    def tearDown(self):
        failed = any(e for _, e in (self._outcome.result.errors + self._outcome.result.failures))
        self.world.close(keep=failed or bool(os.environ.get("WAHA_TEST_KEEP_LOGS")))
        if failed:
            print(f"kept {self.world.dir} (kube-sim.log, state/pods/*.log)")

    def phases(self, ns):
        got = self.world.get("wahasessions", "-n", ns) or {"items": []}
        return [s.get("status", {}).get("phase") for s in got["items"]]

    def running(self, count, ns="default"):
        phases = self.phases(ns)
        return len(phases) == count and all(p == "Running" for p in phases)

    def install(self, values):
        """What `helm install` does: CRDs first, then the rendered manifests."""
        w = self.world
        values = check_chart.merge(check_chart.defaults(), values)
        values = check_chart.merge(values, {"image": {"repository": "waha-operator-under-test", "tag": "1"}})
        docs, _ = check_chart.render(values)
        w.kubectl("apply", "--validate=false", "-f", str(pathlib.Path(SRC) / "charts/waha-operator/crds"))
        w.kubectl("wait", "--for=condition=Established", "crd/wahasessions.waha.io", "crd/wahaclusters.waha.io")
        namespaces = {NS, "default", *values["watchNamespaces"]}
        w.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in sorted(namespaces)])
        w.apply(check_chart.all_docs(docs))
        wait_for("ready controller replicas", lambda: (w.get("deployment/waha-waha-operator", "-n", NS) or {})
                 .get("status", {}).get("readyReplicas") == values["replicaCount"])

    def leader_pod(self, pods):
        for p in pods:
            code, text = http_get(f"http://{p['status']['podIP']}:8080/metrics")
            if code == 200 and 'leader_election_master_status{name="waha-operator"} 1' in text:
                return p["metadata"]["name"]
        return None

    def test_install_run_and_fail_over(self):
        w = self.world
        self.install({})
        selector = "app.kubernetes.io/component=controller"
        pods = w.pods(selector)
        self.assertEqual(len(pods), 2)
        for p in pods:
            self.assertEqual(http_get(f"http://{p['status']['podIP']}:8080/healthz")[0], 200)
            self.assertEqual(http_get(f"http://{p['status']['podIP']}:8080/readyz")[0], 200)
        leader = wait_for("a leader", lambda: self.leader_pod(w.pods(selector)))
        lease = w.get("lease", "waha-operator", "-n", NS)
        holder = lease["spec"]["holderIdentity"]
        self.assertTrue(holder)

        w.apply(cluster_and_sessions(1, 6))
        wait_for("6 sessions Running", lambda: self.running(6))

        w.kubectl("delete", "pod", leader, "-n", NS, "--wait=false")
        wait_for("a new Lease holder", lambda: (w.get("lease", "waha-operator", "-n", NS) or {})
                 .get("spec", {}).get("holderIdentity") not in (None, "", holder))
        new_leader = wait_for("a new leader", lambda: self.leader_pod(w.pods(selector)))
        self.assertNotEqual(new_leader, leader)
        w.apply(cluster_and_sessions(7, 9))
        wait_for("9 sessions Running", lambda: self.running(9))

        conflicts = w.registry / "conflicts.log"
        self.assertFalse(conflicts.exists() and conflicts.read_text().strip(), "a session ran twice")

    def test_watch_namespaces(self):
        self.install({"watchNamespaces": ["team-a", "team-b"], "replicaCount": 1})
        self.world.apply(cluster_and_sessions(1, 2, "default") + cluster_and_sessions(1, 3, "team-a")
                         + cluster_and_sessions(1, 2, "team-b"))
        wait_for("team-a's sessions Running", lambda: self.running(3, "team-a"))
        wait_for("team-b's sessions Running", lambda: self.running(2, "team-b"))
        # Not watched: the controller never wrote a status there (checked after the others ran).
        self.assertEqual(self.phases("default"), [None, None])
        conflicts = self.world.registry / "conflicts.log"
        self.assertFalse(conflicts.exists() and conflicts.read_text().strip(), "a session ran twice")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
