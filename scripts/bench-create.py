#!/usr/bin/env python3
"""Creates N WahaSessions as fast as one client reasonably can (the operator benchmark's load).

kubectl creates one object per request and needs about 4 ms each; this uses T threads, each with
its own keep-alive connection to kube-sim's plain-HTTP port, so creation does not dominate what
the benchmark measures. Usage: bench-create.py PORTS_JSON N CLUSTER NAMESPACE [THREADS]
"""
import http.client
import json
import sys
import threading


def main() -> int:
    ports = json.load(open(sys.argv[1]))
    n, cluster, ns = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    path = f"/apis/waha.io/v1alpha1/namespaces/{ns}/wahasessions"
    headers = {"Authorization": f"Bearer {ports['token']}", "Content-Type": "application/json"}
    failures = []

    def worker(first: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", ports["http"], timeout=60)
        for i in range(first, n + 1, threads):
            body = {"apiVersion": "waha.io/v1alpha1", "kind": "WahaSession",
                    "metadata": {"name": f"load-{i:05d}", "namespace": ns,
                                 "labels": {"waha.io/load-trial": "true"}},
                    "spec": {"clusterRef": {"name": cluster}}}
            conn.request("POST", path, json.dumps(body), headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                failures.append(f"load-{i:05d}: HTTP {resp.status}")

    pool = [threading.Thread(target=worker, args=(t + 1,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for f in failures[:5]:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
