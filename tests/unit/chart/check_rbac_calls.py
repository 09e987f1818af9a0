#!/usr/bin/env python3
"""The RBAC lists against the code that needs them: every Kubernetes API call the controller's
and the hub's sources make (KubeClient get/list/create/update/patch/remove/watch on a
ResourceRef constant, and each Informer: list + watch) must be granted by
`waha-operator rbac controller|hub`, and, for the controller, every granted verb must be used
(least privilege), but for the few rules the admission chain needs without a call.

A static scan: it reads the calls' first argument (a ResourceRef constant such as kSessions) and a
"status" subresource argument. A call through a variable (the generic Watcher) is not a
component's own need and is skipped.

Usage: check_rbac_calls.py <source dir> <waha-operator binary>
"""
import pathlib
import re
import subprocess
import sys
import unittest

import yaml

SRC = pathlib.Path(sys.argv[1]).resolve()
BINARY = sys.argv[2]
OPS = pathlib.Path(SRC / "operator" / "src")
# The code each component runs besides its own folder.
COMPONENT_FILES = {
    "controller": ["controller/*.cpp", "controller/*.h", "kube/leader_election.cpp",
                   "kube/event_recorder.cpp"],
    "hub": ["hub/*.cpp", "hub/*.h"],
}
# Granted without a call of the component's own: blockOwnerDeletion on the worker Deployment and
# PDB owner references needs update on the owner's finalizers (OwnerReferencesPermissionEnforcement).
NO_CALL_NEEDED = {("waha.io", "wahaclusters/finalizers", "update")}
VERBS = {"get": "get", "list": "list", "create": "create", "update": "update", "patch": "patch",
         "remove": "delete", "watch": "watch"}
REF = re.compile(r"ResourceRef\s+(k\w+)\s*\{([^}]*)\}")
CALL = re.compile(r"\.(get|list|create|update|patch|remove|watch)\(\s*(k[A-Z]\w*)\s*,")
INFORMER = re.compile(r"Informer>?\(\s*\w+\s*,\s*(k[A-Z]\w*)\s*,")


def constants():
    """api::kGroup and friends: the C++ string constants a ResourceRef may be built from."""
    text = (OPS / "api" / "types.h").read_text()
    return dict(re.findall(r'constexpr const char\*\s+(k\w+)\s*=\s*"([^"]*)"', text))


def files(component):
    out = []
    for pattern in COMPONENT_FILES[component]:
        out += sorted(OPS.glob(pattern))
    return out


def resource_refs(paths, consts):
    refs = {}
    for path in list(paths) + sorted(OPS.glob("controller/kinds.h")):
        for name, body in REF.findall(path.read_text()):
            parts = [p.strip() for p in body.split(",")]
            value = [consts.get(p.split("::")[-1], p.strip('"')) for p in parts[:3]]
            refs[name] = (value[0], value[2])
    return refs


def call_args(text, start):
    """The text of a call's arguments, from the '(' at start to its matching ')'."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    return text[start + 1:]


def used_permissions(component):
    consts = constants()
    paths = files(component)
    refs = resource_refs(paths, consts)
    used = set()
    for path in paths:
        text = path.read_text()
        for m in CALL.finditer(text):
            verb, ref = m.groups()
            if ref not in refs:
                continue
            group, resource = refs[ref]
            args = call_args(text, m.start() + len(verb) + 1)
            if '"status"' in args:
                resource += "/status"
            used.add((group, resource, VERBS[verb]))
        for ref in INFORMER.findall(text):
            group, resource = refs[ref]
            used |= {(group, resource, "list"), (group, resource, "watch")}
    return used


def granted_permissions(component):
    rules = yaml.safe_load(subprocess.run([BINARY, "rbac", component], check=True,
                                          capture_output=True, text=True).stdout)
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}


class RbacCoversCalls(unittest.TestCase):
    def test_scan_finds_the_controller_calls(self):
        used = used_permissions("controller")
        for p in [("waha.io", "wahasessions/status", "update"), ("", "pods", "delete"),
                  ("coordination.k8s.io", "leases", "update"), ("", "events", "create"),
                  ("apps", "deployments", "watch")]:
            self.assertIn(p, used)

    def test_every_call_is_granted(self):
        for component in COMPONENT_FILES:
            with self.subTest(component):
                missing = used_permissions(component) - granted_permissions(component)
                self.assertFalse(sorted(missing), f"add to {component}/rbac.cpp")

    def test_controller_grants_nothing_unused(self):
        unused = granted_permissions("controller") - used_permissions("controller") - NO_CALL_NEEDED
        self.assertFalse(sorted(unused), "remove from controller/rbac.cpp")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
