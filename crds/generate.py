#!/usr/bin/env python3
"""Generates crds/*.yaml and docs/crd-reference.md from one description of the two schemas.

Why a generator: the Kubernetes sub-schemas (env, tolerations, affinity, secret references) repeat
in several places and every field must carry a description; writing them once keeps the two CRDs
and the reference document from drifting apart. Only the Python standard library is used.

    python3 crds/generate.py           # rewrite the files
    python3 crds/generate.py --check   # exit 1 when a committed file differs (run by CTest)
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

QUANTITY_PATTERN = (r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
                    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SESSION_NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"  # keep equal to api::kSessionNamePattern (names.h)


# ---- small schema builders -------------------------------------------------------------------
def obj(desc, props, required=None, default=None):
    s = {"description": desc, "type": "object", "properties": props}
    if required:
        s["required"] = required
    if default is not None:
        s["default"] = default
    return s


def string(desc, **kw):
    return {"description": desc, "type": "string", **kw}


def integer(desc, fmt="int32", **kw):
    return {"description": desc, "type": "integer", "format": fmt, **kw}


def boolean(desc, **kw):
    return {"description": desc, "type": "boolean", **kw}


def array(desc, items, **kw):
    return {"description": desc, "type": "array", "items": items, **kw}


def string_map(desc):
    return {"description": desc, "type": "object",
            "additionalProperties": {"description": "Value.", "type": "string"}}


def quantity(desc):
    return {"description": desc, "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN, "x-kubernetes-int-or-string": True}


def secret_key_ref(desc):
    return obj(desc, {
        "name": string("Name of a Secret in the same namespace.", minLength=1, maxLength=253,
                       pattern=DNS_SUBDOMAIN),
        "key": string("Key inside the Secret's data.", minLength=1, maxLength=253,
                      pattern=r"^[-._a-zA-Z0-9]+$"),
    }, required=["name", "key"])


def label_selector(desc):
    return obj(desc, {
        "matchLabels": string_map("Labels that must all match exactly."),
        "matchExpressions": array("Set-based requirements; all must hold.", obj(
            "One requirement.", {
                "key": string("Label key."),
                "operator": string("In, NotIn, Exists or DoesNotExist.",
                                   enum=["In", "NotIn", "Exists", "DoesNotExist"]),
                "values": array("Values for In/NotIn; empty for Exists/DoesNotExist.",
                                string("A label value.")),
            }, required=["key", "operator"])),
    })


def node_selector_term(desc):
    req = obj("One node requirement.", {
        "key": string("Node label or field key."),
        "operator": string("How the key relates to the values.",
                           enum=["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]),
        "values": array("Values; a single integer string for Gt/Lt, empty for Exists.",
                        string("A value.")),
    }, required=["key", "operator"])
    return obj(desc, {
        "matchExpressions": array("Requirements on node labels.", req),
        "matchFields": array("Requirements on node fields.", req),
    })


def pod_affinity_term(desc):
    return obj(desc, {
        "labelSelector": label_selector("Pods this term refers to."),
        "namespaceSelector": label_selector("Namespaces whose pods this term refers to."),
        "namespaces": array("Namespaces this term refers to; empty: the pod's own namespace.",
                            string("A namespace name.")),
        "topologyKey": string("Node label that defines the co-location domain "
                              "(e.g. kubernetes.io/hostname).", minLength=1),
        "matchLabelKeys": array("Pod label keys whose values are added to labelSelector.",
                                string("A label key.")),
        "mismatchLabelKeys": array("Pod label keys whose values must differ.",
                                   string("A label key.")),
    }, required=["topologyKey"])


def pod_affinity(desc):
    return obj(desc, {
        "requiredDuringSchedulingIgnoredDuringExecution": array(
            "Hard rules: every term must hold for the pod to be scheduled.",
            pod_affinity_term("A hard term.")),
        "preferredDuringSchedulingIgnoredDuringExecution": array(
            "Soft rules: the scheduler prefers nodes with the highest total weight.",
            obj("A weighted term.", {
                "weight": integer("Weight, 1 to 100.", minimum=1, maximum=100),
                "podAffinityTerm": pod_affinity_term("The term."),
            }, required=["weight", "podAffinityTerm"])),
    })


def affinity():
    return obj("Scheduling constraints for worker pods (Kubernetes core/v1 Affinity), copied into "
               "the pod template unchanged.", {
        "nodeAffinity": obj("Node affinity rules.", {
            "requiredDuringSchedulingIgnoredDuringExecution": obj(
                "Hard rule: at least one term must match.", {
                    "nodeSelectorTerms": array("Terms, ORed.", node_selector_term("A term.")),
                }, required=["nodeSelectorTerms"]),
            "preferredDuringSchedulingIgnoredDuringExecution": array(
                "Soft rules with weights.", obj("A weighted term.", {
                    "weight": integer("Weight, 1 to 100.", minimum=1, maximum=100),
                    "preference": node_selector_term("The term."),
                }, required=["weight", "preference"])),
        }),
        "podAffinity": pod_affinity("Co-locate with matching pods."),
        "podAntiAffinity": pod_affinity("Keep away from matching pods (e.g. spread workers)."),
    })


def env_var():
    return obj("One environment variable (Kubernetes core/v1 EnvVar).", {
        "name": string("Variable name.", minLength=1),
        "value": string("Literal value."),
        "valueFrom": obj("Take the value from elsewhere instead of `value`.", {
            "configMapKeyRef": obj("A key of a ConfigMap.", {
                "name": string("ConfigMap name."),
                "key": string("Key."),
                "optional": boolean("Allow the ConfigMap or key to be missing."),
            }, required=["key"]),
            "secretKeyRef": obj("A key of a Secret.", {
                "name": string("Secret name."),
                "key": string("Key."),
                "optional": boolean("Allow the Secret or key to be missing."),
            }, required=["key"]),
            "fieldRef": obj("A field of the pod (metadata.name, status.podIP, ...).", {
                "apiVersion": string("Schema version of fieldPath; default v1."),
                "fieldPath": string("Path of the field."),
            }, required=["fieldPath"]),
            "resourceFieldRef": obj("A resource request or limit of a container.", {
                "containerName": string("Container name."),
                "resource": string("limits.cpu, requests.memory, ..."),
                "divisor": quantity("Unit of the exposed value; default 1."),
            }, required=["resource"]),
        }),
    }, required=["name"])


def toleration():
    return obj("One toleration (Kubernetes core/v1 Toleration).", {
        "key": string("Taint key; empty with operator Exists matches every taint."),
        "operator": string("Exists or Equal (default Equal).", enum=["Exists", "Equal"]),
        "value": string("Taint value for Equal."),
        "effect": string("Taint effect to match; empty matches all.",
                         enum=["", "NoSchedule", "PreferNoSchedule", "NoExecute"]),
        "tolerationSeconds": integer("For NoExecute: how long the pod stays bound after the "
                                     "taint appears.", fmt="int64"),
    })


def condition():
    return obj("A condition in the metav1.Condition shape.", {
        "type": string("Condition type in CamelCase (Ready, Scheduled, ...).", maxLength=316,
                       pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                               r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"),
        "status": string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
        "observedGeneration": integer("metadata.generation the condition was computed from.",
                                      fmt="int64", minimum=0),
        "lastTransitionTime": string("When status last changed (RFC 3339).", format="date-time"),
        "reason": string("Machine-readable CamelCase reason.", minLength=1, maxLength=1024,
                         pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
        "message": string("Human-readable detail; may be empty.", maxLength=32768),
    }, required=["type", "status", "lastTransitionTime", "reason", "message"])


def conditions():
    return array("Current conditions (metav1.Condition); one entry per type.", condition(),
                 maxItems=32)


# ---- WahaCluster ------------------------------------------------------------------------------
SIZING_NOTE = (
    "Default by engine (WAHA's published sizing, picked on the safe side): WEBJS 10 (it runs a "
    "browser per session: about 0.3 CPU and 250 MB each, and production setups run about 10 per "
    "container), NOWEB 100, GOWS 100 (no browser: WAHA's table gives 100 sessions 4-5 CPU and "
    "5-8 GB). The default is applied by the operator, not by the API server, because it depends "
    "on spec.engine.")
RESOURCES_NOTE = (
    "Compute resources of the WAHA container. When omitted the operator derives them from WAHA's "
    "sizing table for spec.engine and the effective sessionsPerWorker n: CPU and memory are "
    "interpolated linearly between the table rows around n (scaled proportionally beyond the last "
    "row), CPU rounded up to 100m and memory up to 64Mi; those are the requests, the memory limit "
    "is 1.5 times the memory request (an OOM kill drops every session of the worker), and no CPU "
    "limit is set (throttling stalls every session of the worker).")


def cluster_spec():
    return obj("Desired state of a pool of WAHA workers.", {
        "engine": string("WAHA engine every worker runs (WHATSAPP_DEFAULT_ENGINE). WEBJS runs a "
                         "browser per session; NOWEB and GOWS do not. Every worker of a pool runs "
                         "the same engine (shared session storage requires it).",
                         enum=["WEBJS", "NOWEB", "GOWS"], default="NOWEB"),
        "image": string("Container image of the workers (WAHA 2026.6.1 or later).", minLength=1,
                        maxLength=512, default="devlikeapro/waha:latest"),
        "sessionsPerWorker": integer("Most sessions one worker holds: the pool's capacity is "
                                     "sessionsPerWorker x workers. " + SIZING_NOTE,
                                     minimum=1, maximum=1000),
        "workers": obj("Bounds of the worker count; the operator scales between them by load.", {
            "min": integer("Fewest workers, even with no sessions.", minimum=0, maximum=1000,
                           default=1),
            "max": integer("Most workers; also bounds status.workers. Must be >= min.",
                           minimum=1, maximum=1000, default=10),
        }, default={}),
        "apiKeySecretRef": secret_key_ref(
            "Secret key holding the WAHA API key (WHATSAPP_API_KEY of every worker; callers send it "
            "as X-Api-Key). Strongly recommended: without it a worker's API, which can read every "
            "session and its environment, is open to anyone who reaches the pod."),
        "sessionStorage": obj("Where workers keep session (login) data.", {
            "type": string("Local: each worker's own folder, so a session that moves to another "
                           "worker needs a new QR scan. PostgreSQL: shared database, so sessions "
                           "move without re-linking the phone.", enum=["Local", "PostgreSQL"],
                           default="Local"),
            "postgresUrlSecretRef": secret_key_ref(
                "Secret key holding the postgres:// URL (WHATSAPP_SESSIONS_POSTGRESQL_URL). "
                "Required when type is PostgreSQL."),
        }, default={}),
        "resources": obj(RESOURCES_NOTE, {
            "requests": {"description": "Minimum resources (cpu, memory, ...).", "type": "object",
                         "additionalProperties": quantity("A resource quantity.")},
            "limits": {"description": "Maximum resources (cpu, memory, ...).", "type": "object",
                       "additionalProperties": quantity("A resource quantity.")},
        }),
        "env": array("Extra environment variables for the WAHA container, added after the ones "
                     "the operator sets (WAHA_WORKER_ID, API key, storage, ...), which they cannot "
                     "override.", env_var(), maxItems=256),
        "nodeSelector": string_map("Node labels worker pods must be scheduled on."),
        "tolerations": array("Tolerations of worker pods.", toleration(), maxItems=64),
        "affinity": affinity(),
        "podAnnotations": string_map("Extra annotations on worker pods (e.g. for scrapers)."),
        "placement": obj("How new sessions are assigned to workers.", {
            "strategy": string("LeastLoaded: the worker with the fewest sessions (spreads risk). "
                               "BinPack: the fullest worker that still has room (frees workers "
                               "for scale-down).", enum=["LeastLoaded", "BinPack"],
                               default="LeastLoaded"),
        }, default={}),
        "failover": obj("What happens when a worker stops being ready.", {
            "notReadyTimeoutSeconds": integer(
                "Seconds a worker may stay not ready before its sessions are moved elsewhere. "
                "A session never starts on a new worker before the old one is confirmed stopped "
                "or gone: one WhatsApp account, one live connection.",
                minimum=5, maximum=86400, default=60),
        }, default={}),
    }, default={})


def cluster_status():
    return obj("Observed state, written by the operator.", {
        "observedGeneration": integer("metadata.generation the status reflects.", fmt="int64",
                                      minimum=0),
        "replicas": integer("Desired worker count.", minimum=0),
        "readyWorkers": integer("Workers that are ready.", minimum=0),
        "ready": string("readyWorkers/replicas, for printing (kubectl get).", maxLength=32),
        "sessions": integer("Sessions placed on this pool.", minimum=0),
        "capacity": integer("Sessions the ready workers can hold (ready workers x "
                            "sessionsPerWorker).", minimum=0),
        "workers": array("One entry per worker pod, bounded by spec.workers.max (never a "
                         "per-session list: the object must stay far below etcd's 1.5 MiB limit).",
                         obj("One worker.", {
                             "pod": string("Pod name (also WAHA_WORKER_ID).", minLength=1),
                             "ip": string("Pod IP."),
                             "ready": boolean("Pod ready and answering /ping."),
                             "sessions": integer("Sessions assigned to this worker.", minimum=0),
                             "draining": boolean("Being emptied before removal: gets no new "
                                                 "sessions."),
                         }, required=["pod"]), maxItems=1000),
        "conditions": conditions(),
    })


# ---- WahaSession ------------------------------------------------------------------------------
def session_spec():
    return obj("Desired state of one WhatsApp account.", {
        "clusterRef": obj("The WahaCluster (same namespace) whose workers run this session.", {
            "name": string("WahaCluster name.", minLength=1, maxLength=253, pattern=DNS_SUBDOMAIN),
        }, required=["name"]),
        "sessionName": string("Session name inside WAHA (the {session} of its URLs). Default: "
                              "metadata.name (applied by the operator). At most 54 characters "
                              "of A-Z, a-z, 0-9, _ and -; names of WAHA's fixed routes (sessions, "
                              "server, sendText, ...) are rejected. Unique per cluster.",
                              minLength=1, maxLength=54, pattern=SESSION_NAME_PATTERN),
        "state": string("Running: keep the session started. Stopped: keep it stopped (its login "
                        "is kept).", enum=["Running", "Stopped"], default="Running"),
        "deletionPolicy": string("What deleting this resource does to the WhatsApp link. Logout: "
                                 "log out and delete the session in WAHA (the phone must scan a "
                                 "QR code again). Keep: stop and delete it in WAHA but do not "
                                 "log out, so stored login data survives.",
                                 enum=["Logout", "Keep"], default="Logout"),
        "config": {"description": "WAHA session config, passed to WAHA untouched: webhooks, "
                                  "metadata, proxy, debug, noweb and any field newer WAHA "
                                  "releases add. Secrets belong in secretRefs, not here.",
                   "type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "secretRefs": obj("Secret values injected into config before it is sent to WAHA, so they "
                          "never sit in plain text in this resource.", {
            "proxyPassword": secret_key_ref("Becomes config.proxy.password; requires "
                                            "config.proxy.server."),
            "webhookHmacKey": secret_key_ref("Becomes hmac.key of every entry of "
                                             "config.webhooks; requires at least one webhook."),
        }),
    }, required=["clusterRef"])


def session_status():
    return obj("Observed state, written by the operator.", {
        "observedGeneration": integer("metadata.generation the status reflects.", fmt="int64",
                                      minimum=0),
        "phase": string("Lifecycle phase.", enum=["Pending", "Scheduled", "Starting", "Running",
                                                  "Stopped", "Migrating", "Failed",
                                                  "Terminating"]),
        "worker": string("Pod name of the worker the session is assigned to."),
        "workerIP": string("That worker's pod IP."),
        "node": string("Node of that worker."),
        "wahaStatus": string("WAHA's own status (STOPPED, STARTING, SCAN_QR_CODE, WORKING, FAILED, "
                             "or newer values), copied as reported."),
        "me": obj("The linked WhatsApp account, once logged in.", {
            "id": string("Account id, e.g. 79111111@c.us."),
            "pushName": string("Display name."),
        }),
        "epoch": integer("Increments on every placement; the fence that keeps an old worker's "
                         "late reports from being taken for the new one's.", fmt="int64",
                         minimum=0),
        "assignedAt": string("When the current placement was made (RFC 3339).",
                             format="date-time"),
        "message": string("Human-readable detail of the phase.", maxLength=32768),
        "conditions": conditions(),
    })


# ---- CRDs ------------------------------------------------------------------------------------
def root_schema(kind, desc, spec, status, spec_required):
    s = obj(desc, {
        "apiVersion": string("Versioned schema of this object (waha.io/v1alpha1)."),
        "kind": string("Kind of this object (" + kind + ")."),
        # Only type: the API server forbids anything else (even a description) on root metadata.
        "metadata": {"type": "object"},
        "spec": spec,
        "status": status,
    })
    if spec_required:
        s["required"] = ["spec"]
    return s


def column(name, typ, path, desc, priority=0):
    c = {"name": name, "type": typ, "jsonPath": path, "description": desc}
    if priority:
        c["priority"] = priority
    return c


AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def crd(kind, plural, singular, short, desc, spec, status, spec_required, columns):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": plural + ".waha.io"},
        "spec": {
            "group": "waha.io",
            "names": {"kind": kind, "listKind": kind + "List", "plural": plural,
                      "singular": singular, "shortNames": [short], "categories": ["waha"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": root_schema(kind, desc, spec, status,
                                                          spec_required)},
            }],
        },
    }


def cluster_crd():
    return crd("WahaCluster", "wahaclusters", "wahacluster", "wcluster",
               "A pool of WAHA workers that run WhatsApp sessions.", cluster_spec(),
               cluster_status(), False, [
                   column("Engine", "string", ".spec.engine", "WAHA engine."),
                   column("Ready", "string", ".status.ready", "Ready/desired workers."),
                   column("Sessions", "integer", ".status.sessions", "Sessions placed."),
                   column("Capacity", "integer", ".status.capacity", "Sessions the ready "
                          "workers can hold."),
                   AGE,
                   column("Max", "integer", ".spec.workers.max", "Most workers.", 1),
               ])


def session_crd():
    return crd("WahaSession", "wahasessions", "wahasession", "wsession",
               "One WhatsApp account run by a WahaCluster.", session_spec(), session_status(),
               True, [
                   column("Cluster", "string", ".spec.clusterRef.name", "WahaCluster."),
                   column("Worker", "string", ".status.worker", "Worker pod."),
                   column("Phase", "string", ".status.phase", "Lifecycle phase."),
                   column("WAHA", "string", ".status.wahaStatus", "WAHA's own status."),
                   AGE,
                   column("Account", "string", ".status.me.id", "Linked account.", 1),
                   column("Node", "string", ".status.node", "Node of the worker.", 1),
               ])


# ---- a minimal YAML emitter (block style; strings JSON-quoted, which YAML accepts) -----------
def scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str) and v and all(c.isalnum() or c in "._/-" for c in v) \
            and not v[0].isdigit() and v.lower() not in ("true", "false", "null", "yes", "no", "on",
                                                  "off", "y", "n") and not v.startswith("-"):
        return v
    return json.dumps(v)


def emit(v, indent, out):
    pad = "  " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{scalar(k)}:")
                emit(x, indent + 1 if isinstance(x, dict) else indent, out)
            else:
                out.append(f"{pad}{scalar(k)}: {empty_or_scalar(x)}")
    else:
        for x in v:
            if isinstance(x, dict) and x:
                inner = []
                emit(x, indent + 1, inner)
                first = inner[0].lstrip()
                out.append(f"{pad}- {first}")
                out.extend(inner[1:])
            elif isinstance(x, list) and x:
                raise ValueError("nested lists are not used")
            else:
                out.append(f"{pad}- {empty_or_scalar(x)}")


def empty_or_scalar(x):
    if isinstance(x, dict):
        return "{}"
    if isinstance(x, list):
        return "[]"
    return scalar(x)


def to_yaml(doc, header):
    out = [header, "---"]
    emit(doc, 0, out)
    return "\n".join(out) + "\n"


# ---- reference document ----------------------------------------------------------------------
def rows(schema, path, out):
    for name, p in schema.get("properties", {}).items():
        sub = f"{path}.{name}" if path else name
        typ = p.get("type", "int-or-string")
        if typ == "array":
            item = p["items"]
            typ = f"[]{item.get('type', 'int-or-string')}"
        elif "additionalProperties" in p:
            typ = "map[string]" + p["additionalProperties"].get("type", "quantity")
        extra = []
        if "enum" in p:
            extra.append("one of " + ", ".join(f"`{e}`" for e in p["enum"] if e != "") )
        for key, label in (("minimum", "min"), ("maximum", "max"), ("minLength", "minLength"),
                           ("maxLength", "maxLength"), ("maxItems", "maxItems")):
            if key in p:
                extra.append(f"{label} {p[key]}")
        if "pattern" in p and name != "divisor":
            extra.append(f"pattern `{p['pattern']}`")
        required = name in schema.get("required", [])
        default = f"`{json.dumps(p['default'])}`" if "default" in p else ""
        desc = p.get("description", "").replace("|", "\\|")
        if extra:
            desc += " (" + "; ".join(extra).replace("|", "\\|") + ")"
        out.append(f"| `{sub}` | {typ}{' (required)' if required else ''} | {default} | {desc} |")
        if p.get("type") == "object" and "properties" in p:
            rows(p, sub, out)
        elif p.get("type") == "array" and "properties" in p["items"]:
            rows(p["items"], sub + "[]", out)


def reference(crds):
    out = [INTRO.rstrip(), ""]
    for c in crds:
        v = c["spec"]["versions"][0]
        names = c["spec"]["names"]
        out += [f"## {names['kind']} (`{c['spec']['group']}/{v['name']}`, short name "
                f"`{names['shortNames'][0]}`)", "",
                v["schema"]["openAPIV3Schema"]["description"], "",
                "Printer columns: " + ", ".join(
                    col["name"] + (" (wide)" if col.get("priority") else "")
                    for col in v["additionalPrinterColumns"]) + ".", "",
                "| field | type | default | meaning |", "| --- | --- | --- | --- |"]
        root = v["schema"]["openAPIV3Schema"]
        rows({"properties": {k: root["properties"][k] for k in ("spec", "status")},
              "required": root.get("required", [])}, "", out)
        out.append("")
    return "\n".join(out)


INTRO = """# CRD reference: WahaCluster and WahaSession

Generated by `crds/generate.py` (the same source as `crds/*.yaml`); do not edit by hand.
Group `waha.io`, version `v1alpha1`, both namespaced, category `waha` (`kubectl get waha` lists
both). Install with `kubectl apply -f crds/`. The C++ types, defaults and semantic validation live
in `operator/src/api/`.

## Defaults the API server cannot apply

Defaults marked in the tables below are applied by the API server (and identically by
`api::applyDefaults`). Three more are applied by the operator because they depend on other fields:

- `spec.sessionName` of a WahaSession: `metadata.name`.
- `spec.sessionsPerWorker` of a WahaCluster, by engine: WEBJS 10, NOWEB 100, GOWS 100
  (`api::effectiveSessionsPerWorker`).
- `spec.resources` of a WahaCluster (`api::defaultResources(engine, n)`), from WAHA's sizing table:

| sessions | WEBJS | NOWEB | GOWS |
| --- | --- | --- | --- |
| 1 | 300m / 400Mi | 100m / 200Mi | 100m / 200Mi |
| 10 | 3 / 2560Mi | 1 / 2Gi | 500m / 1Gi |
| 50 | 15 / 20Gi | 2 / 4Gi | 1500m / 3Gi |
| 100 | - | 4 / 8Gi | 5 / 5Gi |
| 500 | - | - | 8 / 25Gi |

  For n sessions per worker: below the first row, the first row; between two rows, linear
  interpolation; past the last row, the last row scaled by n / its sessions. CPU is rounded up to
  a multiple of 100m and memory to a multiple of 64Mi. These are the requests; `limits.memory` is
  1.5 x the memory request (rounded up to 64Mi), and no CPU limit is set. Where WAHA gives a range
  (GOWS 100: 3-5 CPU, 500: 5-8 CPU) the upper bound is used. Defaults: WEBJS n=10 ->
  3 CPU / 2560Mi, NOWEB n=100 -> 4 CPU / 8Gi, GOWS n=100 -> 5 CPU / 5Gi.

## Semantic validation (`api::validate`)

What the schema cannot express is checked by the operator (and reported on the object's `Ready`
condition): `spec.workers.min <= spec.workers.max`; `spec.sessionStorage.postgresUrlSecretRef` is
required with `PostgreSQL` storage (and refused with `Local`); `spec.env` may not set a variable
the operator manages (`WAHA_WORKER_ID`, the API key, engine, port, storage URL, restart flags) nor
set one twice; resource requests may not exceed their limits; a WahaCluster name is at most 63
characters (it labels the worker pods, `waha.io/cluster=<name>`); the WahaCluster named by `spec.clusterRef.name` must exist;
the effective session name must match `^[a-zA-Z0-9_-]+$`, be at most 54 characters, not collide
(case-insensitively) with one of WAHA's fixed routes and be unique in its cluster;
`secretRefs.proxyPassword` needs `config.proxy.server` and no plain `config.proxy.password`;
`secretRefs.webhookHmacKey` needs at least one webhook; every `config.webhooks[]` entry needs an
http(s) `url`; `config.metadata` values must be strings.
"""

HEADER = ("# Generated by crds/generate.py from one description of both schemas; edit that file "
          "and re-run it.")


def main():
    crds = [cluster_crd(), session_crd()]
    files = {
        ROOT / "crds" / "waha.io_wahaclusters.yaml": to_yaml(crds[0], HEADER),
        ROOT / "crds" / "waha.io_wahasessions.yaml": to_yaml(crds[1], HEADER),
        ROOT / "docs" / "crd-reference.md": reference(crds),
    }
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in files.items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    for s in stale:
        print(f"stale: {s} (run python3 crds/generate.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
